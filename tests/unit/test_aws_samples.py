"""AWS's own sample state machines (tests/fixtures/aws_samples, sources in INDEX.md, sources.json) are accepted.

They are deployed on AWS from public aws-samples repositories, so AWS accepts every one: a refusal here is
our bug. As STANDARD each must validate with no problem at all; as EXPRESS the only problems allowed are
Express's own refusals (activities, ``.sync`` and ``.waitForTaskToken``), with AWS's exact texts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from express_engine.asl.validate import express_refusal
from express_engine.runtime.engine import Engine

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "aws_samples"
FILES = sorted(SAMPLES.glob("*.asl.json"))
# Deploy-time substitutions (SAM DefinitionSubstitutions, CDK and Terraform templates).
_SUBSTITUTION = re.compile(r"\$\{[^}]*\}")
_PSEUDO = {"${partition}": "aws", "${Partition}": "aws", "${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1",
           "${AWS::AccountId}": "123456789012"}
_ARN = "arn:aws:lambda:us-east-1:123456789012:function:sample"
_ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:sample"


def _deployed(path: Path) -> dict[str, Any]:
    """The definition as deployed: a substituted Resource becomes an ARN, any other substitution stays text."""
    text = path.read_text()
    for name, value in _PSEUDO.items():
        text = text.replace(name, value)
    definition: dict[str, Any] = json.loads(text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "Resource" and isinstance(value, str) and _SUBSTITUTION.fullmatch(value):
                    value = _ACTIVITY if "ctivity" in value else _ARN
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(definition)  # type: ignore[no-any-return]


def test_every_sample_names_its_source() -> None:
    sources = json.loads((SAMPLES / "sources.json").read_text())
    assert sorted(sources) == sorted(p.name.removesuffix(".asl.json") for p in FILES)
    assert len(FILES) >= 100


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_aws_sample_is_accepted(path: Path) -> None:
    definition = _deployed(path)
    assert [d.render() for d in Engine.validate(definition, sm_type="STANDARD")] == []
    express = Engine.validate(definition, sm_type="EXPRESS")
    for problem in express:
        resource = _resource_at(definition, problem.location)
        assert problem.message == express_refusal(resource), problem.render()


def _resource_at(definition: dict[str, Any], location: str) -> Any:
    """The Resource a ``/States/A/Branches[0]/States/B/Resource`` location names."""
    node: Any = definition
    for part in location.strip("/").split("/"):
        match = re.fullmatch(r"(.*)\[(\d+)\]", part)
        node = node[match.group(1)][int(match.group(2))] if match else node[part]
    return node
