"""Every --json output validates against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from tests.conftest import Trained, copy_trained, invoke


def schema(command: str) -> dict:
    text = resources.files("update_estimate").joinpath(f"schemas/{command}.json").read_text()
    return json.loads(text)


@pytest.mark.parametrize("command", ["estimate", "validate", "train", "backtest", "track"])
def test_schemas_are_valid_json_schemas(command: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(command))


def test_estimate_outputs_validate(runner, trained: Trained) -> None:
    for extra in (
        [],
        ["--done", "apt", "--running", "pip", "--elapsed", "9"],
        ["--plugins", "new"],
    ):
        result = invoke(
            runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "--json", *extra
        )
        assert result.exit_code == 0, result.stderr
        jsonschema.validate(json.loads(result.stdout), schema("estimate"))


def test_validate_output_validates(runner, trained: Trained) -> None:
    result = invoke(runner, "validate", "--db", trained.db, "--json")
    jsonschema.validate(json.loads(result.stdout), schema("validate"))


def test_train_outputs_validate(runner, trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    unchanged = invoke(runner, "train", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    jsonschema.validate(json.loads(unchanged.stdout), schema("train"))
    fresh = invoke(
        runner,
        "train",
        "--db",
        mine.db,
        "--cache-dir",
        tmp_path / "new",
        "-j",
        "1",
        "--plugins",
        "pip",
        "--json",
    )
    doc = json.loads(fresh.stdout)
    assert doc["series"]
    jsonschema.validate(doc, schema("train"))
