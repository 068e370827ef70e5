"""The `update-estimate` command: parse, call the library, render. No statistics live here."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.core

from update_estimate import __version__, logs
from update_estimate.errors import EXIT_CODE_HELP, EstimateError, ExitCode, UsageError
from update_estimate.paths import default_cache_dir, default_db

VARIADIC = ("--plugins", "-p", "--done", "--metrics")
EPILOG = "Exit codes: " + "; ".join(f"{int(c)} {text}" for c, text in EXIT_CODE_HELP.items())


def expand_variadic(args: list[str]) -> list[str]:
    """Let `--plugins apt snap` mean `--plugins apt --plugins snap`, and accept `apt,snap`.

    An option given with no value at all becomes an empty value, which the command rejects.
    """
    out: list[str] = []
    current: str | None = None
    empty = False

    def close() -> None:
        if current is not None and empty:
            out.extend((current, ""))

    for arg in args:
        if arg.startswith("-") and arg != "-":
            close()
            current, empty = (arg, True) if arg in VARIADIC else (None, False)
            if current is None:
                out.append(arg)
        elif current is not None:
            empty = False
            for value in arg.split(","):
                if value.strip():
                    out.extend((current, value.strip()))
        else:
            out.append(arg)
    close()
    return out


LOG_FLAGS = {"-v": 1, "--verbose": 1, "-vv": 2, "-vvv": 3, "-q": -9, "--quiet": -9}


class VariadicCommand(typer.core.TyperCommand):
    """A subcommand that takes variadic options and the logging flags after its name too."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        settings = ctx.find_root().meta.setdefault("logs", {"verbosity": 0, "json": False})
        rest = []
        for arg in args:
            if arg in LOG_FLAGS:
                settings["verbosity"] += LOG_FLAGS[arg]
            elif arg == "--log-json":
                settings["json"] = True
            else:
                rest.append(arg)
        logs.configure(max(settings["verbosity"], -1), settings["json"])
        return super().parse_args(ctx, expand_variadic(rest))


app = typer.Typer(
    name="update-estimate",
    help=(
        "Forecast how long an update-all run will take and what it will cost (wall-clock time, "
        "CPU time, peak memory, download size), per plugin and in total, with calibrated "
        "intervals learned from update-all's DuckDB history."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    epilog=EPILOG,
)

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"update-estimate: error: {message}", err=True)
    return typer.Exit(code)


def handles_errors(func: F) -> F:
    """Turn library errors into one line on stderr and their exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EstimateError as exc:
            raise _fail(str(exc), int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            logs.get("cli").debug("internal error", exc_info=True)
            raise _fail(
                f"internal error: {type(exc).__name__}: {exc} (run with -vv for details)",
                int(ExitCode.INTERNAL),
            ) from None

    return wrapper  # type: ignore[return-value]


def command(**kwargs: Any) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return app.command(cls=VariadicCommand, epilog=EPILOG, **kwargs)(handles_errors(func))

    return decorate


def _version(value: bool) -> None:
    if value:
        typer.echo(f"update-estimate {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log detail on stderr: -v, -vv.")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors on stderr (for cron).")
    ] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Logs on stderr as JSON lines, e.g. for journald.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    settings = {"verbosity": -9 if quiet else verbose, "json": log_json}
    ctx.meta["logs"] = settings
    logs.configure(max(settings["verbosity"], -1), log_json)


DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        envvar="UPDATE_ESTIMATE_DB",
        default_factory=default_db,
        show_default="$XDG_DATA_HOME/update-all/history.duckdb",
        help="History file written by update-all, e.g. --db ~/history.duckdb.",
    ),
]
CacheOption = Annotated[
    Path,
    typer.Option(
        "--cache-dir",
        envvar="UPDATE_ESTIMATE_CACHE_DIR",
        default_factory=default_cache_dir,
        show_default="$XDG_CACHE_HOME/update-estimate",
        help="Where train stores models and estimate reads them, e.g. --cache-dir /tmp/ue-cache.",
    ),
]
PluginsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--plugins",
        "-p",
        help="Plugins to include (default: all in the history), e.g. --plugins apt snap flatpak.",
    ),
]
HostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        help="Only this host's runs (repeatable; default: every host, each on its own), "
        "e.g. --host laptop.",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")
]


def _plugins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    cleaned = [v for v in values if v]
    if not cleaned:
        raise UsageError("--plugins needs at least one plugin name, e.g. --plugins apt snap")
    return cleaned


@command()
def simulate(
    db: Annotated[Path, typer.Option("--db", help="File to create, e.g. --db /tmp/demo.duckdb.")],
    plugins: PluginsOption = None,
    runs: Annotated[
        int, typer.Option(min=1, max=100_000, help="Runs per host, e.g. --runs 300.")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same history.")] = 0,
    hosts: Annotated[int, typer.Option(min=1, max=50, help="Number of hosts, e.g. --hosts 2.")] = 1,
    scenario: Annotated[
        str,
        typer.Option(
            help="Generating scenario: realistic, steady, trend, level-shift, slow-network, "
            "sparse or bursty, e.g. --scenario trend."
        ),
    ] = "realistic",
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Write a realistic synthetic update-all history (schema v1), for demos, tests and benchmarks.

    Example: update-estimate simulate --db /tmp/demo.duckdb --runs 200 --hosts 2 --seed 1
    """
    from update_estimate import simulate as sim

    if scenario not in sim.SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}; choose from {', '.join(sim.SCENARIOS)}")
    if db.exists() and not force:
        raise UsageError(f"{db} exists; pass --force to replace it")
    chosen = tuple(_plugins(plugins) or sim.DEFAULT_PLUGINS)
    tables = sim.generate(chosen, runs=runs, seed=seed, hosts=hosts, scenario_name=scenario)
    tmp = db.with_name(db.name + ".tmp")
    tmp.unlink(missing_ok=True)
    sim.write(tables, tmp)
    tmp.replace(db)
    logs.get("simulate").info(
        "history written", path=str(db), runs=len(tables.runs["run_id"]), plugins=len(chosen)
    )


@command()
def validate(
    db: DbOption,
    plugins: PluginsOption = None,
    host: HostOption = None,
    json_out: JsonOption = False,
) -> None:
    """Report the history's data quality per host, plugin and metric, with a verdict.

    Exits 0 when at least one series is usable, 8 when none is.
    Example: update-estimate validate --db history.duckdb --plugins apt snap --json
    """
    from update_estimate import history, render, validation

    hist = history.read(db, hosts=host, plugins=_plugins(plugins))
    report = validation.validate(hist)
    if json_out:
        typer.echo(render.validation_json(report))
    else:
        render.print_table(render.validation_table(report))
    if not report.any_usable:
        raise _fail("no series has enough data to be usable", int(ExitCode.NOTHING_USABLE))


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
