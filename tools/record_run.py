"""Write a history's last run as the JSON-lines events `update-estimate track` reads, moved to
start at a given time: the recorded example in `examples/`.

Usage: .venv/bin/python tools/record_run.py HISTORY START > examples/run-events.jsonl
The committed example (a run the morning after the demo history's last one):
    .venv/bin/update-estimate simulate --db /tmp/ex8.duckdb --runs 30 --seed 8 --force
    .venv/bin/python tools/record_run.py /tmp/ex8.duckdb 2026-11-21T09:00:00 \
        > examples/run-events.jsonl
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

from update_estimate.events import to_json
from update_estimate.history.replay import last_runs


def main() -> None:
    history, start = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
    run = last_runs(history, 1)[0]
    shift = start - run.start
    for event in run.events:
        moved = event.time + shift if event.time is not None else None
        print(to_json(dataclasses.replace(event, time=moved)))


if __name__ == "__main__":
    main()
