"""The `update-estimate` command: parse, call the library, render. No statistics live here."""

from __future__ import annotations

import contextlib
import functools
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.core

from update_estimate import __version__, logs
from update_estimate.errors import EXIT_CODE_HELP, EstimateError, ExitCode, UsageError
from update_estimate.paths import default_cache_dir, default_db
from update_estimate.record import METRICS
from update_estimate.requests import (
    MAX_JOBS,
    BacktestRequest,
    EstimateRequest,
    SimulateRequest,
    TrainRequest,
    ValidateRequest,
    check_level,
    parse_at,
)

VARIADIC = ("--plugins", "-p", "--done", "--metrics")
EPILOG = "Exit codes: " + "; ".join(f"{int(c)} {text}" for c, text in EXIT_CODE_HELP.items())


def expand_variadic(args: list[str]) -> list[str]:
    """Let `--plugins apt snap` mean `--plugins apt --plugins snap`, and accept `apt,snap`.

    An option given with no value at all, or only blank ones (`--plugins ""` wrote every
    plugin), becomes an empty value, which the command rejects.
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
            for value in arg.split(","):
                if value.strip():
                    out.extend((current, value.strip()))
                    empty = False
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
    suggest_commands=False,  # click suggests already; both said it twice
    rich_markup_mode=None,
    epilog=EPILOG,
)

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"update-estimate: error: {message}", err=True)
    return typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the work is, so it unwinds as Ctrl-C does and stops workers."""


def _stopped_by(exc: BaseException, terminated: bool) -> ExitCode | None:
    """The exit code of a signal that `exc` unwinds from: a library may turn the interrupt
    it meets into an error of its own (a worker pool broken by it), and that error is then
    the signal's, not an internal one. `terminated`: a SIGTERM arrived."""
    if terminated:
        return ExitCode.TERMINATED
    chain: list[BaseException] = []
    at: BaseException | None = exc
    while at is not None and at not in chain:
        chain.append(at)
        at = at.__cause__ or at.__context__
    return ExitCode.INTERRUPTED if any(isinstance(e, KeyboardInterrupt) for e in chain) else None


def _stop_workers() -> None:
    """Kill joblib's worker processes now: left alone they outlive us by minutes. A signal
    that lands while the pool starts leaves it unable to shut down (its manager thread never
    ran); its workers then end with us, as their pipes close."""
    if "joblib" not in sys.modules:
        return
    from joblib.externals.loky import get_reusable_executor

    try:
        get_reusable_executor().shutdown(wait=False, kill_workers=True)
    except RuntimeError:
        logs.get("cli").debug("worker pool would not shut down", exc_info=True)


