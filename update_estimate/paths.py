"""Default locations, from the XDG base directories and this tool's environment variables."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "UPDATE_ESTIMATE_DB"
CACHE_ENV = "UPDATE_ESTIMATE_CACHE_DIR"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_db() -> Path:
    """update-all's own history file, unless UPDATE_ESTIMATE_DB names another."""
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    return _xdg("XDG_DATA_HOME", ".local/share") / "update-all" / "history.duckdb"


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return _xdg("XDG_CACHE_HOME", ".cache") / "update-estimate"
