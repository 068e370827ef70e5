"""Serving, with the standard library only: forecast records in, calibrated estimates, joint
totals and remaining time out. `estimate` answers from here without numpy, pandas or darts."""
