"""The Python API in-process, and the whole `estimate --json` process next to an older tree's.

In-process: an `Estimator` is opened on a warm cache of 10 plugins (300 runs each), then asked
for all 10 plugins again and again, as update-all's progress display would: before the run,
after the check phase (with reports) and during the run. Reported: the open, and the median
and 99th percentile of one answer, with and without its JSON document.

Whole process (`--old-tree DIR`, an unpacked older release): `estimate --json` of this tree and
of that one, each on a cache trained by its own version, run alternately 60 times (paired),
with Python's bytecode cache on as an installed command has it.

Usage: .venv/bin/python bench/api_latency.py [--old-tree /tmp/update-estimate-0.10.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, timed
from estimate_latency import PLUGINS

REPEATS = 500
PAIRS = 60
# The older tree's command, ahead of this tree's editable install on the import path.
OLD_CLI = (
    "import os, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
    "repr(f)]; sys.path.insert(0, os.environ['OLD_TREE']); sys.argv[0] = 'update-estimate'; "
    "from update_estimate.cli import main; main()"
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def in_process(db: Path, cache: Path) -> None:
    import update_estimate

    opens = []
    for _ in range(20):
        start = time.perf_counter()
        estimator = update_estimate.Estimator(db, cache)
        opens.append(time.perf_counter() - start)
    assert estimator.source == "cache"
    at = "2026-12-01T09:00:00"
    asks = {
        "before the run, at now (nothing shared)": {},
        "before the run": {"at": at},
        "after the check phase": {
            "at": at,
            "covariates": {"apt": {"package_count": 12, "download_bytes": 1.5e8}},
        },
        "during the run": {"at": at, "now": at, "done": PLUGINS[:3], "running": PLUGINS[3],
                           "elapsed": 40.0},
    }  # fmt: skip
    print(f"Estimator(db, cache), open:            median {_ms(statistics.median(opens))}")
    for name, options in asks.items():
        for json_too in (False, True):
            ask = estimator.estimate_json if json_too else estimator.estimate
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                ask(list(PLUGINS), **options)
                times.append(time.perf_counter() - start)
            times.sort()
            p99 = times[int(0.99 * len(times)) - 1]
            label = f"{name}{' + JSON' if json_too else ''}:"
            print(f"  {label:44s} median {_ms(statistics.median(times))}, p99 {_ms(p99)}")


def whole_process(db: Path, cache: Path, old_tree: Path, folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    old_env = {**env, "OLD_TREE": str(old_tree)}
    old_cache = folder / "old-cache"
    old = [sys.executable, "-c", OLD_CLI]
    subprocess.run(
        [*old, "train", "--db", db, "--cache-dir", old_cache, "-q", "--no-phases"],
        env=old_env,
        check=True,
    )
    args = ["estimate", "--db", str(db), "--json", "--plugins", *PLUGINS]
    new_cmd = [str(BIN), *args, "--cache-dir", str(cache)]
    old_cmd = [*old, *args, "--cache-dir", str(old_cache)]
    for cmd, e in ((new_cmd, env), (old_cmd, old_env)):  # warm bytecode and page cache
        subprocess.run(cmd, env=e, check=True, capture_output=True)
    new_t, old_t = [], []
    for _ in range(PAIRS):
        for cmd, e, out in ((new_cmd, env, new_t), (old_cmd, old_env, old_t)):
            start = time.perf_counter()
            subprocess.run(cmd, env=e, check=True, capture_output=True)
            out.append(time.perf_counter() - start)
    diffs = [n - o for n, o in zip(new_t, old_t, strict=True)]
    print(f"estimate --json, 10 plugins, this tree: median {_ms(statistics.median(new_t))}")
    print(f"estimate --json, 10 plugins, {old_tree.name}: median {_ms(statistics.median(old_t))}")
    q1, _, q3 = statistics.quantiles(diffs, n=4)
    print(
        f"  paired difference (this - old):      median {_ms(statistics.median(diffs))}"
        f" (quartiles {_ms(q1)}, {_ms(q3)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-tree", type=Path, help="an older release's source tree")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db, cache = folder / "h.duckdb", folder / "cache"
        timed([str(BIN), "simulate", "--db", str(db), "--runs", "300", "--seed", "1",
               "--plugins", *PLUGINS])  # fmt: skip
        timed([str(BIN), "train", "--db", str(db), "--cache-dir", str(cache), "-q", "--no-phases"])
        in_process(db, cache)
        if options.old_tree is not None:
            whole_process(db, cache, options.old_tree.resolve(), folder)


if __name__ == "__main__":
    main()
