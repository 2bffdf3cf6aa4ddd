"""`make deploy` (scripts/deploy.py) as a hurried operator runs it: the CONFIG_ENV it is given
decides the stack it checks and the `sam deploy` it runs. SAM and CloudFormation are replaced
here (nothing is deployed): what is checked is the decision."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def deploy_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_script", ROOT / "scripts" / "deploy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[Any]]:
    """The script, with CloudFormation answering that every stack exists and `sam` recorded."""
    script = deploy_script()
    calls: list[Any] = []

    def exists(stack: str, region: str) -> bool:
        calls.append((stack, region))
        return True

    def sam(command: list[str], **_: Any) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(script, "_exists", exists)
    monkeypatch.setattr(subprocess, "call", sam)
    return script, calls


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_cli_attack_deploy_known_environments(
    ran: tuple[ModuleType, list[Any]], monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    script, calls = ran
    monkeypatch.setenv("CONFIG_ENV", environment)
    assert script.main() == 0
    assert calls[0] == (f"stopsms-{environment}", "eu-west-3")
    assert calls[1][1:] == ["deploy", "--config-env", environment]


def test_cli_attack_deploy_unknown_environment(
    ran: tuple[ModuleType, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    script, calls = ran
    monkeypatch.setenv("CONFIG_ENV", "prdo")
    assert script.main() == 2
    assert not calls
    assert "prdo" in capsys.readouterr().err
