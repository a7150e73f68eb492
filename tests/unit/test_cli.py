"""The CLI contract the conformance runner and scripts depend on: one JSON object, fixed exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello" / "hello.asl.json"


def cli(*args: str, input_file: Path | None = None) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "express_engine", *args], capture_output=True, text=True,
                          timeout=60)
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return proc.returncode, json.loads(lines[0])


def test_execute_success():
    code, out = cli("execute", str(HELLO), "--input", '{"name": "world"}')
    assert code == 0
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["output"]) == {"greeting": "hello world", "name": "world"}


def test_execute_failure_exit_code(tmp_path):
    d = tmp_path / "fail.json"
    d.write_text('{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}')
    code, out = cli("execute", str(d))
    assert (code, out["status"], out["error"], out["cause"]) == (1, "FAILED", "E", "c")


def test_execute_with_handler(tmp_path):
    (tmp_path / "myhandlers.py").write_text("def double(event, context):\n    return event * 2\n")
    d = tmp_path / "t.json"
    d.write_text('{"StartAt": "T", "States": {"T": {"Type": "Task", "End": true, '
                 '"Resource": "arn:aws:lambda:us-east-1:123456789012:function:double"}}}')
    proc = subprocess.run([sys.executable, "-m", "express_engine", "execute", str(d), "--input", "21",
                           "--handler", "double=myhandlers:double"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert json.loads(json.loads(proc.stdout)["output"]) == 42


@pytest.mark.parametrize(("definition", "code_name"), [
    ("{", "INVALID_JSON_DESCRIPTION"),
    ("[1, 2]", "SCHEMA_VALIDATION_FAILED"),
    ('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}', "MISSING_TRANSITION_TARGET"),
])
def test_invalid_definitions(tmp_path, definition, code_name):
    d = tmp_path / "d.json"
    d.write_text(definition)
    code, out = cli("execute", str(d))
    assert code == 2
    assert out["status"] == "INVALID_DEFINITION"
    assert out["error"] == "InvalidDefinition"
    assert out["diagnostics"][0]["code"] == code_name


BAD_INPUTS = {
    "malformed": (lambda: '{"name": ', "InvalidExecutionInput"),
    "depth-10000": (lambda: "[" * 10_000 + "]" * 10_000, "InvalidExecutionInput"),
    "depth-300": (lambda: "[" * 300 + "]" * 300, "InvalidExecutionInput"),  # read by orjson, not writable
    "10MB": (lambda: json.dumps({"s": "x" * 10_000_000}), "ValidationException"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_a_clear_error(tmp_path, kind):
    make, error = BAD_INPUTS[kind]
    f = tmp_path / "in.json"
    f.write_text(make())
    code, out = cli("execute", str(HELLO), "--input-file", str(f))
    assert code == 2
    assert out["error"] == error


def test_missing_file_is_a_usage_error():
    code, out = cli("execute", "/no/such/file.json")
    assert code == 2
    assert out["error"] == "UsageError"


def test_validate_reports_diagnostics(tmp_path):
    d = tmp_path / "d.json"
    d.write_text('{"StartAt": "A", "States": {"A": {"Type": "Nope", "End": true}}}')
    code, out = cli("validate", str(d))
    assert code == 2
    assert out["result"] == "FAIL"
    assert out["diagnostics"][0]["location"] == "/States/A/Type"


def test_serve_refuses_a_public_address_without_credentials():
    code, out = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert code == 2
    assert out["error"] == "ValidationException"
    assert "--credentials" in out["cause"]


@pytest.mark.parametrize("scale", ["nan", "inf", "-1", "fast"])
def test_time_scale_must_be_a_finite_non_negative_number(scale):
    result = subprocess.run([sys.executable, "-m", "express_engine", "execute", str(HELLO), "--time-scale", scale],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--time-scale: must be a finite number >= 0" in result.stderr and "Traceback" not in result.stderr


def test_calling_a_non_function_in_jsonata_prints_only_the_result(tmp_path):
    # (jsonata-python prints a debug line on stdout for it: silenced, the output stays one JSON object)
    path = tmp_path / "call.asl.json"
    path.write_text(json.dumps({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $states.input.arr() %}", "End": True}}}))
    code, out = cli("execute", str(path), "--input", '{"arr": [1]}')
    assert code == 1 and out["error"] == "States.QueryEvaluationError" and "T1006" in out["cause"]


def test_a_missing_dependency_is_named_not_a_vanished_command():
    # Before the cli package, an ImportError in a command module dropped its commands: `serve` then answered
    # only "invalid choice: 'serve'". Block a dependency the API commands import and the CLI must say so.
    code = ("import sys; sys.modules['prometheus_client'] = None\n"
            "from express_engine.cli import main\nsys.exit(main(['serve', '--help']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "invalid choice" not in proc.stderr and "Traceback" not in proc.stderr
    assert "cannot load a required module" in proc.stderr and "prometheus_client" in proc.stderr


@pytest.mark.parametrize("command", ["serve", "worker", "api", "start-sync --state-machine m", "bench --target redis"])
@pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://127.0.0.1:6379", "redis://127.0.0.1:port"])
def test_a_bad_redis_url_is_one_line_naming_the_flag_and_the_schemes(command, url, capsys):
    from express_engine.cli import main

    code = main([*command.split(), "--redis-url", url])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and not captured.err
    out = json.loads(lines[0])
    assert code == 2 and out["error"] == "UsageError"
    assert out["cause"].startswith(f"--redis-url {url!r} is not a usable Redis URL")
    assert "redis://, rediss://, unix://" in out["cause"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["serve --processes 1", "worker --processes 1", "api"])
def test_an_unreachable_redis_at_start_up_fails_fast_with_a_clear_message(command):
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    proc = subprocess.run([sys.executable, "-m", "express_engine", *command.split(), "--redis-url", url,
                           "--wait-for-redis", "0.5"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc
    out = json.loads(proc.stdout)
    assert out["error"] == "ServiceUnavailable"
    assert out["cause"].startswith(f"cannot reach Redis at {url} within 0.5 s") and "--wait-for-redis" in out["cause"]
    assert "serving" not in proc.stderr and "Traceback" not in proc.stderr