def handles_errors(func: F) -> F:
    """Turn library errors into one line on stderr and their exit code; never a traceback.
    SIGTERM and Ctrl-C stop the worker processes too, and exit 143 and 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        received: list[int] = []

        def terminate(signum: int, frame: Any) -> None:
            received.append(signum)
            raise Terminated

        previous = signal.signal(signal.SIGTERM, terminate)
        try:
            return func(*args, **kwargs)
        except EstimateError as exc:
            raise _fail(str(exc), int(exc.exit_code)) from None
        except (typer.Exit, typer.Abort):
            raise
        except (KeyboardInterrupt, Exception) as exc:
            stopped = _stopped_by(exc, bool(received))
            if stopped is not None:
                _stop_workers()
                word = "terminated" if stopped == ExitCode.TERMINATED else "interrupted"
                raise _fail(word, int(stopped)) from None
            logs.get("cli").debug("internal error", exc_info=True)
            raise _fail(
                f"internal error: {type(exc).__name__}: {exc} (run with -vv for details)",
                int(ExitCode.INTERNAL),
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)

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
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="More log detail on stderr, e.g. -v for info, -vv for debug.",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Only errors on stderr, e.g. update-estimate -q train from cron."
        ),
    ] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Logs on stderr as JSON lines, e.g. for journald.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit, e.g. update-estimate --version.",
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


def _json_option(example: str) -> Any:
    return typer.Option(
        "--json",
        help=f"Print one JSON document on stdout instead of a table, e.g. --json | jq {example}.",
    )


ValidateJson = Annotated[bool, _json_option("'.series[] | select(.verdict != \"usable\")'")]
TrainJson = Annotated[bool, _json_option(".unchanged")]
EstimateJson = Annotated[bool, _json_option(".total")]
BacktestJson = Annotated[bool, _json_option(".rows")]


def _plugins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    cleaned = [v for v in values if v]
    if not cleaned:
        raise UsageError("--plugins needs at least one plugin name, e.g. --plugins apt snap")
    return cleaned


@command()
def simulate(
    ctx: typer.Context,
    db: Annotated[Path, typer.Option("--db", help="File to create, e.g. --db /tmp/demo.duckdb.")],
    plugins: PluginsOption = None,
    runs: Annotated[
        int, typer.Option(min=1, max=100_000, help="Runs per host, e.g. --runs 300.")
    ] = 300,
    seed: Annotated[
        int, typer.Option(help="Random seed; same seed, same history, e.g. --seed 7.")
    ] = 0,
    hosts: Annotated[
        int, typer.Option(min=1, max=1000, help="Number of hosts, e.g. --hosts 2.")
    ] = 1,
    scenario: Annotated[
        str,
        typer.Option(
            help="Generating scenario: realistic, steady, trend, level-shift, slow-network, "
            "sparse, bursty, check-only (most runs of some plugins have nothing to do), "
            "late-plugins (the last two plugins join halfway), jump (work x1.8 for good) or "
            "noisy-reports, e.g. --scenario check-only."
        ),
    ] = "realistic",
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_JOBS,
            help="Plugins run at once: 1 runs them one after another; more runs them side by "
            "side as update-all's parallel orchestrator does (phase mutexes such as apt's "
            "dpkg lock, two downloads at once sharing the line), e.g. --jobs 4.",
        ),
    ] = 1,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the file if it exists, e.g. simulate --db demo.duckdb --force."
        ),
    ] = False,
) -> None:
    """Write a realistic synthetic update-all history (schema v1), for demos, tests and benchmarks.

    Example: update-estimate simulate --db /tmp/demo.duckdb --runs 200 --hosts 2 --seed 1
    """
    from update_estimate import api
    from update_estimate.face import render

    request = SimulateRequest(db, _plugins(plugins), runs, seed, hosts, scenario, force, jobs)
    written = api.simulate(request)
    chosen = written.plugins
    logs.get("simulate").info(
        "history written", path=str(db), runs=written.runs, plugins=len(chosen)
    )
    _summary(
        ctx,
        f"wrote {render.counted(written.runs, 'run')} of {render.counted(len(chosen), 'plugin')} "
        f"to {db} "
        f"(scenario {scenario}, seed {seed}{f', {jobs} plugins at once' if jobs > 1 else ''})",
    )


@command()
def validate(
    ctx: typer.Context,
    db: DbOption,
    plugins: PluginsOption = None,
    host: HostOption = None,
    json_out: ValidateJson = False,
) -> None:
    """Report the history's data quality per host, plugin and metric, with a verdict.

    Exits 0 when at least one series is usable, 8 when none is.
    Example: update-estimate validate --db history.duckdb --plugins apt snap --json
    """
    from update_estimate import api
    from update_estimate.face import render

    report = api.validate(ValidateRequest(db, _plugins(plugins), host))
    _warn(ctx, "validate", report.warnings)
    if json_out:
        typer.echo(render.validation_json(report))
    else:
        render.print_table(render.validation_table(report), _stdout_console())
    why = report.why_nothing_usable()
    if why is not None:
        raise _fail(why, int(ExitCode.NOTHING_USABLE))


@contextlib.contextmanager
def _progress(ctx: typer.Context, json_out: bool, what: str) -> Iterator[Any]:
    """A Rich progress bar on stderr while the block runs, when a person is watching (not
    under cron, -q or --json); yields its `update(done, total)` or None."""
    if not sys.stderr.isatty() or _quiet(ctx) or json_out:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "eta",
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(what, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    bar.start()
    try:
        yield update
    finally:
        bar.stop()


def _verbosity(ctx: typer.Context) -> int:
    return int(ctx.find_root().meta.get("logs", {}).get("verbosity", 0))


def _quiet(ctx: typer.Context) -> bool:
    return _verbosity(ctx) < 0


def _warn(ctx: typer.Context, name: str, warnings: list[str]) -> None:
    """Warnings as plain sentences on stderr; `-v` and `--log-json` keep the structured form."""
    structured = _verbosity(ctx) > 0 or ctx.find_root().meta.get("logs", {}).get("json")
    for warning in warnings:
        if structured:
            logs.get(name).warning(warning)
        elif not _quiet(ctx):
            typer.echo(f"update-estimate: warning: {warning}", err=True)


def _summary(ctx: typer.Context, line: str) -> None:
    """One line on stderr for a person at a terminal; nothing under cron, a pipe or -q."""
    if sys.stderr.isatty() and not _quiet(ctx):
        typer.echo(f"update-estimate: {line}", err=True)


def _stdout_console() -> Any:
    """A terminal gets its own width; a pipe or a log is not wrapped at Rich's default 80."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)


