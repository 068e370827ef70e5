"""Fitting (numpy, pandas, darts): series from the history, the candidate models, their race,
calibration, `train` and `backtest`. It writes forecast records (`update_estimate.record`)."""
