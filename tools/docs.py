"""Shell completions and the man page, generated from the CLI's own definitions.

Kept in the package so `make completions`, `make man` and the tests that check the committed
files are current all use one generator.
"""

from __future__ import annotations

from typing import Any

from update_estimate import __version__
from update_estimate.errors import EXIT_CODE_HELP

SHELLS = {
    "bash": "update-estimate.bash",
    "zsh": "update-estimate.zsh",
    "fish": "update-estimate.fish",
}
PROG = "update-estimate"
COMPLETE_VAR = "_UPDATE_ESTIMATE_COMPLETE"
DATE = "2026-12"

ENVIRONMENT = (
    ("UPDATE_ESTIMATE_DB", "History file (default $XDG_DATA_HOME/update-all/history.duckdb)."),
    ("UPDATE_ESTIMATE_CACHE_DIR", "Model cache (default $XDG_CACHE_HOME/update-estimate)."),
    ("UPDATE_ESTIMATE_HOST", "Host whose runs estimate forecasts (default: this machine)."),
    ("XDG_DATA_HOME, XDG_CACHE_HOME", "The XDG base directories the defaults derive from."),
    ("NO_COLOR", "No colour in tables (also off when stdout is not a terminal)."),
)
FILES = (
    ("$XDG_DATA_HOME/update-all/history.duckdb", "update-all's history; opened read-only."),
    ("$XDG_CACHE_HOME/update-estimate/current", "Symlink to the current cache generation."),
    ("$XDG_CACHE_HOME/update-estimate/train.lock", "Held by a running train."),
)
EXAMPLES = (
    (
        "Estimate the next run of three plugins as JSON:",
        "update-estimate estimate --plugins apt snap flatpak --json",
    ),
    (
        "Sharpen it with what the plugins reported after their check phase:",
        'echo \'{"apt": {"package_count": 12}}\' | update-estimate estimate --covariates - --json',
    ),
    (
        "Remaining time while snap runs, apt done:",
        "update-estimate estimate --at 2026-11-28T09:00 --done apt --running snap --elapsed 42",
    ),
    ("Train quietly from cron:", "update-estimate -q train"),
    (
        "A demo history and its quality report:",
        "update-estimate simulate --db d.duckdb && update-estimate validate --db d.duckdb",
    ),
)


def completion_script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)


def _roff(text: str) -> str:
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        ("\\&" + line) if line.startswith((".", "'")) else line for line in escaped.splitlines()
    )


def _option_line(param: Any) -> tuple[str, str]:
    names = ", ".join(f"\\fB{_roff(n)}\\fR" for n in [*param.opts, *param.secondary_opts])
    if not param.is_flag and not getattr(param, "count", False):
        names += f" \\fI{param.name.upper()}\\fR"
    return names, _roff(param.help or "")


def man_page() -> str:
    import typer.main

    from update_estimate.events import PROTOCOL
    from update_estimate.face.cli import app

    group = typer.main.get_command(app)
    lines = [
        f'.TH UPDATE-ESTIMATE 1 "{DATE}" "update-estimate {__version__}" "User Commands"',
        ".SH NAME",
        "update\\-estimate \\- how long an update\\-all run will take, and what it will cost",
        ".SH SYNOPSIS",
        "\\fBupdate\\-estimate\\fR [\\fB\\-v\\fR|\\fB\\-q\\fR] [\\fB\\-\\-log\\-json\\fR] "
        "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        _roff(group.help or ""),
        ".SH GLOBAL OPTIONS",
    ]
    for param in group.params:
        if param.opts[0].endswith("-completion") or param.name == "help":
            continue
        names, text = _option_line(param)
        lines += [".TP", names, text]
    lines.append(".SH COMMANDS")
    for name, command in sorted(group.commands.items()):
        doc = (command.help or "").strip()
        lines += [".SS " + name, _roff(doc.split("\n\n")[0].strip()), ".PP"]
        rest = "\n\n".join(doc.split("\n\n")[1:]).strip()
        if rest:
            lines += [_roff(rest), ".PP"]
        for param in command.params:
            if param.name == "help" or not getattr(param, "opts", None):
                continue
            names, text = _option_line(param)
            lines += [".TP", names, text]
    lines += [
        ".SH EVENTS",
        _roff(
            "update-estimate track reads one JSON object per line on stdin, e.g. "
            '{"event": "phase_start", "time": "2026-11-21T09:00:11", "plugin": "apt", '
            '"phase": "DOWNLOAD"}. Every event may carry time (ISO 8601, local time; default: '
            "when it is read). A line that is not a valid event gets one error line on stderr "
            "and the run goes on. The events, their fields, and when update-all sends them:"
        ),
    ]
    for kind, fields, when in PROTOCOL:
        lines += [".TP", f"\\fB{kind}\\fR" + (f" {_roff(fields)}" if fields else ""), _roff(when)]
    lines.append(".SH EXIT STATUS")
    for code, text in EXIT_CODE_HELP.items():
        lines += [".TP", f"\\fB{int(code)}\\fR", _roff(text)]
    lines.append(".SH ENVIRONMENT")
    for var, text in ENVIRONMENT:
        lines += [".TP", f"\\fB{_roff(var)}\\fR", _roff(text)]
    lines.append(".SH FILES")
    for path, text in FILES:
        lines += [".TP", f"\\fI{_roff(path)}\\fR", _roff(text)]
    lines.append(".SH EXAMPLES")
    for text, example in EXAMPLES:
        lines += [".PP", _roff(text), ".PP", ".RS", ".nf", _roff(example), ".fi", ".RE"]
    return "\n".join(lines) + "\n"
