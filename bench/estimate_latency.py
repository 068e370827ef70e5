"""Whole-process latency of `estimate --json` for 10 plugins on a warm cache, median of 20 runs,
next to `python -c pass` and to the model-loading path (unpickle 10 models and predict).

Usage: .venv/bin/python bench/estimate_latency.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import BIN, median_of, mib, timed

PLUGINS = (
    "apt",
    "flatpak",
    "snap",
    "pip",
    "cargo",
    "npm",
    "rustup",
    "conda-packages",
    "texlive-packages",
    "pipx",
)
LOAD = """
import sys
from pathlib import Path
from update_estimate.fitting.slowpath import load_pickle
from update_estimate.serving import cache
from update_estimate.fitting.slowpath import predict_pickled
gen = cache.current(Path(sys.argv[1]))
for key, entry in gen.manifest["series"].items():
    name = entry["variants"]["base"]["pickle"]
    if key.endswith("|wall_clock_seconds|ALL") and name is not None:
        obj = load_pickle(gen, name)
        predict_pickled(obj, obj["x"][-1])
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db, cache = Path(folder) / "h.duckdb", Path(folder) / "cache"
        timed(
            [
                str(BIN),
                "simulate",
                "--db",
                str(db),
                "--runs",
                "300",
                "--seed",
                "1",
                "--plugins",
                *PLUGINS,
            ]
        )
        timed([str(BIN), "train", "--db", str(db), "--cache-dir", str(cache), "-q", "--no-phases"])
        estimate = [
            str(BIN),
            "estimate",
            "--db",
            str(db),
            "--cache-dir",
            str(cache),
            "--json",
            "--plugins",
            *PLUGINS,
        ]
        est, est_mem = median_of(estimate, 20)
        bare, bare_mem = median_of([sys.executable, "-c", "pass"], 20)
        load, load_mem = median_of([sys.executable, "-c", LOAD, str(cache)], 3)
    print(f"python -c pass:                        {bare * 1000:6.0f} ms, {mib(bare_mem)}")
    print(f"estimate --json, 10 plugins, warm:     {est * 1000:6.0f} ms, {mib(est_mem)}")
    print(f"model-loading path (10 pickles+predict):{load * 1000:6.0f} ms, {mib(load_mem)}")


if __name__ == "__main__":
    main()
