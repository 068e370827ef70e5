"""structlog to stderr: readable on a terminal, JSON lines for machines; stdout is for results.

structlog (and the Rich it pulls in) is imported only when a message passes the level filter,
so `estimate`'s warm path pays nothing for logging it does not do.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class _Settings:
    level: int = logging.WARNING
    json: bool = False
    configured: bool = False


_SETTINGS = _Settings()  # process-wide, like the logging configuration it stands for


def configure(verbosity: int = 0, json_logs: bool = False) -> None:
    """verbosity: -1 quiet (errors only), 0 warnings, 1 info, 2 debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    _SETTINGS.level, _SETTINGS.json, _SETTINGS.configured = level, json_logs, False


def _structlog() -> Any:
    import structlog

    if not _SETTINGS.configured:
        renderer: Any
        if _SETTINGS.json:
            renderer = structlog.processors.JSONRenderer()
        else:
            renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), pad_event_to=0)
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=False),
                structlog.processors.format_exc_info,
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(_SETTINGS.level),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=False,
        )
        _SETTINGS.configured = True
    return structlog


@dataclass(frozen=True)
class Logger:
    name: str

    def _emit(self, level: int, method: str, event: str, **fields: Any) -> None:
        if level >= _SETTINGS.level:
            getattr(_structlog().get_logger(self.name), method)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, "debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, "info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, "warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, "error", event, **fields)


def get(name: str) -> Logger:
    return Logger(name)
