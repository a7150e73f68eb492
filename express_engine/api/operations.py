"""The Step Functions operations served by the HTTP API (AWS JSON 1.0 request/response bodies).

Each operation is ``async (body: dict) -> dict``: it checks the request the way AWS does
(``ValidationException`` / ``InvalidArn`` / ``SerializationException`` with AWS's messages), then calls
the Registry / Client interfaces of the service layer. Operations AWS does not offer for Express
workflows answer as AWS does for an Express resource (``InvalidArn``, ``StateMachineTypeNotSupported``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .. import service_errors as api
from ..errors import DefinitionError, Diagnostic
from ..eventloop import offload
from ..jsonutil import MAX_PAYLOAD_BYTES, Json
from ..runtime.configuration import ENCRYPTION_TYPES, KMS_KEY_ID_LENGTH, KMS_REUSE_SECONDS
from ..runtime.engine import Engine
from ..runtime.ids import check_name
from ..runtime.interfaces import StartClient, StateMachineRegistry
from ..runtime.mocks import MockConfig, split_test_case
from ..runtime.versions import is_alias_arn, is_version_arn, refuse_qualified, split_arn
from .arns import check_execution_arn, check_state_machine_arn, resource_type

#: An operation answers with its response object, or with the response already serialised (JSON bytes).
Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Json] | bytes]]

MAX_DEFINITION_CHARS = 1_048_576
MAX_TAGS = 50
_DEFAULT_PAGE = 100
_TOKEN_PREFIX = "ee1:"

#: Real Step Functions operations this engine does not serve (Standard workflows, activities, Map runs):
#: they answer UnknownOperationException with an explanation.
UNSUPPORTED_OPERATIONS = frozenset({
    "CreateActivity", "DeleteActivity", "DescribeActivity", "ListActivities", "GetActivityTask",
    "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "DescribeMapRun", "ListMapRuns", "UpdateMapRun",
})


# -- request checks ---------------------------------------------------------------------------------


class Checker:
    """Collects constraint violations and raises them as one ValidationException, AWS style."""

    def __init__(self, body: Mapping[str, Any], prefix: str = "") -> None:
        self.body = body
        #: put before member names in messages (``"mock."`` for the members of ``mock``)
        self.prefix = prefix
        self.problems: list[str] = []

    @staticmethod
    def _show(value: Any) -> str:
        if value is None:
            return "Value null"
        text = str(value)
        return f"Value '{text}'" if len(text) <= 256 else "Value"

    def fail(self, field: str, value: Any, constraint: str) -> None:
        """Record one violation."""
        self.problems.append(f"{self._show(value)} at '{self.prefix}{field}' failed to satisfy constraint: "
                             f"{constraint}")

    def string(self, field: str, *, required: bool = False, min_len: int = 1, max_len: int | None = None) -> str | None:
        """A string member (SerializationException when it has another JSON type)."""
        value = self.body.get(field)
        if value is None:
            if required:
                self.fail(field, None, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise api.SerializationException(f"Expected a string for '{self.prefix}{field}' but got "
                                              f"{_json_type(value)}")
        if len(value) < min_len:
            self.fail(field, value, f"Member must have length greater than or equal to {min_len}")
        elif max_len is not None and len(value) > max_len:
            self.fail(field, value, f"Member must have length less than or equal to {max_len}")
        return value

    def integer(self, field: str, *, lo: int, hi: int) -> int | None:
        """An integer member."""
        value = self.body.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise api.SerializationException(f"Expected an integer for '{self.prefix}{field}' but got "
                                              f"{_json_type(value)}")
        if value < lo:
            self.fail(field, value, f"Member must have value greater than or equal to {lo}")
        elif value > hi:
            self.fail(field, value, f"Member must have value less than or equal to {hi}")
        return value

    def boolean(self, field: str) -> bool | None:
        """A boolean member."""
        value = self.body.get(field)
        if value is not None and not isinstance(value, bool):
            raise api.SerializationException(f"Expected a boolean for '{self.prefix}{field}' but got "
                                              f"{_json_type(value)}")
        return value

    def obj(self, field: str) -> dict[str, Any] | None:
        """An object (structure) member."""
        value = self.body.get(field)
        if value is not None and not isinstance(value, dict):
            raise api.SerializationException(f"Expected an object for '{self.prefix}{field}' but got "
                                              f"{_json_type(value)}")
        return value

    def structure(self, field: str) -> Checker | None:
        """A structure member as a Checker of its own members, whose violations are reported with this one's."""
        value = self.obj(field)
        if value is None:
            return None
        inner = Checker(value, f"{self.prefix}{field}.")
        inner.problems = self.problems
        return inner

    def array(self, field: str, *, required: bool = False) -> list[Any] | None:
        """A list member."""
        value = self.body.get(field)
        if value is None:
            if required:
                self.fail(field, None, "Member must not be null")
            return None
        if not isinstance(value, list):
            raise api.SerializationException(f"Expected a list for '{self.prefix}{field}' but got "
                                              f"{_json_type(value)}")
        return value

    def enum(self, field: str, allowed: tuple[str, ...], default: str | None = None, *,
             required: bool = False) -> str | None:
        """A string member restricted to ``allowed``."""
        value = self.string(field, required=required, min_len=0)
        if value is None:
            return default
        if value not in allowed:
            self.fail(field, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
        return value

    def done(self) -> None:
        """Raise the collected violations, if any."""
        if self.problems:
            n = len(self.problems)
            raise api.ValidationException(f"{n} validation error{'s' if n > 1 else ''} detected: "
                                          + "; ".join(self.problems))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _with_fields(exc: api.ServiceError, **fields: str) -> api.ServiceError:
    """Attach extra members to an error body (e.g. ``resourceName``)."""
    exc.fields = fields  # type: ignore[attr-defined]
    return exc


def _check_length(c: Checker, field: str, value: str, lo: int, hi: int) -> None:
    if len(value) < lo:
        c.fail(field, value, f"Member must have length greater than or equal to {lo}")
    elif len(value) > hi:
        c.fail(field, value, f"Member must have length less than or equal to {hi}")


def _tags_from_list(raw: list[Any], arn: str) -> dict[str, str]:
    c = Checker({})
    tags: dict[str, str] = {}
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise api.SerializationException(f"Expected an object for 'tags.{i}'")
        key, value = item.get("key"), item.get("value")
        for field, v in (("key", key), ("value", value)):
            if v is not None and not isinstance(v, str):
                raise api.SerializationException(f"Expected a string for 'tags.{i}.member.{field}' but got "
                                                  f"{_json_type(v)}")
        if key is None:
            c.fail(f"tags.{i}.member.key", None, "Member must not be null")
            continue
        _check_length(c, f"tags.{i}.member.key", key, 1, 128)
        _check_length(c, f"tags.{i}.member.value", value or "", 0, 256)
        tags[key] = value or ""
    c.done()
    if len(tags) > MAX_TAGS:
        raise _with_fields(api.TooManyTags(f"Too many tags: a resource can have at most {MAX_TAGS} tags"),
                           resourceName=arn)
    return tags


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _encode_token(name: str) -> str:
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str:
    if not token.startswith(_TOKEN_PREFIX):
        raise api.InvalidToken(f"Invalid Token: '{token}'")
    try:
        name = base64.urlsafe_b64decode(token[len(_TOKEN_PREFIX):].encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        name = None
    if name is None or _encode_token(name) != token:  # (the decoder skips characters it does not know)
        raise api.InvalidToken(f"Invalid Token: '{token}'")
    return name


# (any account number: local set-ups and tests often use short ones, and no role is ever assumed here)
_ROLE_ARN_RE = re.compile(r"arn:aws(-cn|-us-gov)?:iam::\d+:role/[\w+=,.@/-]{1,512}")
_LOG_GROUP_ARN_RE = re.compile(r"arn:aws(-cn|-us-gov)?:logs:[a-z0-9-]+:\d{12}:log-group:[\w.\-/#]{1,512}(:\*)?")


def _check_definition(definition: str, sm_type: str) -> None:
    """Raise InvalidDefinition (CreateStateMachine's message) when ``definition`` is invalid for ``sm_type``."""
    problems = [d for d in Engine.validate(definition, sm_type=sm_type) if d.severity == "ERROR"]
    if problems:
        raise api.InvalidDefinition(DefinitionError(problems).message, problems)


def check_role_arn(role_arn: str | None) -> None:
    """Raise AWS's InvalidArn unless ``role_arn`` (when given) is an IAM role ARN."""
    if role_arn is not None and not _ROLE_ARN_RE.fullmatch(role_arn):
        raise api.InvalidArn(f"Invalid Role Arn: '{role_arn}'")


def _tracing(c: Checker) -> Mapping[str, Any] | None:
    """The ``tracingConfiguration`` member, its member types and limits checked (values: by the engine)."""
    tracing = c.structure("tracingConfiguration")
    if tracing is None:
        return None
    tracing.boolean("enabled")
    return tracing.body


def _encryption(c: Checker) -> Mapping[str, Any] | None:
    """The ``encryptionConfiguration`` member, its member types and limits checked (kmsKeyId required with a
    customer managed key: by the engine, as InvalidEncryptionConfiguration)."""
    encryption = c.structure("encryptionConfiguration")
    if encryption is None:
        return None
    encryption.enum("type", ENCRYPTION_TYPES, required=True)
    encryption.string("kmsKeyId", min_len=KMS_KEY_ID_LENGTH[0], max_len=KMS_KEY_ID_LENGTH[1])
    encryption.integer("kmsDataKeyReusePeriodSeconds", lo=KMS_REUSE_SECONDS[0], hi=KMS_REUSE_SECONDS[1])
    return encryption.body


def _check_logging(raw: Mapping[str, Any]) -> None:
    """Check a ``loggingConfiguration`` the way AWS does, before the engine parses it.

    Member types are SerializationException; then exactly one CloudWatch Logs log group ARN (ending
    ``:*``) is required unless the level is OFF. Events go to the server's log sink (``serve --log-sink``):
    our own ``sink`` member is not accepted over HTTP, since it would let a caller choose where the
    server writes.
    """
    for field, kind, wanted in (("level", str, "a string"), ("includeExecutionData", bool, "a boolean"),
                                ("destinations", list, "a list")):
        value = raw.get(field)
        if value is not None and not isinstance(value, kind):
            raise api.SerializationException(f"Expected {wanted} for 'loggingConfiguration.{field}' "
                                              f"but got {_json_type(value)}")
    if "sink" in raw:
        raise api.InvalidLoggingConfiguration(
            "Invalid Logging Configuration: 'sink' cannot be set over the HTTP API; events go to the server's log "
            "sink (choose a per-machine sink with the CLI's create-state-machine --log-sink or the Python API)")
    destinations = raw.get("destinations") or []
    arns = []
    for i, dest in enumerate(destinations):
        group = dest.get("cloudWatchLogsLogGroup") if isinstance(dest, dict) else None
        arn = group.get("logGroupArn") if isinstance(group, dict) else None
        if not isinstance(arn, str):
            raise api.SerializationException(f"Expected an object {{\"cloudWatchLogsLogGroup\": {{\"logGroupArn\": "
                                              f"string}}}} for 'loggingConfiguration.destinations.{i + 1}'")
        arns.append(arn)
    if raw.get("level", "OFF") != "OFF" and len(arns) != 1:
        raise api.InvalidLoggingConfiguration("Invalid Logging Configuration: Must specify exactly one Log "
                                              "Destination.")
    for arn in arns:
        match = _LOG_GROUP_ARN_RE.fullmatch(arn)
        if match is None:
            raise api.InvalidLoggingConfiguration(f"Invalid Logging Configuration: '{arn}' is not a CloudWatch Logs "
                                                  "log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*)")
        if match.group(2) is None:
            raise api.InvalidLoggingConfiguration("Invalid Logging Configuration: Log Group ARN must be provided "
                                                  "with '*' qualifier.")


# -- the operations -----------------------------------------------------------------------------------


class Operations:
    """Every operation of the API, bound to a state-machine registry and a start client.

    ``test_state`` runs the TestState operation (see :mod:`express_engine.api.teststate`); ``mocks``
    is the MockConfig used to reject an unknown ``#TestCase`` before it reaches a worker.
    """

    def __init__(self, registry: StateMachineRegistry, client: StartClient, *, mocks: MockConfig | None = None,
                 test_state: Callable[[dict[str, Any]], Awaitable[dict[str, Json]]] | None = None) -> None:
        self.registry = registry
        self.client = client
        self.mocks = mocks
        self._test_state = test_state
        self.table: dict[str, Operation] = {
            "CreateStateMachine": self.create_state_machine,
            "DescribeStateMachine": self.describe_state_machine,
            "ListStateMachines": self.list_state_machines,
            "UpdateStateMachine": self.update_state_machine,
            "DeleteStateMachine": self.delete_state_machine,
            "ValidateStateMachineDefinition": self.validate_state_machine_definition,
            "StartExecution": self.start_execution,
            "StartSyncExecution": self.start_sync_execution,
            "TestState": self.test_state,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "DescribeExecution": self.execution_operation,
            "StopExecution": self.execution_operation,
            "GetExecutionHistory": self.execution_operation,
            "RedriveExecution": self.execution_operation,
            "DescribeStateMachineForExecution": self.execution_operation,
            "ListExecutions": self.list_executions,
            "PublishStateMachineVersion": self.publish_state_machine_version,
            "ListStateMachineVersions": self.list_state_machine_versions,
            "DeleteStateMachineVersion": self.delete_state_machine_version,
            "CreateStateMachineAlias": self.create_state_machine_alias,
            "DescribeStateMachineAlias": self.describe_state_machine_alias,
            "UpdateStateMachineAlias": self.update_state_machine_alias,
            "DeleteStateMachineAlias": self.delete_state_machine_alias,
            "ListStateMachineAliases": self.list_state_machine_aliases,
        }

    def get(self, name: str) -> Operation | None:
        """The operation called ``name`` (None when it is not served)."""
        return self.table.get(name)

    # -- state machines ----------------------------------------------------------------------------

    async def create_state_machine(self, body: dict[str, Any]) -> dict[str, Json]:
        """CreateStateMachine (EXPRESS only; idempotent like AWS)."""
        c = Checker(body)
        name = c.string("name", required=True, max_len=80)
        definition = c.string("definition", required=True, max_len=MAX_DEFINITION_CHARS)
        role_arn = c.string("roleArn", required=True, max_len=256)
        sm_type = c.enum("type", ("STANDARD", "EXPRESS"))
        logging = c.obj("loggingConfiguration")
        tracing = _tracing(c)
        encryption = _encryption(c)
        publish = c.boolean("publish")
        version_description = c.string("versionDescription", min_len=0, max_len=256)
        raw_tags = c.array("tags")
        c.done()
        assert name is not None and definition is not None
        if version_description is not None and not publish:
            raise api.ValidationException("Version description can only be set when publish is true")
        if sm_type != "EXPRESS":
            # One rule set for both types: a definition AWS refuses is InvalidDefinition whatever the type;
            # only a valid one meets the engine's own limit.
            await offload(len(definition), _check_definition, definition, sm_type or "STANDARD")
            raise api.StateMachineTypeNotSupported(
                "express-engine runs EXPRESS state machines only: create the machine with type EXPRESS "
                "(the API's default type is STANDARD, which is not supported)")
        check_name(name)
        check_role_arn(role_arn)
        if logging is not None:
            _check_logging(logging)
        tags = _tags_from_list(raw_tags, name) if raw_tags else None
        record = await self.registry.create(name, definition, type="EXPRESS", role_arn=role_arn or "",
                                            logging_configuration=logging, tracing_configuration=tracing,
                                            encryption_configuration=encryption, tags=tags)
        out: dict[str, Json] = {"stateMachineArn": record.arn, "creationDate": record.creation_date}
        if publish:  # (version 1, or the version an idempotent re-create published before)
            out["stateMachineVersionArn"], _ = await self.registry.publish_version(
                record.arn, description=version_description)
        return out

    async def describe_state_machine(self, body: dict[str, Any]) -> dict[str, Json]:
        """DescribeStateMachine."""
        c = Checker(body)
        arn = c.string("stateMachineArn", required=True, max_len=256)
        included = c.enum("includedData", ("ALL_DATA", "METADATA_ONLY"), "ALL_DATA")
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        if is_alias_arn(arn):
            raise api.ValidationException(f"Invalid Arn: an alias ARN cannot be described with DescribeStateMachine "
                                          f"(use DescribeStateMachineAlias): '{arn}'")
        out = (await self.registry.get(arn)).describe()
        if included == "METADATA_ONLY":
            out["definition"] = "{}"
        return out

    async def list_state_machines(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListStateMachines, sorted by name, paginated with an opaque token."""
        c = Checker(body)
        limit = c.integer("maxResults", lo=0, hi=1000)
        token = c.string("nextToken", max_len=1024)
        c.done()
        after = _decode_token(token) if token else None
        page = limit or _DEFAULT_PAGE
        records = [r for r in await self.registry.list() if after is None or r.name > after]
        items = [{"stateMachineArn": r.arn, "name": r.name, "type": r.type, "creationDate": r.creation_date}
                 for r in records[:page]]
        out: dict[str, Json] = {"stateMachines": items}
        if len(records) > page:
            out["nextToken"] = _encode_token(records[page - 1].name)
        return out

    async def update_state_machine(self, body: dict[str, Any]) -> dict[str, Json]:
        """UpdateStateMachine (definition, role, logging, tracing and encryption configurations)."""
        c = Checker(body)
        arn = c.string("stateMachineArn", required=True, max_len=256)
        definition = c.string("definition", max_len=MAX_DEFINITION_CHARS)
        role_arn = c.string("roleArn", max_len=256)
        logging = c.obj("loggingConfiguration")
        tracing = _tracing(c)
        encryption = _encryption(c)
        publish = c.boolean("publish")
        version_description = c.string("versionDescription", min_len=0, max_len=256)
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        refuse_qualified(arn)
        if definition is None and role_arn is None and logging is None and tracing is None and encryption is None:
            raise api.MissingRequiredParameter("Either the definition, the role ARN, the LoggingConfiguration, "
                                               "or the TracingConfiguration must be specified")
        if version_description is not None and not publish:
            raise api.ValidationException("Version description can only be set when publish is true")
        check_role_arn(role_arn)
        if logging is not None:
            _check_logging(logging)
        record = await self.registry.update(arn, definition=definition, role_arn=role_arn,
                                            logging_configuration=logging, tracing_configuration=tracing,
                                            encryption_configuration=encryption)
        out: dict[str, Json] = {"updateDate": round(time.time(), 3), "revisionId": record.revision_id}
        if publish:
            out["stateMachineVersionArn"], _ = await self.registry.publish_version(
                arn, description=version_description, revision_id=record.revision_id)
        return out

    async def delete_state_machine(self, body: dict[str, Any]) -> dict[str, Json]:
        """DeleteStateMachine (a machine that does not exist is not an error, as on AWS)."""
        c = Checker(body)
        arn = c.string("stateMachineArn", required=True, max_len=256)
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        refuse_qualified(arn)
        with contextlib.suppress(api.StateMachineDoesNotExist):
            await self.registry.delete(arn)
        return {}

    async def validate_state_machine_definition(self, body: dict[str, Any]) -> dict[str, Json]:
        """ValidateStateMachineDefinition: AWS's diagnostics shape, always HTTP 200."""
        c = Checker(body)
        definition = c.string("definition", required=True, min_len=1, max_len=MAX_DEFINITION_CHARS)
        sm_type = c.enum("type", ("STANDARD", "EXPRESS"), "STANDARD")
        severity = c.enum("severity", ("ERROR", "WARNING"), "ERROR")
        limit = c.integer("maxResults", lo=0, hi=100)
        c.done()
        assert definition is not None and sm_type is not None
        diagnostics: list[Diagnostic] = await offload(len(definition), Engine.validate, definition, sm_type=sm_type)
        shown = [d for d in diagnostics if d.severity == "ERROR" or severity == "WARNING"]
        cap = limit or 100
        return {"result": "FAIL" if any(d.severity == "ERROR" for d in diagnostics) else "OK",
                "diagnostics": [d.to_dict() for d in shown[:cap]], "truncated": len(shown) > cap}

    # -- executions -------------------------------------------------------------------------------

    def _start_args(self, body: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
        c = Checker(body)
        arn = c.string("stateMachineArn", required=True, max_len=256 + 81)
        name = c.string("name", max_len=80)
        input_text = c.string("input", min_len=0)
        trace_header = c.string("traceHeader", min_len=0, max_len=256)
        if trace_header is not None and not trace_header.isascii():
            c.fail("traceHeader", trace_header, "Member must satisfy regular expression pattern: \\p{ASCII}*")
        c.done()
        assert arn is not None
        arn, test_case = split_test_case(arn)
        if len(arn) > 256:  # (the limit is the ARN's; a "#TestCase" suffix comes on top)
            c.fail("stateMachineArn", arn, "Member must have length less than or equal to 256")
            c.done()
        check_state_machine_arn(arn)
        if input_text is not None and len(input_text) > MAX_PAYLOAD_BYTES // 4 \
                and len(input_text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
            raise api.ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {MAX_PAYLOAD_BYTES}")
        if test_case is not None:
            if self.mocks is None:
                raise api.ValidationException(f"Test case '{test_case}' was asked for, but this server has no mock "
                                              "configuration (start it with --mock-config FILE or SFN_MOCK_CONFIG)")
            machine = split_arn(arn)[0].rsplit(":", 1)[-1]
            if not self.mocks.has_test_case(machine, test_case):
                raise api.ValidationException(f"Test case '{test_case}' is not defined for state machine "
                                              f"'{machine}' in the mock configuration")
        return arn, name, input_text, test_case

    async def start_execution(self, body: dict[str, Any]) -> dict[str, Json]:
        """StartExecution: the asynchronous (at-least-once) Express start."""
        arn, name, input_text, test_case = self._start_args(body)
        return await self.client.start_execution(arn, input_text, name, test_case=test_case)

    async def start_sync_execution(self, body: dict[str, Any]) -> dict[str, Json] | bytes:
        """StartSyncExecution: waits for the outcome (workflow failures are still HTTP 200).

        With all data included (the default) the response is the worker's JSON, passed through unparsed.
        """
        arn, name, input_text, test_case = self._start_args(body)
        included = body.get("includedData")
        if included not in (None, "ALL_DATA", "METADATA_ONLY"):
            raise api.ValidationException(
                f"1 validation error detected: Value '{included}' at 'includedData' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]")
        if included != "METADATA_ONLY":
            return await self.client.start_sync_execution_json(arn, input_text, name, test_case=test_case)
        response = await self.client.start_sync_execution(arn, input_text, name, test_case=test_case)
        response = {k: v for k, v in response.items() if k not in ("input", "output")}
        response["inputDetails"] = {"included": False}
        response["outputDetails"] = {"included": False}
        return response

    async def test_state(self, body: dict[str, Any]) -> dict[str, Json]:
        """TestState: run one state on a given input (see :mod:`express_engine.api.teststate`)."""
        if self._test_state is None:
            raise api.UnknownOperationException("TestState is not enabled on this server")
        return await self._test_state(body)

    async def execution_operation(self, body: dict[str, Any]) -> dict[str, Json]:
        """DescribeExecution & co.: Express executions are not queryable (InvalidArn, as AWS answers)."""
        c = Checker(body)
        arn = c.string("executionArn", required=True, max_len=2048)
        c.done()
        assert arn is not None
        check_execution_arn(arn)
        return {}  # pragma: no cover - check_execution_arn always raises

    async def list_executions(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListExecutions: not supported for EXPRESS machines (StateMachineTypeNotSupported, as on AWS)."""
        c = Checker(body)
        arn = c.string("stateMachineArn", max_len=256)
        map_run = c.string("mapRunArn", max_len=2000)
        c.done()
        if arn is None:
            if map_run is not None:
                raise api.ValidationException("Map runs are not supported by express-engine")
            raise api.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        check_state_machine_arn(arn)
        await self.registry.get(arn)
        raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")

    # -- tags ----------------------------------------------------------------------------------------

    async def _tag_target(self, arn: str) -> None:
        kind = resource_type(arn)
        if kind != "stateMachine":
            raise api.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
        refuse_qualified(arn)  # (tags belong to the machine, not to its versions or aliases)
        try:
            await self.registry.get(arn)
        except api.StateMachineDoesNotExist:
            raise _with_fields(api.ResourceNotFound(f"Resource not found: '{arn}'"), resourceName=arn) from None

    async def tag_resource(self, body: dict[str, Any]) -> dict[str, Json]:
        """TagResource."""
        c = Checker(body)
        arn = c.string("resourceArn", required=True, max_len=256)
        raw = c.array("tags", required=True)
        c.done()
        assert arn is not None and raw is not None
        await self._tag_target(arn)
        tags = _tags_from_list(raw, arn)
        current = await self.registry.tags(arn)
        if len({**current, **tags}) > MAX_TAGS:
            raise _with_fields(api.TooManyTags(f"Too many tags: a resource can have at most {MAX_TAGS} tags"),
                               resourceName=arn)
        await self.registry.tag(arn, tags)
        return {}

    async def untag_resource(self, body: dict[str, Any]) -> dict[str, Json]:
        """UntagResource."""
        c = Checker(body)
        arn = c.string("resourceArn", required=True, max_len=256)
        keys = c.array("tagKeys", required=True)
        c.done()
        assert arn is not None and keys is not None
        if not all(isinstance(k, str) for k in keys):
            raise api.SerializationException("Expected a list of strings for 'tagKeys'")
        for i, key in enumerate(keys, 1):
            _check_length(c, f"tagKeys.{i}.member", key, 1, 128)
        c.done()
        await self._tag_target(arn)
        await self.registry.untag(arn, keys)
        return {}

    async def list_tags_for_resource(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListTagsForResource."""
        c = Checker(body)
        arn = c.string("resourceArn", required=True, max_len=256)
        c.done()
        assert arn is not None
        await self._tag_target(arn)
        return {"tags": _tag_list(await self.registry.tags(arn))}

    # -- versions and aliases (express_engine.runtime.versions has the rules) ------------------------------

    async def publish_state_machine_version(self, body: dict[str, Any]) -> dict[str, Json]:
        """PublishStateMachineVersion: a version of the machine's current revision (idempotent per revision)."""
        c = Checker(body)
        arn = c.string("stateMachineArn", required=True, max_len=256)
        revision_id = c.string("revisionId", min_len=0)
        description = c.string("description", min_len=0, max_len=256)
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        refuse_qualified(arn)
        version_arn, created = await self.registry.publish_version(arn, description=description,
                                                                   revision_id=revision_id)
        return {"creationDate": created, "stateMachineVersionArn": version_arn}

    async def list_state_machine_versions(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListStateMachineVersions, newest first."""
        arn, limit, token = _listing(Checker(body))
        refuse_qualified(arn)
        items = await self.registry.list_versions(arn)
        return _paged("stateMachineVersions", items, "stateMachineVersionArn", limit, token)

    async def delete_state_machine_version(self, body: dict[str, Any]) -> dict[str, Json]:
        """DeleteStateMachineVersion (ConflictException while an alias routes to it)."""
        c = Checker(body)
        arn = c.string("stateMachineVersionArn", required=True, max_len=2000)
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        if not is_version_arn(arn):
            raise api.ValidationException(f"Invalid Arn: not a state machine version ARN: '{arn}'")
        await self.registry.delete_version(arn)
        return {}

    async def create_state_machine_alias(self, body: dict[str, Any]) -> dict[str, Json]:
        """CreateStateMachineAlias: one version, or two with weights (idempotent for the same settings)."""
        c = Checker(body)
        name = c.string("name", required=True, max_len=80)
        description = c.string("description", min_len=0, max_len=256)
        routing = _routing(c, required=True)
        c.done()
        assert name is not None and routing is not None
        alias_arn, created = await self.registry.create_alias(name, description, routing)
        return {"stateMachineAliasArn": alias_arn, "creationDate": created}

    def _alias_arn(self, c: Checker) -> str:
        arn = c.string("stateMachineAliasArn", required=True, max_len=256)
        c.done()
        assert arn is not None
        check_state_machine_arn(arn)
        if not is_alias_arn(arn):
            raise api.ValidationException(f"Invalid Arn: not a state machine alias ARN: '{arn}'")
        return arn

    async def describe_state_machine_alias(self, body: dict[str, Any]) -> dict[str, Json]:
        """DescribeStateMachineAlias."""
        arn = self._alias_arn(Checker(body))
        result: dict[str, Json] = await self.registry.describe_alias(arn)
        return result

    async def update_state_machine_alias(self, body: dict[str, Any]) -> dict[str, Json]:
        """UpdateStateMachineAlias: its description and/or routing configuration."""
        c = Checker(body)
        description = c.string("description", min_len=0, max_len=256)
        routing = _routing(c, required=False)
        arn = self._alias_arn(c)
        if description is None and routing is None:
            exc = api.ValidationException("Either the description or the RoutingConfiguration must be specified")
            raise _with_fields(exc, reason="MISSING_REQUIRED_PARAMETER")
        return {"updateDate": await self.registry.update_alias(arn, description, routing)}

    async def delete_state_machine_alias(self, body: dict[str, Any]) -> dict[str, Json]:
        """DeleteStateMachineAlias (the versions it routes to stay)."""
        await self.registry.delete_alias(self._alias_arn(Checker(body)))
        return {}

    async def list_state_machine_aliases(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListStateMachineAliases, newest first; for a version ARN, the aliases that route to it."""
        arn, limit, token = _listing(Checker(body))
        if is_alias_arn(arn):
            raise api.ValidationException(f"Invalid Arn: expected a state machine or version ARN: '{arn}'")
        items = await self.registry.list_aliases(arn)
        return _paged("stateMachineAliases", items, "stateMachineAliasArn", limit, token)


def _listing(c: Checker) -> tuple[str, int | None, str | None]:
    """The checked ``stateMachineArn``, ``maxResults`` and ``nextToken`` of a request listing a machine's versions
    or aliases."""
    arn = c.string("stateMachineArn", required=True, max_len=256)
    limit = c.integer("maxResults", lo=0, hi=1000)
    token = c.string("nextToken", max_len=1024)
    c.done()
    assert arn is not None
    check_state_machine_arn(arn)
    return arn, limit, token


def _routing(c: Checker, *, required: bool) -> list[dict[str, Any]] | None:
    """The ``routingConfiguration`` member: 1 or 2 {stateMachineVersionArn, weight 0-100} (the rest: the registry)."""
    raw = c.array("routingConfiguration", required=required)
    if raw is None:
        return None
    if not 1 <= len(raw) <= 2:
        c.fail("routingConfiguration", raw, f"Member must have length {'greater' if not raw else 'less'} than or "
                                            f"equal to {1 if not raw else 2}")
    items = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise api.SerializationException(f"Expected an object for 'routingConfiguration.{i}'")
        inner = Checker(item, f"routingConfiguration.{i}.member.")
        inner.problems = c.problems
        inner.string("stateMachineVersionArn", required=True, max_len=256)
        weight = inner.integer("weight", lo=0, hi=100)
        if weight is None:
            inner.fail("weight", None, "Member must not be null")
        items.append(item)
    return items


def _paged(member: str, items: list[dict[str, Any]], key: str, limit: int | None,
           token: str | None) -> dict[str, Json]:
    """One page of ``items`` (in their order) after the item whose ``key`` the token names."""
    start = 0
    if token:
        after = _decode_token(token)
        keys = [item[key] for item in items]
        if after not in keys:
            raise api.InvalidToken(f"Invalid Token: '{token}'")
        start = keys.index(after) + 1
    page = limit or _DEFAULT_PAGE
    out: dict[str, Json] = {member: items[start:start + page]}
    if len(items) > start + page:
        out["nextToken"] = _encode_token(items[start + page - 1][key])
    return out
