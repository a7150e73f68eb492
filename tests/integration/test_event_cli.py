"""The event-source and rule commands of the ``express-engine`` command line, on a real server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from express_engine.cli import main

from .conftest import ROOT


@pytest.fixture
def cli(redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Any]]:
    """Run one ``express-engine`` command in process: (exit status, printed JSON)."""
    def run(*args: str) -> tuple[int, Any]:
        code = main([*args, "--redis-url", redis_url, "--namespace", namespace])
        return code, json.loads(capsys.readouterr().out)

    yield run
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=f"{namespace}:*"))
    if keys:
        r.delete(*keys)
    r.delete("events:cli")
    r.close()


def test_cli_commands(cli: Callable[..., Any], namespace: str) -> None:
    stream = f"{namespace}:cli-orders"
    hello = str(ROOT / "examples" / "hello" / "hello.asl.json")
    assert cli("create-state-machine", "--name", "hello", "--definition", hello)[0] == 0
    code, out = cli("create-event-source", "--stream", stream, "--state-machine", "hello",
                     "--batch-size", "10", "--batch-window", "2", "--filter", '{"data": {"kind": ["order"]}}')
    assert code == 0 and out["name"] == stream and out["batch_size"] == 10
    assert out["consumerGroup"] == f"express-engine.{namespace}.{stream}"
    code, out = cli("create-event-source", "--stream", "s2", "--state-machine", "hello",
                     "--filter", '{"data": "x"}')
    assert code == 2 and out["error"] == "InvalidEventPatternException"
    code, out = cli("list-event-sources")
    assert [s["name"] for s in out["eventSources"]] == [stream]
    assert cli("get-event-source", "--name", stream)[1]["stats"]["read"] == 0
    code, out = cli("put-rule", "--name", "r1", "--event-pattern", '{"source": ["shop"]}')
    assert (code, out) == (0, {"RuleArn": "arn:aws:events:us-east-1:123456789012:rule/r1"})
    code, out = cli("put-targets", "--rule", "r1", "--state-machine", "hello")
    assert (code, out["FailedEntryCount"]) == (0, 0)
    code, out = cli("list-targets-by-rule", "--rule", "r1")
    assert out["Targets"][0]["Arn"].endswith(":stateMachine:hello")
    code, out = cli("put-events", "--entries",
                     '[{"Source": "shop", "DetailType": "Order", "Detail": "{\\"id\\": 1}", "EventBusName": "cli"}]')
    assert code == 0 and out["FailedEntryCount"] == 0
    assert cli("delete-rule", "--name", "r1")[1]["error"] == "ValidationException"
    assert cli("remove-targets", "--rule", "r1", "--ids", "1")[0] == 0
    assert cli("delete-rule", "--name", "r1")[0] == 0
    assert cli("delete-event-source", "--name", stream)[0] == 0
    assert cli("delete-event-source", "--name", stream)[1]["error"] == "ResourceNotFound"
