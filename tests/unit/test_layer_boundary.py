"""The deployed layer holds only runtime code: no module of it imports the tooling (operator
CLI, reports, demo, emulator) or a package the layer does not install. The built layer itself
is checked by ``scripts/check_layer.py`` after ``sam build`` (``make build``)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "stopsms" / "stopsms"
TOOLING = ROOT / "tooling" / "stopsms"
# What a function has at run time: the Lambda runtime's SDK and the layer's requirements
# (with their extras: Powertools' parser brings pydantic, its tracer the X-Ray SDK).
RUNTIME = {"boto3", "botocore", "aws_lambda_powertools", "pydantic", "pynamodb", "phonenumbers"}
RUNTIME |= {"holidays", "aws_xray_sdk", "stopsms"}


def _imports(path: Path) -> set[str]:
    """Modules a file imports at run time (imports under ``if TYPE_CHECKING:`` excluded)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for child in block.body
        for node in ast.walk(child)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return found


LAYER_FILES = sorted(LAYER.rglob("*.py"))
TOOLING_MODULES = {
    "stopsms." + ".".join(p.relative_to(TOOLING).with_suffix("").parts)
    for p in TOOLING.rglob("*.py")
} | {"stopsms." + p.name for p in TOOLING.iterdir() if p.is_dir() and p.name != "__pycache__"}


def test_the_tooling_and_the_layer_share_no_module_name() -> None:
    layer = {p.relative_to(LAYER).parts[0].removesuffix(".py") for p in LAYER.iterdir()}
    tooling = {p.relative_to(TOOLING).parts[0].removesuffix(".py") for p in TOOLING.iterdir()}
    assert not (layer & tooling) - {"__pycache__"}


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda p: str(p.relative_to(LAYER)))
def test_a_layer_module_imports_only_what_lambda_has(path: Path) -> None:
    imports = _imports(path)
    tooling = sorted(name for name in imports if name in TOOLING_MODULES)
    assert not tooling, f"the layer cannot import the tooling: {tooling}"
    outside = sorted(
        name
        for name in imports
        if name.split(".")[0] not in RUNTIME | set(sys.stdlib_module_names) | {"__future__"}
    )
    assert not outside, f"not installed in the layer: {outside}"


def test_the_layer_has_no_entry_point() -> None:
    """``python -m stopsms`` is tooling: its ``__main__`` is not shipped."""
    assert not (LAYER / "__main__.py").exists()
    assert (TOOLING / "__main__.py").exists()


# Each part of the layer may import its own part and the parts of a lower level, never a
# higher one nor another part of its level (docs/ARCHITECTURE.md, "The code").
LEVELS = {
    "errors": 0,
    "batches": 0,
    "clock": 0,
    "observability": 0,
    "rules": 1,
    "models": 2,
    "settings": 2,
    "aws": 3,
    "dal": 4,
    "consent": 5,
    "fanout": 6,
    "sending": 6,
    "inbound": 6,
    "receipts": 6,
}


def _part(module: str) -> str:
    return module.removeprefix("stopsms.").split(".")[0]


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda p: str(p.relative_to(LAYER)))
def test_imports_go_down_the_layers(path: Path) -> None:
    own = path.relative_to(LAYER).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    upward = sorted(
        name
        for name in _imports(path)
        if name.startswith("stopsms.")
        and _part(name) in LEVELS
        and _part(name) != own
        and LEVELS[_part(name)] >= LEVELS[own]
    )
    assert not upward, f"{own} (level {LEVELS[own]}) cannot import {upward}"


def test_every_part_of_the_layer_has_a_level() -> None:
    parts = {p.name.removesuffix(".py") for p in LAYER.iterdir() if p.name != "__pycache__"}
    assert parts == set(LEVELS)
