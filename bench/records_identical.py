"""Does this tree write the same forecast records as an older release (cache format 1)?

Two simulated histories (`check-only`, 60 runs, seed 3; `noisy-reports`, 2 hosts x 40 runs,
seed 4) are trained by this tree and by the older one (its source tree ahead of this one on
the import path, as `bench/api_latency.py` runs it). Every field must be equal, with two
allowances for what format 2 changed on purpose: fields that format 1 left out are written
empty (`zeros`, `quiet`, `typical`, `spread`, `idle`, `borrowed`), and the run a residual came
from is named by the run's number on its host, so `runs` must be equal up to a one-to-one
renaming per host.

Usage: .venv/bin/python bench/records_identical.py --old-tree /tmp/update-estimate-0.10.0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from api_latency import OLD_CLI
from common import BIN

HISTORIES = {
    "check-only": ["--runs", "60", "--seed", "3", "--scenario", "check-only"],
    "noisy-reports": ["--runs", "40", "--seed", "4", "--hosts", "2", "--scenario", "noisy-reports"],
}
SERIES_FIELDS = ("host", "plugin", "metric", "phase", "data_points", "last_success", "cap", "basis")


def _as_format_2(old: dict[str, Any]) -> dict[str, Any]:
    """A format-1 variant as format 2 writes it, `runs` aside."""
    return {
        **{k: old[k] for k in ("model", "axes", "points", "weekday", "hour", "residuals")},
        "censored": old["censored"],
        "zeros": old.get("zeros", []),
        "quiet": old.get("quiet", []),
        "typical": old.get("typical", {}),
        "spread": {"slope": old["spread"], "centres": old["centres"]} if "spread" in old else None,
        "idle": {"runs": old["idle"], "values": old["idle_values"], "odds": old["idle_odds"]}
        if "idle" in old
        else None,
        "borrowed": old.get("borrowed", False),
    }


def records_doc(cache: Path) -> dict[str, Any]:
    """A cache's records as one document: one `records.json` (format 4 and before), or an
    index and a file per host (format 5 on)."""
    current = cache / "current"
    doc = json.loads((current / "records.json").read_text())
    if "series" not in doc:
        hosts = [json.loads((current / e["file"]).read_text()) for e in doc["hosts"].values()]
        doc["series"] = {key: r for host in hosts for key, r in host["series"].items()}
    return doc


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found = []
    if old["history_plugins"] != new["history_plugins"]:
        found.append("history_plugins")
    if old["series"].keys() != new["series"].keys():
        found.append(f"series keys: {sorted(set(old['series']) ^ set(new['series']))}")
    renaming: dict[str, dict[int, int]] = {}
    for key in sorted(old["series"].keys() & new["series"].keys()):
        o, n = old["series"][key], new["series"][key]
        found += [f"{key} {f}" for f in SERIES_FIELDS if o[f] != n[f]]
        for name, variant in o["variants"].items():
            mine = n["variants"].get(name)
            if mine is None:
                found.append(f"{key} {name}: missing")
                continue
            expected = _as_format_2(variant)
            found += [f"{key} {name} {f}" for f, v in expected.items() if mine[f] != v]
            names = renaming.setdefault(o["host"], {})
            for a, b in zip(variant["runs"], mine["runs"], strict=True):
                if (a is None) != (b is None) or (a is not None and names.setdefault(a, b) != b):
                    found.append(f"{key} {name} runs")
                    break
    for host, names in renaming.items():
        if len(set(names.values())) != len(names):
            found.append(f"{host}: runs renamed many-to-one")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-tree", type=Path, required=True)
    options = parser.parse_args()
    old_env = {**os.environ, "OLD_TREE": str(options.old_tree.resolve())}
    old = [sys.executable, "-c", OLD_CLI]
    failed = False
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for scenario, args in HISTORIES.items():
            db = folder / f"{scenario}.duckdb"
            subprocess.run([BIN, "-q", "simulate", "--db", db, *args], check=True)
            docs = []
            for cmd, env, cache in ((old, old_env, "old"), ([BIN], None, "new")):
                where = folder / f"{scenario}-{cache}"
                train = [*cmd, "-q", "train", "--db", db, "--cache-dir", where]
                subprocess.run(train, env=env, check=True)
                docs.append(records_doc(where))
            found = differences(*docs)
            failed = failed or bool(found)
            print(f"{scenario}: {len(docs[0]['series'])} series, {len(found)} differences")
            for line in found[:20]:
                print(f"  {line}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
