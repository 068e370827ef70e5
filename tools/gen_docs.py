"""Regenerate completions/ and man/ from the CLI: `make completions man`."""

from __future__ import annotations

import sys
from pathlib import Path

import docs

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    what = set(sys.argv[1:]) or {"completions", "man"}
    if "completions" in what:
        for shell, name in docs.SHELLS.items():
            (ROOT / "completions" / name).write_text(docs.completion_script(shell))
    if "man" in what:
        (ROOT / "man" / "update-estimate.1").write_text(docs.man_page())


if __name__ == "__main__":
    main()