TrainNJobsOption = Annotated[
    int,
    typer.Option(
        "--n-jobs", "-j", min=1, max=64, help="Parallel worker processes, e.g. --n-jobs 2."
    ),
]
EngineOption = Annotated[
    str,
    typer.Option(
        envvar="UPDATE_ESTIMATE_ENGINE",
        help="Where the per-series work runs: local (worker processes here), dask or ray (an "
        "existing cluster at --scheduler; needs the dask or ray extra), e.g. --engine dask.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        envvar="UPDATE_ESTIMATE_SCHEDULER",
        help="The cluster's address: the Dask scheduler's for --engine dask, the Ray head's "
        "(or ray://host:port) for --engine ray, e.g. --scheduler tcp://10.0.0.5:8786.",
    ),
]
TrainPhasesOption = Annotated[
    bool,
    typer.Option(
        "--phases/--no-phases",
        help="Also model each phase's wall clock (check, download, execute), from which "
        "a new plugin's checks also read their spread; e.g. --no-phases for a quicker train.",
    ),
]
TrainForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Refit even when the history has not changed, e.g. train --force."
    ),
]
TrainWaitOption = Annotated[
    float,
    typer.Option(
        min=0, help="Seconds to wait for another train's lock before exit 9, e.g. --wait 60."
    ),
]


