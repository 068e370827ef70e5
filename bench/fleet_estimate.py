"""`estimate` on a fleet's cache: whole-process time of one host's answer and of a batch, as
the cache grows from 10 to many hosts (issue 22).

Training 200 hosts takes most of an hour, and what `estimate` reads does not depend on how the
models were fitted: a 10-host history is simulated and trained once, then its generation is
copied under more host names (each host's records file, the index and the manifest), so a
copy of N hosts is laid out as a train of N hosts writes it. Times are medians of 7 runs
after one warm-up, with GNU time's peak RSS.

Usage: PYTHONPATH=. .venv/bin/python bench/fleet_estimate.py --hosts 10 200 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import BIN, median_of, mib

from update_estimate.serving import cache as cache_module
from update_estimate.serving.cache import MANIFEST, RECORDS


def replicate(trained: Path, target: Path, copies: int) -> list[str]:
    """`trained`'s current generation with every host copied `copies` times (new names);
    returns the hosts, the trained ones first."""
    source = trained / "current"
    gen = target / "gen-copy"
    shutil.copytree(source.resolve(), gen)
    (target / "current").symlink_to("gen-copy")
    index = json.loads((gen / cache_module.RECORDS).read_text())
    manifest = json.loads((gen / cache_module.MANIFEST).read_text())
    hosts = list(index["hosts"])
    for copy in range(1, copies):
        for host in list(index["hosts"]):
            if "~" in host:
                continue
            name = f"{host}~{copy}"
            doc = json.loads((gen / index["hosts"][host]["file"]).read_text())
            series = {}
            for key, record in doc["series"].items():
                series[key.replace(f"{host}|", f"{name}|", 1)] = {**record, "host": name}
            file = f"{cache_module.HOSTS}/{cache_module.sha256(name.encode())[:16]}.json"
            (gen / file).write_text(json.dumps({**doc, "series": series}, separators=(",", ":")))
            index["hosts"][name] = {**index["hosts"][host], "file": file}
            index["history_plugins"][name] = index["history_plugins"][host]
            for key, entry in list(manifest["series"].items()):
                if key.startswith(f"{host}|"):
                    manifest["series"][key.replace(f"{host}|", f"{name}|", 1)] = entry
            hosts.append(name)
    (gen / cache_module.RECORDS).write_text(json.dumps(index, separators=(",", ":")))
    (gen / cache_module.MANIFEST).write_text(json.dumps(manifest, separators=(",", ":")))
    return hosts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 200, 1000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--trained", type=Path, help="a trained cache of --db, to skip training")
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    print("| hosts | records.json KiB | manifest KiB | one host: s | MiB | 10 hosts: s | MiB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        db, trained = args.db, args.trained
        if trained is None or db is None:
            db, trained = Path(folder) / "fleet.duckdb", Path(folder) / "trained"
            size = ["--runs", "30", "--hosts", "10", "--seed", "1"]
            simulate = [str(BIN), "simulate", "--db", str(db), *size]
            subprocess.run(simulate, check=True, stdout=subprocess.DEVNULL)
            train = [str(BIN), "train", "--db", str(db), "--cache-dir", str(trained), "-q"]
            subprocess.run([*train, "--no-phases"], check=True)
        for n in args.hosts:
            target = Path(folder) / f"copy-{n}"
            target.mkdir()
            hosts = replicate(trained, target, -(-n // 10))[:n]
            base = [str(BIN), "estimate", "--db", str(db), "--cache-dir", str(target), "--json"]
            one, one_mem = median_of([*base, "--host", hosts[0]], args.runs)
            ten = [a for h in hosts[-10:] for a in ("--host", h)]
            batch, batch_mem = median_of([*base, *ten], args.runs)
            gen = target / "current"
            index, manifest = ((gen / f).stat().st_size // 1024 for f in (RECORDS, MANIFEST))
            print(
                f"| {n} | {index} | {manifest} | {one:.2f} | {mib(one_mem)} | "
                f"{batch:.2f} | {mib(batch_mem)} |"
            )


if __name__ == "__main__":
    main()
