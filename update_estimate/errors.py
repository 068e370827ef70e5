"""Errors a user can cause or meet, each with its own documented exit code.

The CLI turns any `EstimateError` into one line on stderr and its exit code, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    HISTORY_MISSING = 3
    NOT_DUCKDB = 4
    SCHEMA_INVALID = 5
    SCHEMA_NEWER = 6
    DB_LOCKED = 7
    NOTHING_USABLE = 8
    TRAIN_LOCKED = 9
    NO_DATA = 10
    INTERRUPTED = 130
    TERMINATED = 143


EXIT_CODE_HELP: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "unexpected internal error (a bug: please report it with -vv output)",
    ExitCode.USAGE: "bad command-line usage or malformed input (options, --covariates JSON)",
    ExitCode.HISTORY_MISSING: "the history file does not exist",
    ExitCode.NOT_DUCKDB: "the history file is not a DuckDB database",
    ExitCode.SCHEMA_INVALID: "the history lacks tables or columns of schema v1",
    ExitCode.SCHEMA_NEWER: "the history has a newer schema version than this tool reads",
    ExitCode.DB_LOCKED: "the history is locked by a writing process (update-all) and stayed locked",
    ExitCode.NOTHING_USABLE: (
        "validate: no series has enough data to be usable; backtest: no run has enough runs "
        "before it to be judged"
    ),
    ExitCode.TRAIN_LOCKED: "train: another train holds the cache lock",
    ExitCode.NO_DATA: "the history holds no executions for the requested hosts or plugins",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGINT); worker processes are stopped",
    ExitCode.TERMINATED: "terminated (SIGTERM); worker processes are stopped",
}


class EstimateError(Exception):
    """A failure with a message meant for the user and an exit code meant for scripts."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class HistoryMissing(EstimateError):
    exit_code = ExitCode.HISTORY_MISSING


class NotDuckDB(EstimateError):
    exit_code = ExitCode.NOT_DUCKDB


class SchemaInvalid(EstimateError):
    exit_code = ExitCode.SCHEMA_INVALID


class SchemaNewer(EstimateError):
    exit_code = ExitCode.SCHEMA_NEWER


class DatabaseLocked(EstimateError):
    exit_code = ExitCode.DB_LOCKED


class TrainLocked(EstimateError):
    exit_code = ExitCode.TRAIN_LOCKED


class NoData(EstimateError):
    exit_code = ExitCode.NO_DATA


class NothingUsable(EstimateError):
    """Too little history for the command's answer (a backtest with no run to judge)."""

    exit_code = ExitCode.NOTHING_USABLE


class UsageError(EstimateError):
    exit_code = ExitCode.USAGE
