"""Completions and the man page are generated from the CLI, committed, current, and render."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main

from tests.conftest import BIN
from tools import docs
from update_estimate.face.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", sorted(docs.SHELLS))
def test_committed_completions_are_current(shell: str) -> None:
    committed = (ROOT / "completions" / docs.SHELLS[shell]).read_text()
    assert committed == docs.completion_script(shell), "run `make completions`"


def test_committed_man_page_is_current() -> None:
    assert (ROOT / "man" / "update-estimate.1").read_text() == docs.man_page(), "run `make man`"


def test_man_page_documents_every_command_and_option() -> None:
    page = docs.man_page()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f".SS {name}" in page
        for param in command.params:
            for opt in param.opts:
                assert opt.replace("-", "\\-") in page, (name, opt)
    for section in ("NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"):
        assert f".SH {section}" in page


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_man_page_renders_without_warnings() -> None:
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-P-cbou", str(ROOT / "man" / "update-estimate.1")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert "EXIT STATUS" in result.stdout


def test_bash_completion_completes_subcommands() -> None:
    env = {
        **os.environ,
        docs.COMPLETE_VAR: "complete_bash",
        "COMP_WORDS": "update-estimate est",
        "COMP_CWORD": "1",
    }
    result = subprocess.run([str(BIN)], env=env, capture_output=True, text=True)
    assert "estimate" in result.stdout.split()


def test_every_option_explains_itself_with_an_example() -> None:
    group = typer.main.get_command(app)
    params = [("", p) for p in group.params] + [
        (name, p) for name, c in group.commands.items() for p in c.params
    ]
    missing = [
        (name, p.opts[0])
        for name, p in params
        if p.opts[0] not in ("--help", "--install-completion", "--show-completion")
        and "e.g." not in (p.help or "")
    ]
    assert missing == []
