"""``express-engine execute`` and ``validate``: one definition, in process, no server."""

from __future__ import annotations

import argparse
from typing import Any

from ..runtime.engine import Engine
from ..service_errors import InvalidDefinition, ServiceError
from .common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    emit,
    invalid_definition,
    read_text_file,
    run_async,
    time_scale,
    usage_error,
)


def cmd_execute(args: argparse.Namespace) -> int:
    """``execute``: run one execution in process and print the StartSyncExecution response."""
    definition = read_text_file(args.definition, "definition file")
    if args.input is not None and args.input_file is not None:
        return usage_error("give either --input or --input-file, not both")
    input_text = read_text_file(args.input_file, "input file") if args.input_file is not None else args.input
    engine = Engine(time_scale=args.time_scale)
    for spec in args.handler or ():
        try:
            engine.handlers.register_spec(spec)
        except ValueError as exc:
            return usage_error(str(exc))
    try:
        record = engine.create_state_machine(args.name, definition)  # validates and compiles, once
    except InvalidDefinition as exc:
        return invalid_definition(exc.diagnostics, exc.message)
    except ServiceError as exc:  # e.g. InvalidName for --name
        return usage_error(exc.message)
    from ..integrations.aws_config import AwsConfigError, AwsSettings

    try:
        aws = AwsSettings.from_env()
    except AwsConfigError as exc:
        return usage_error(str(exc))
    try:
        if aws.configured:
            response = run_async(_execute_with_aws, engine, record, input_text, aws)
        else:
            response = run_async(engine.start_sync_execution, record, input_text)
    except ServiceError as exc:
        emit({"status": "INVALID_INPUT", "error": exc.code, "cause": exc.message})
        return EXIT_INVALID
    emit(response)
    return EXIT_OK if response["status"] == "SUCCEEDED" else EXIT_FAILED


async def _execute_with_aws(engine: Engine, record: Any, input_text: str | None, aws: Any) -> dict[str, Any]:
    """Run the execution with the AWS integrations the environment configures (EXPRESS_ENGINE_AWS)."""
    from ..integrations import install

    async with install(engine.handlers, http=False, aws=aws):
        return await engine.start_sync_execution(record, input_text)


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: print ValidateStateMachineDefinition's response for a definition file."""
    definition = read_text_file(args.definition, "definition file")
    diagnostics = Engine.validate(definition)
    shown = [d for d in diagnostics if d.severity == "ERROR" or args.severity == "WARNING"]
    failed = any(d.severity == "ERROR" for d in diagnostics)
    emit({"result": "FAIL" if failed else "OK", "diagnostics": [d.to_dict() for d in shown], "truncated": False})
    return EXIT_INVALID if failed else EXIT_OK


def register(sub: Any) -> None:
    """Add ``execute`` and ``validate`` to the sub-command parsers."""
    ex = sub.add_parser("execute", help="run one execution in process and print the StartSyncExecution response")
    ex.add_argument("definition", help="ASL definition file (JSON)")
    ex.add_argument("--input", help="execution input as JSON text (default {})")
    ex.add_argument("--input-file", help="file holding the execution input")
    ex.add_argument("--handler", action="append", metavar="NAME=module:function",
                    help="serve Lambda function NAME (or a resource ARN) with a Python callable; repeatable")
    ex.add_argument("--name", default="local", help="state machine name (default: local)")
    ex.add_argument("--time-scale", type=time_scale, default=1.0,
                    help="multiply Wait/Retry delays by this factor (0 = no waiting)")
    ex.set_defaults(func=cmd_execute)

    va = sub.add_parser("validate", help="validate a definition and print the diagnostics")
    va.add_argument("definition", help="ASL definition file (JSON)")
    va.add_argument("--severity", choices=("ERROR", "WARNING"), default="ERROR")
    va.set_defaults(func=cmd_validate)
