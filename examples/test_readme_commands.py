"""Runs every CLI command of examples/README.md (in process) and checks the execution succeeds."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from express_engine.cli import main

ROOT = Path(__file__).parent.parent
PREFIX = "PYTHONPATH=. express-engine "
COMMANDS = [block.replace("\\\n", " ").strip()
            for block in re.findall(r"```sh\n(.*?)```", (ROOT / "examples" / "README.md").read_text(), re.S)
            if block.startswith(PREFIX)]


def test_readme_has_a_command_per_example() -> None:
    folders = sorted(p.parent.name for p in ROOT.glob("examples/*/handlers.py"))
    assert sorted(shlex.split(c)[3].split("/")[1] for c in COMMANDS) == folders


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: shlex.split(c)[3].split("/")[1])
def test_readme_command_succeeds(command: str, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository root
    code = main(shlex.split(command[len(PREFIX):]))
    response = json.loads(capsys.readouterr().out)
    assert (code, response["status"]) == (0, "SUCCEEDED"), response
