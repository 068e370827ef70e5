"""The package's layout is its data flow, and its boundaries are checked here, not remembered.

Serving (and the shared contract it reads) runs on `estimate`'s warm path with the standard
library only: none of its modules may import a heavy library or a fitting, history or face
module, not even inside a function, and nothing it imports at load time may either. Fitting and
history never import the face.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "update_estimate"
HEAVY = {
    "numpy", "pandas", "darts", "sklearn", "duckdb", "typer", "rich", "click", "joblib",
    "scipy", "statsforecast", "lightgbm", "matplotlib", "structlog",
}  # fmt: skip
SHARED = {"record", "requests", "errors", "hints", "reports", "paths", "events", "schedule"}


@dataclass(frozen=True)
class Imported:
    module: str  # absolute, as written
    at_load: bool  # False: inside a function, or only for type checkers


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _path(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


@cache
def imports(module: str) -> tuple[Imported, ...]:
    path = _path(module)
    assert path is not None, module
    found: list[Imported] = []

    def visit(node: ast.AST, at_load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            lazy = not at_load or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and _type_checking(child):
                lazy = True
            if isinstance(child, ast.Import):
                found.extend(Imported(a.name, not lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append(Imported(child.module, not lazy))
                # `from update_estimate.serving import cache` imports a module, too
                found.extend(
                    Imported(f"{child.module}.{a.name}", not lazy)
                    for a in child.names
                    if _path(f"{child.module}.{a.name}") is not None
                )
            visit(child, at_load and not lazy)

    visit(ast.parse(path.read_text()), True)
    return tuple(found)


def _parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def loaded_with(module: str) -> dict[str, str]:
    """Every module that importing `module` loads, each with the module that imported it."""
    seen = {module: "(asked)"}
    todo = [module]
    while todo:
        current = todo.pop()
        ours = [p for p in _parents(current) if p.startswith("update_estimate")]
        for found in [*ours, *(i.module for i in imports(current) if i.at_load)]:
            if found in seen:
                continue
            seen[found] = current
            if found.startswith("update_estimate") and _path(found) is not None:
                todo.append(found)
    return seen


def modules(folder: str) -> list[str]:
    return sorted(_name(p) for p in (PACKAGE / folder).rglob("*.py"))


SERVING = [*modules("serving"), *(f"update_estimate.{name}" for name in sorted(SHARED))]


def _allowed_for_serving(module: str) -> bool:
    top = module.split(".")[0]
    if top != "update_estimate":
        return top in sys.stdlib_module_names
    rest = module.removeprefix("update_estimate").lstrip(".")
    return rest == "" or rest.startswith("serving") or rest.split(".")[0] in SHARED


@pytest.mark.parametrize("module", SERVING)
def test_serving_imports_only_the_standard_library_and_itself(module: str) -> None:
    wrong = [i.module for i in imports(module) if not _allowed_for_serving(i.module)]
    assert not wrong, f"{module} imports {wrong}"


@pytest.mark.parametrize("module", SERVING)
def test_nothing_serving_loads_reaches_a_heavy_library(module: str) -> None:
    loaded = loaded_with(module)
    heavy = {m: by for m, by in loaded.items() if m.split(".")[0] in HEAVY}
    assert not heavy, f"importing {module} loads {heavy} (module: imported by)"


@pytest.mark.parametrize("module", [*modules("fitting"), *modules("history")])
def test_fitting_and_history_never_import_the_face(module: str) -> None:
    face = [i.module for i in imports(module) if i.module.startswith("update_estimate.face")]
    assert not face, f"{module} imports {face}"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The scan finds lazy and type-checking imports apart from load-time ones."""
    found = {i.module: i.at_load for i in imports("update_estimate.api")}
    assert found["update_estimate.serving.source"] is True
    assert found["update_estimate.fitting.fallback"] is False  # inside a function
    assert found["update_estimate.fitting.train"] is False  # for type checkers only
    assert not _allowed_for_serving("numpy")
    assert not _allowed_for_serving("update_estimate.fitting.features")
    assert _allowed_for_serving("update_estimate.record")
    assert "update_estimate" in loaded_with("update_estimate.serving.cache")
