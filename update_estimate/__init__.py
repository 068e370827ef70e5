"""update-estimate: calibrated forecasts of update-all runs from their DuckDB history."""

__version__ = "0.10.0"
