"""The Redis password never appears in a command's error: start-up checks, bad URLs, the load generator."""

from __future__ import annotations

import json
import socket

import pytest

SECRET = "hunter2-secret"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    from express_engine.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, json.loads(captured.out.strip().splitlines()[-1]), captured.out + captured.err


@pytest.mark.parametrize("command", ["serve --processes 1", "worker --processes 1", "api"])
def test_an_unreachable_redis_at_start_up_is_named_without_its_password(command: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    code, out, text = _run([*command.split(), "--redis-url", f"redis://:{SECRET}@127.0.0.1:{port}/0",
                            "--wait-for-redis", "0"], capsys)
    assert (code, out["error"]) == (3, "ServiceUnavailable")
    assert out["cause"].startswith(f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0 within 0 s")
    assert SECRET not in text


@pytest.mark.parametrize("command", ["worker", "start-sync --state-machine m"])
def test_an_unusable_url_is_quoted_without_its_password(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, text = _run([*command.split(), "--redis-url", f"http://:{SECRET}@127.0.0.1:6379/0"], capsys)
    assert (code, out["error"]) == (2, "UsageError")
    assert out["cause"].startswith("--redis-url 'http://:***@127.0.0.1:6379/0' is not a usable Redis URL")
    assert SECRET not in text


def test_the_load_generator_names_an_unreachable_redis_without_its_password(
        tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    code, out, text = _run(["bench", "--target", "redis", "--redis-url", f"redis://:{SECRET}@127.0.0.1:{port}/0",
                            "--state-machine", "m", "--count", "1", "--progress", "none"], capsys)
    assert code != 0 and f"redis://:***@127.0.0.1:{port}/0" in out["cause"], out
    assert SECRET not in text