@command()
def train(
    ctx: typer.Context,
    db: DbOption,
    cache_dir: CacheOption,
    plugins: PluginsOption = None,
    host: HostOption = None,
    n_jobs: TrainNJobsOption = 2,
    phases: TrainPhasesOption = True,
    force: TrainForceOption = False,
    wait: TrainWaitOption = 10.0,
    json_out: TrainJson = False,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Fit, select and calibrate models per plugin and metric; store them in the cache.

    Quiet unless a terminal is watching, locked against a second train, and instant when the
    history has not changed since the last train. Meant for cron or a systemd timer.
    Example: update-estimate train --db history.duckdb --n-jobs 2
    """
    from update_estimate import api
    from update_estimate.face import render

    request = TrainRequest(
        db,
        cache_dir,
        _plugins(plugins),
        host,
        n_jobs,
        phases,
        force=force,
        lock_timeout=wait,
        engine=engine,
        scheduler=scheduler,
    )
    with _progress(ctx, json_out, "training series") as update:
        result = api.train(request, progress=update)
    log = logs.get("train")
    if result.unchanged:
        log.info("history unchanged: nothing refitted", cache=str(result.cache_path))
    else:
        log.info(
            "cache written",
            cache=str(result.cache_path),
            series=len(result.series),
            seconds=round(result.seconds, 1),
        )
    if json_out:
        typer.echo(render.train_json(result))
        return
    if result.unchanged:
        _summary(ctx, f"history unchanged since the last train: nothing refitted ({cache_dir})")
        return
    if sys.stdout.isatty() and not _quiet(ctx):
        render.print_table(render.train_table(result))
    _summary(ctx, f"trained {len(result.series)} series in {result.seconds:.0f} s ({cache_dir})")


def _read_covariates(source: str | None) -> dict[str, dict[str, float]]:
    from update_estimate import reports

    if source is None:
        return {}
    if source.lstrip().startswith("{"):  # the JSON itself: no file's name starts so
        return reports.parse(source)
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read --covariates {source}: {exc.strerror} (a JSON file, - for stdin, "
            "or the JSON itself)"
        ) from None
    return reports.parse(text)


def _read_mutexes(source: str | None) -> dict[str, dict[str, tuple[str, ...]]] | None:
    from update_estimate import schedule

    if source is None:
        return None
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read --mutexes {source}: {exc.strerror}") from None
    return schedule.parse_mutexes(text, f"--mutexes {source}")


def _level(value: float) -> float:
    try:
        return check_level(value)
    except UsageError:
        raise typer.BadParameter("must be strictly between 0 and 1, e.g. --level 0.9") from None


EstimateHostOption = Annotated[
    str | None,
    typer.Option(
        envvar="UPDATE_ESTIMATE_HOST",
        help="Host whose runs to forecast (default: this machine), e.g. --host laptop.",
    ),
]
EstimateLevelOption = Annotated[
    float,
    typer.Option(
        callback=_level, help="Interval coverage, strictly between 0 and 1, e.g. --level 0.8."
    ),
]
EstimateAtOption = Annotated[
    str | None,
    typer.Option(
        help="When the run starts (ISO 8601, local time; default now), e.g. --at 2026-11-28T09:30."
    ),
]
EstimateCovariatesOption = Annotated[
    str | None,
    typer.Option(
        help="What plugins reported in their check phase, as a JSON file, - for stdin, or the "
        "JSON itself, e.g. --covariates "
        '\'{"apt": {"package_count": 12, "download_bytes": 1.5e8}}\'.'
    ),
]
EstimateDoneOption = Annotated[
    list[str] | None,
    typer.Option("--done", help="Plugins already finished in this run, e.g. --done apt snap."),
]
EstimateRunningOption = Annotated[
    str | None,
    typer.Option(help="The plugin running now, e.g. --running flatpak."),
]
EstimateElapsedOption = Annotated[
    float,
    typer.Option(min=0, help="Seconds the running plugin has run so far, e.g. --elapsed 42."),
]
EstimateParallelOption = Annotated[
    bool,
    typer.Option(
        "--parallel",
        help="Plugins run in parallel: total peak memory is the sum, e.g. --parallel.",
    ),
]
EstimateJobsOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=MAX_JOBS,
        help="Plugins update-all runs at once (its parallel orchestrator): the total wall time "
        "is the makespan of its schedule (phase mutexes, two downloads sharing the line) and "
        "peak memory the largest sum running together, e.g. --jobs 4.",
    ),
]
EstimateMutexesOption = Annotated[
    str | None,
    typer.Option(
        "--mutexes",
        metavar="FILE",
        help="JSON file of plugins' phase mutexes for --jobs, replacing update-all's declared "
        "ones for the plugins it names, e.g. --mutexes locks.json holding "
        '{"flatpak": {"EXECUTE": ["disk:home"]}}.',
    ),
]
EstimateHostsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        envvar="UPDATE_ESTIMATE_HOST",
        help="Host whose next run to forecast (default: this machine); repeat it for several "
        "hosts and their batch's totals, e.g. --host laptop --host server.",
    ),
]
EstimateAllHostsOption = Annotated[
    bool,
    typer.Option(
        "--all-hosts",
        help="Every host in the history, each on its row, and the batch's totals, e.g. "
        "--all-hosts --hosts-at-once.",
    ),
]
EstimateHostsAtOnceOption = Annotated[
    bool,
    typer.Option(
        "--hosts-at-once",
        help="The hosts are updated at once (update-all remote run --parallel): the batch's "
        "wall time is the slowest host's, not the sum, e.g. --all-hosts --hosts-at-once.",
    ),
]
EstimateTimeoutOption = Annotated[
    float,
    typer.Option(min=0.1, help="Seconds before answering with what is at hand, e.g. --timeout 2."),
]


@command()
def estimate(
    ctx: typer.Context,
    db: DbOption,
    cache_dir: CacheOption,
    plugins: PluginsOption = None,
    host: EstimateHostsOption = None,
    all_hosts: EstimateAllHostsOption = False,
    hosts_at_once: EstimateHostsAtOnceOption = False,
    json_out: EstimateJson = False,
    level: EstimateLevelOption = 0.9,
    at: EstimateAtOption = None,
    covariates: EstimateCovariatesOption = None,
    done: EstimateDoneOption = None,
    running: EstimateRunningOption = None,
    elapsed: EstimateElapsedOption = 0.0,
    parallel: EstimateParallelOption = False,
    jobs: EstimateJobsOption = 1,
    mutexes: EstimateMutexesOption = None,
    timeout: EstimateTimeoutOption = 5.0,
) -> None:
    """Estimate the next run per plugin and in total, with calibrated intervals.

    Reads the trained cache (fast); without one, quick statistics from the history; when the
    history is locked or missing too, wide defaults. Always answers, warnings on stderr.
    With several hosts, one row per host and the batch's totals.
    Example: update-estimate estimate --plugins apt snap flatpak --json
    """
    from update_estimate import api
    from update_estimate.face import render

    request = EstimateRequest(
        plugins=_plugins(plugins) or (),
        level=level,
        at=parse_at(at),
        covariates=_read_covariates(covariates),
        done=_plugins(done) or (),
        running=running,
        elapsed=elapsed,
        parallel=parallel,
        jobs=jobs,
        mutexes=_read_mutexes(mutexes),
    )
    hosts = list(dict.fromkeys(host or ()))
    several = all_hosts or len(hosts) > 1
    if hosts_at_once and not several:
        raise UsageError("--hosts-at-once needs several hosts: --host A --host B, or --all-hosts")
    console = _stdout_console()
    width = console.width if console.is_terminal else None
    layout = render.Layout.for_width(width, verbose=_verbosity(ctx) > 0)
    if several:
        chosen = None if all_hosts else hosts
        batch = api.estimate_hosts(
            request,
            hosts=chosen,
            at_once=hosts_at_once,
            db=db,
            cache_dir=cache_dir,
            timeout=timeout,
        )
        _warn(ctx, "estimate", batch.warnings)
        if json_out:
            typer.echo(render.batch_json(batch))
        else:
            render.print_table(render.batch_view(batch, layout), console)
        return
    one = hosts[0] if hosts else None
    result = api.estimate(request, db=db, cache_dir=cache_dir, host=one, timeout=timeout)
    _warn(ctx, "estimate", result.warnings)
    if json_out:
        typer.echo(render.estimate_json(result))
    else:
        render.print_table(render.estimate_view(result, layout), console)


TrackHumanOption = Annotated[
    bool,
    typer.Option(
        "--human",
        help="A one-line status that rewrites itself on a terminal (one line per event "
        "elsewhere) instead of JSON lines, e.g. --human.",
    ),
]


TrackJobsOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=MAX_JOBS,
        help="Plugins update-all runs at once (its parallel orchestrator): the run's remaining "
        "time is the makespan of what is left, plugins running side by side; a run_start "
        'event\'s "jobs" overrides it for that run, e.g. --jobs 4.',
    ),
]


@command()
def track(
    ctx: typer.Context,
    db: DbOption,
    cache_dir: CacheOption,
    plugins: PluginsOption = None,
    host: EstimateHostOption = None,
    level: EstimateLevelOption = 0.9,
    human_out: TrackHumanOption = False,
    timeout: EstimateTimeoutOption = 5.0,
    jobs: TrackJobsOption = 1,
    mutexes: EstimateMutexesOption = None,
) -> None:
    """Follow a run live: read update-all's events as JSON lines on stdin, answer each.

    One JSON line per event on stdout (schema track.json): the run's remaining time and finish
    on the clock with intervals, each plugin's state and remaining time, the download still
    to come, and flags (overdue: a phase past its interval, probably hanging). A line that is
    not a valid event gets one error line on stderr and the run goes on; the end of stdin
    ends the command. Events: run_start, plugin_start, phase_start, report, download,
    plugin_end, tick, run_end (see the README, section "track"). In a parallel run (--jobs, or
    a run_start event's jobs) plugins run side by side and the remaining time is a makespan.
    Example: update-estimate track --human < examples/run-events.jsonl (events: see EVENTS)
    """
    from update_estimate import api
    from update_estimate.events import EventError, from_json
    from update_estimate.face import render

    estimator = api.Estimator(db, cache_dir, host=host, timeout=timeout)
    locks = _read_mutexes(mutexes)
    tracker = estimator.track(_plugins(plugins), level=level, jobs=jobs, mutexes=locks)
    _warn(ctx, "track", tracker.warnings)
    rewrite = human_out and sys.stdout.isatty()
    width = shutil.get_terminal_size().columns - 1 if rewrite else None
    try:
        for number, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                event = from_json(line)
            except EventError as exc:
                typer.echo(f"update-estimate: track: line {number}: {exc}", err=True)
                continue
            progress = tracker.feed(event)
            if not human_out:
                typer.echo(render.progress_json(progress, event.kind, number))
            elif rewrite:
                sys.stdout.write("\r\x1b[K" + render.progress_line(progress, width))
            else:
                typer.echo(render.progress_line(progress))
            sys.stdout.flush()
    except BrokenPipeError:  # the display went away: so does its companion
        sys.stderr.close()
        return
    if rewrite:
        typer.echo("")


BacktestMetricsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--metrics",
        help="Metrics to evaluate (default all four), e.g. --metrics wall_clock_seconds.",
    ),
]
BacktestLastOption = Annotated[
    int, typer.Option(min=1, max=1000, help="Evaluate the last N runs, e.g. --last 30.")
]
BacktestLevelOption = Annotated[
    float,
    typer.Option(callback=_level, help="Interval coverage to evaluate, e.g. --level 0.8."),
]
BacktestCovariatesOption = Annotated[
    bool,
    typer.Option(
        "--covariates/--no-covariates",
        help="Give each run the plugins' own pre-run reports, as after the check phase, "
        "e.g. --no-covariates to judge estimates made before a run.",
    ),
]
BacktestNJobsOption = Annotated[
    int, typer.Option("--n-jobs", "-j", min=1, max=64, help="Worker processes, e.g. -j 2.")
]
BacktestFullRaceOption = Annotated[
    bool,
    typer.Option(
        "--full-race",
        help="Race every candidate before every run, as train would have then (several "
        "times slower). By default they race before each series' first judged run and "
        "only the winners (and the baselines) before the later ones, e.g. --full-race to "
        "measure exactly what train would have served.",
    ),
]
BacktestLiveOption = Annotated[
    bool,
    typer.Option(
        "--live",
        help="Judge live run tracking instead: replay each of the last runs event by event "
        "against a cache trained just before it (one whole train per run: slow), next to "
        "the per-plugin --done/--running answers, e.g. --live --last 5.",
    ),
]
BacktestPlotOption = Annotated[
    Path | None,
    typer.Option(help="Draw actuals, forecasts and intervals to a PNG, e.g. --plot bt.png."),
]


@command()
def backtest(
    ctx: typer.Context,
    db: DbOption,
    plugins: PluginsOption = None,
    metrics: BacktestMetricsOption = None,
    host: HostOption = None,
    last: BacktestLastOption = 20,
    level: BacktestLevelOption = 0.9,
    covariates: BacktestCovariatesOption = True,
    n_jobs: BacktestNJobsOption = 2,
    full_race: BacktestFullRaceOption = False,
    plot: BacktestPlotOption = None,
    json_out: BacktestJson = False,
    live: BacktestLiveOption = False,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Measure how good the estimates have been: retrain before each of the last runs,
    forecast it, and compare with the run, next to two baselines.

    Example: update-estimate backtest --db history.duckdb --plugins apt --last 30
    """
    from update_estimate import api
    from update_estimate.face import render

    request = BacktestRequest(
        db,
        _plugins(plugins),
        _plugins(metrics) or METRICS,
        host,
        last,
        level,
        covariates,
        n_jobs,
        full_race,
        engine,
        scheduler,
    )
    if live:
        if plot is not None or full_race or metrics or plugins or engine != "local":
            raise UsageError(
                "--live replays whole runs on this machine: --plot, --full-race, --metrics, "
                "--plugins and --engine do not apply to it"
            )
        with _progress(ctx, json_out, "training before each run, then replaying it") as update:
            replayed = api.backtest_live(request, progress=update)
        if json_out:
            typer.echo(render.live_json(replayed))
        else:
            render.print_table(render.live_view(replayed), _stdout_console())
        return
    if plot is not None:
        from update_estimate.face import plotting

        plotting.require()
    with _progress(ctx, json_out, "retraining before each run") as update:
        result = api.backtest(request, progress=update)
    if plot is not None:
        plotting.draw(result, plot)
    if json_out:
        typer.echo(render.backtest_json(result))
    else:
        render.print_table(render.backtest_view(result), _stdout_console())


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
