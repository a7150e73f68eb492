"""Structural validation of ASL definitions, run once before compilation.

:func:`validate_definition` checks the shape of a parsed definition (see
:func:`~express_engine.asl.definition_json.parse_definition` for the text) the way
``CreateStateMachine`` / ``ValidateStateMachineDefinition`` do: required and unknown fields per
state type, value types and ranges, transitions, state names, Retry/Catch rules, QueryLanguage
rules and the Express-only restrictions. Every problem is collected (not just the first) in a
deterministic order: top-level fields, then each state in document order (a Parallel's branches and
a Map's processor right after the state that holds them), then each container's ``StartAt`` target
and reachability.

Expression-level syntax (intrinsic calls, JSONata, Choice operator values, payload templates) is
left to the compiler; JSONPath syntax of the state-level path fields is checked here.

Codes and messages are AWS's, as its CreateStateMachine and ValidateStateMachineDefinition answer them.
Locations are JSON-pointer-like, with AWS's ``[i]`` notation for array items (``/States/P/Branches[0]/States/X``).

AWS evidence, rule by rule ("snapshot": LocalStack's AWS-recorded
tests/aws/services/stepfunctions/v2/test_sfn_api_validation.snapshot.json; "case": a conformance case in
../shared/conformance, recorded against AWS; "quoted": AWS's answer quoted in public code, e.g. a
CloudFormation error; "docs": the Step Functions developer guide page named):

* not an object: "Definition must be a valid JSON object" (snapshot, not_a_definition[EMPTY_STRING]).
* required fields: "These fields are required: [States, StartAt]" at ``/`` (snapshot EMPTY_DICT,
  INVALID_BASE_NO_STARTAT); per state type: docs, each state type's page.
* unknown fields: "Field 'X' is not supported" at the object (quoted: ``_comment`` in a Catch, ``Message.$``
  at state level, ``TimeoutSeconds`` on a Parallel, ``QueryLanguage`` on an ItemProcessor or branch,
  ``ExecutionType`` in INLINE mode).
* the QueryLanguage rules: "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state
  machine" at the state (snapshot INVALID_DOWNGRADE_QUERY_LANGUAGE), "The QueryLanguage is set to ..., but
  field '...' is only supported for the ... QueryLanguage" at the state (quoted; docs, transforming-data.html).
* transitions: MISSING_TRANSITION_TARGET "Missing 'Next' target: X" (also for StartAt) and 'State "A" is not
  reachable.'; MISSING_END_STATE "Workflow has no terminal state" (quoted).
* Express: "Express state machine does not support '.waitForTaskToken' service integration " (snapshot
  ILLEGAL_WFTT; case test_illegal_callbacks); activities and ``.sync`` likewise (docs,
  choosing-workflow-type.html; the activity text is not recorded).
* Credentials: "The field 'RoleArn' is required but was missing" (case test_invalid_credentials_field);
  ``RoleArn.$`` accepted (an AWS sample, account-vending-machine, deploys it).
* Timestamp: "String does not match RFC3339 timestamp" (case test_wait_timestamp_invalid).
* intrinsic/JSONPath syntax: "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic
  function call" (case test_illegal_escapes).
* numbers: "Minimum value is 0" for a negative MaxConcurrency (quoted); the ranges (docs: each field's page,
  e.g. state-map-inline.html, state-task.html, concepts-error-handling.html for the Retry fields).
* names and labels: 80-character state names and unique names across the machine
  (docs, amazon-states-language-state-machine-structure.html), Map Label at most 40 characters without
  the listed characters (docs, state-map-distributed.html).
* ErrorEquals: "States.ALL must appear alone and at end of list" and non-empty (docs,
  concepts-error-handling.html); any other name may be matched, ``States.``-prefixed ones included (AWS
  samples deploy Retry/Catch on States.QuorumMet and the like).
* Task Resource: optimized integrations, their actions and patterns, see :mod:`.optimized_integrations`.

Rules whose *text* no AWS recording was found for (the verdict follows the docs): "Expected value of type
[...]", "There should only be one of the following fields", "This object should have only one of the
following fields", "Value should be one of the following", "Maximum value is", "Value cannot be empty",
"Value is not a valid resource ARN", "Value is not a Reference Path", the Label and state-name texts,
"Duplicate State name", "Express state machine does not support Activity ARN" (README, Supported ASL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import Diagnostic
from . import validation_rules as tables
from .definition_json import MAX_NESTING_DEPTH, NOT_AN_OBJECT_MESSAGE, TOO_DEEP_MESSAGE, too_deep_location
from .optimized_integrations import unknown_integration_message
from .paths import PathSyntaxError, compile_path, compile_reference_path
from .timestamps import is_timestamp

__all__ = ["express_refusal", "integration_pattern", "validate_definition"]

_SCHEMA = "SCHEMA_VALIDATION_FAILED"
_MISSING_TARGET = "MISSING_TRANSITION_TARGET"

_DOWNGRADE = "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
# The trailing space is in AWS's recorded message.
_EXPRESS_INTEGRATION = "Express state machine does not support '{}' service integration "

_INTEGER = "INTEGER"
_NUMBER = "NUMBER"


def validate_definition(definition: dict[str, Any], *, sm_type: str = "EXPRESS") -> list[Diagnostic]:
    """Check a parsed definition's structure; return every problem found (empty when valid).

    ``sm_type`` is ``"EXPRESS"`` (the default: activity ARNs and ``.sync``/``.waitForTaskToken``
    integrations are rejected) or ``"STANDARD"``.
    """
    if not isinstance(definition, dict):
        return [Diagnostic(_SCHEMA, NOT_AN_OBJECT_MESSAGE)]
    too_deep = too_deep_location(definition, MAX_NESTING_DEPTH)
    if too_deep is not None:
        return [Diagnostic("TOO_DEEPLY_NESTED", TOO_DEEP_MESSAGE, too_deep)]
    validator = _Validator(express=sm_type == "EXPRESS")
    validator.machine(definition)
    return validator.diagnostics


def integration_pattern(resource: Any) -> str | None:
    """``".waitForTaskToken"`` or ``".sync"`` for a service-integration Resource using that pattern, else None."""
    if type(resource) is not str or not tables.SERVICE_ARN_RE.match(resource):
        return None
    if resource.endswith(".waitForTaskToken"):
        return ".waitForTaskToken"
    return ".sync" if resource.endswith((".sync", ".sync:2")) else None


def express_refusal(resource: Any) -> str | None:
    """AWS's message refusing a Task ``Resource`` in an Express workflow (an activity ARN, a ``.sync`` or
    ``.waitForTaskToken`` integration), or None when Express workflows take it."""
    if type(resource) is not str:
        return None
    if tables.ACTIVITY_ARN_RE.match(resource):
        return "Express state machine does not support Activity ARN"
    pattern = integration_pattern(resource)
    return _EXPRESS_INTEGRATION.format(pattern) if pattern else None


def _is_expression(value: Any) -> bool:
    """Whether ``value`` is a JSONata expression string (``{% ... %}``)."""
    return type(value) is str and value.startswith("{%") and value.endswith("%}")


def _is_integer(value: Any) -> bool:
    return (type(value) is int) or (type(value) is float and value.is_integer())


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _type_name(kind: str) -> str:
    return f"Expected value of type [{kind}]"


class _Validator:
    """Walks one definition, collecting diagnostics in traversal order."""

    def __init__(self, *, express: bool) -> None:
        self.express = express
        self.diagnostics: list[Diagnostic] = []
        self.machine_jsonata = False
        self.state_names: set[str] = set()
        self.labels: set[str] = set()

    # ---- helpers ------------------------------------------------------------------------------

    def error(self, message: str, loc: str, code: str = _SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(code, message, loc or "/"))

    def unsupported(self, field: str, loc: str) -> None:
        self.error(f"Field '{field}' is not supported", loc)

    def required(self, obj: dict[str, Any], fields: Iterable[str], loc: str) -> None:
        missing = [f for f in fields if f not in obj]
        if missing:
            self.error(f"These fields are required: [{', '.join(missing)}]", loc)

    def one_of(self, obj: dict[str, Any], fields: tuple[str, ...], loc: str, *, required: bool) -> None:
        present = [f for f in fields if f in obj]
        if len(present) > 1:
            self.error(f"There should only be one of the following fields: [{', '.join(fields)}]", loc)
        elif required and not present:
            self.error(f"This object should have only one of the following fields: [{', '.join(fields)}]",
                       loc)

    def language_field(self, field: str, jsonata: bool, loc: str) -> None:
        have, other = ("JSONata", "JSONPath") if jsonata else ("JSONPath", "JSONata")
        self.error(
            f"The QueryLanguage is set to '{have}', but field '{field}' is only supported for the "
            f"'{other}' QueryLanguage",
            loc,
        )

    def string(self, value: Any, loc: str) -> bool:
        if type(value) is str:
            return True
        self.error(_type_name("STRING"), loc)
        return False

    def obj(self, value: Any, loc: str) -> bool:
        if type(value) is dict:
            return True
        self.error(_type_name("OBJECT"), loc)
        return False

    def array(self, value: Any, loc: str) -> bool:
        if type(value) is list:
            return True
        self.error(_type_name("ARRAY"), loc)
        return False

    def numeric(
        self, value: Any, loc: str, *, kind: str = _INTEGER, minimum: float | None = None,
        maximum: float | None = None, expression_ok: bool = False,
    ) -> None:
        """A literal number within range (or, where allowed, a JSONata expression)."""
        if expression_ok and _is_expression(value):
            return
        ok = _is_integer(value) if kind == _INTEGER else _is_number(value)
        if not ok:
            self.error(_type_name(kind), loc)
        elif minimum is not None and value < minimum:
            self.error(f"Minimum value is {minimum}", loc)
        elif maximum is not None and value > maximum:
            self.error(f"Maximum value is {maximum}", loc)

    def enum(self, value: Any, allowed: tuple[str, ...], loc: str) -> None:
        if type(value) is not str:
            self.error(_type_name("STRING"), loc)
        elif value not in allowed:
            self.error(f"Value should be one of the following: [{', '.join(allowed)}]", loc)

    def json_path(self, field: str, value: Any, loc: str) -> None:
        """InputPath/OutputPath: null or any JSONPath (``$``, ``$$`` or ``$var`` roots)."""
        if value is None or not self.string(value, loc):
            return
        try:
            compile_path(value)
        except PathSyntaxError:
            self.error(f"The value for the field '{field}' must be a valid JSONPath", loc)

    def reference_path(self, value: Any, loc: str, *, nullable: bool) -> None:
        """ResultPath: a reference path on the input (field names and indexes only)."""
        if (nullable and value is None) or not self.string(value, loc):
            return
        if not value.startswith("$"):
            self.error("Value is not a Reference Path: Reference path didn't start with '$'", loc)
            return
        try:
            compile_reference_path(value)
        except PathSyntaxError:
            self.error("Value is not a Reference Path", loc)

    def single_path(self, value: Any, loc: str) -> None:
        """``*Path`` fields: a single-node path on the input, the context object or a variable."""
        if not self.string(value, loc):
            return
        if not value.startswith("$"):
            self.error("Value is not a Reference Path: Reference path didn't start with '$'", loc)
            return
        try:
            path = compile_path(value)
        except PathSyntaxError:
            self.error("Value is not a Reference Path", loc)
            return
        if path.steps is None:
            self.error("Value is not a Reference Path", loc)

    def path_or_intrinsic(self, field: str, value: Any, loc: str) -> None:
        """ErrorPath/CausePath: a JSONPath, or an intrinsic call (whose syntax the compiler checks)."""
        if not self.string(value, loc) or value.startswith("States."):
            return
        try:
            compile_path(value)
        except PathSyntaxError:
            self.error(f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic "
                       "function call", loc)

    def query_language(self, owner: dict[str, Any], loc: str) -> None:
        value = owner["QueryLanguage"]
        self.enum(value, tables.QUERY_LANGUAGES, loc)

    # ---- machine ------------------------------------------------------------------------------

    def machine(self, definition: dict[str, Any]) -> None:
        self.required(definition, ("States", "StartAt"), "")
        for key, value in definition.items():
            loc = f"/{key}"
            if key not in tables.TOP_FIELDS:
                self.unsupported(key, "")
            elif key == "QueryLanguage":
                self.query_language(definition, loc)
            elif key == "Version":
                self.enum(value, ("1.0",), loc)
            elif key == "TimeoutSeconds":
                self.numeric(value, loc, minimum=0, maximum=tables.MAX_SECONDS)
            elif key in ("Comment", "StartAt"):
                self.string(value, loc)
            elif key == "States":
                self.obj(value, loc)
        # AWS: the language is JSONPath only when QueryLanguage is exactly "JSONPath" (or absent).
        self.machine_jsonata = "QueryLanguage" in definition and definition["QueryLanguage"] != "JSONPath"
        self.container(definition, "", top=True)

    def sub_machine(self, sub: Any, loc: str, allowed: frozenset[str]) -> None:
        """A Parallel branch or a Map ItemProcessor/Iterator."""
        if not self.obj(sub, loc):
            return
        self.required(sub, ("StartAt", "States"), loc)
        for key, value in sub.items():
            if key not in allowed:
                self.unsupported(key, loc)
            elif key in ("Comment", "StartAt"):
                self.string(value, f"{loc}/{key}")
            elif key == "States":
                self.obj(value, f"{loc}/{key}")
            elif key == "ProcessorConfig":
                self.processor_config(value, f"{loc}/{key}")
        self.container(sub, loc, top=False)

    def processor_config(self, config: Any, loc: str) -> None:
        if not self.obj(config, loc):
            return
        for key, value in config.items():
            if key == "Mode":
                self.enum(value, tables.PROCESSOR_MODES, f"{loc}/{key}")
            elif key == "ExecutionType":
                self.enum(value, tables.EXECUTION_TYPES, f"{loc}/{key}")
            else:
                self.unsupported(key, loc)
        if config.get("Mode") == "DISTRIBUTED":
            self.required(config, ("ExecutionType",), loc)
        elif "ExecutionType" in config:
            self.unsupported("ExecutionType", loc)

    def container(self, owner: dict[str, Any], loc: str, *, top: bool) -> None:
        """Validate the states of one container, then its StartAt target and reachability."""
        states = owner.get("States")
        if type(states) is not dict:
            return
        names = set(states)
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            edges[name] = self.state(name, state, f"{loc}/States/{name}", names)
        start = owner.get("StartAt")
        if type(start) is not str:
            return
        start_ok = start in names
        if not start_ok:
            self.error(f"Missing 'Next' target: {start}", f"{loc}/StartAt", _MISSING_TARGET)
        if top and not any(_is_terminal(s) for s in states.values()):
            # AWS reports only this (no "not reachable") when the top level has no terminal state.
            self.diagnostics.append(Diagnostic("MISSING_END_STATE", "Workflow has no terminal state"))
            return
        reachable: set[str] = set()
        if start_ok:
            pending = [start]
            reachable.add(start)
            while pending:
                for target in edges[pending.pop()]:
                    if target in names and target not in reachable:
                        reachable.add(target)
                        pending.append(target)
        for name in states:
            if name not in reachable:
                self.error(f'State "{name}" is not reachable.', f"{loc}/States/{name}", _MISSING_TARGET)

    # ---- states -------------------------------------------------------------------------------

    def state(self, name: str, state: Any, loc: str, siblings: set[str]) -> list[str]:
        """Validate one state; return the names it can transition to."""
        if len(name) > tables.MAX_STATE_NAME_LENGTH:
            self.error(
                "Invalid State name: State exceeds the 80-character limit allowed by the service", loc,
                "INVALID_STATE_NAME",
            )
        if name in self.state_names:
            self.error(f"Duplicate State name: {name}", loc, "DUPLICATE_STATE_NAME")
        self.state_names.add(name)
        if not self.obj(state, loc):
            return []
        edges = _edges(state)
        kind = state.get("Type")
        if "Type" not in state:
            self.required(state, ("Type",), loc)
            return edges
        if type(kind) is not str or kind not in tables.STATE_FIELDS:
            self.error(
                f"The field 'Type' should have one of these values: [{', '.join(tables.STATE_TYPES)}]", f"{loc}/Type"
            )
            return edges

        # Branch/processor states inherit the machine's language, never the enclosing state's.
        jsonata = self.machine_jsonata
        downgraded = False
        if "QueryLanguage" in state:
            self.query_language(state, f"{loc}/QueryLanguage")
            jsonata = state["QueryLanguage"] != "JSONPath"
            if self.machine_jsonata and not jsonata:
                self.error(_DOWNGRADE, loc)
                downgraded = True

        allowed = tables.STATE_FIELDS[kind]
        for key in state:
            if key in tables.COMMON_FIELDS:
                continue
            if key not in allowed:
                self.unsupported(key, loc)
            elif not downgraded and key in (tables.JSONPATH_ONLY if jsonata else tables.JSONATA_ONLY):
                # AWS names no other-language fields on top of a refused downgrade.
                self.language_field(key, jsonata, loc)
        self.required(state, tables.REQUIRED_FIELDS.get(kind, ()), loc)
        if kind in tables.TRANSITIONING_TYPES:
            self.next_or_end(state, loc)
        for pair in tables.EXCLUSIVE_PAIRS.get(kind, ()):
            self.one_of(state, pair, loc, required=False)
        if kind == "Wait":
            self.one_of(state, tables.WAIT_FIELDS, loc, required=True)
        elif kind == "Map":
            self.one_of(state, ("ItemProcessor", "Iterator"), loc, required=True)

        foreign = frozenset() if downgraded else (tables.JSONPATH_ONLY if jsonata else tables.JSONATA_ONLY)
        for key, value in state.items():
            if (key in allowed and key not in foreign) or key == "Comment":
                self.field(key, value, f"{loc}/{key}", jsonata and not downgraded)
        if kind == "Task":
            self.task_resource(state, loc)
        if kind == "Choice":
            self.choices(state, loc, jsonata and not downgraded)
        for key in ("Retry", "Catch"):
            if key in allowed and key in state:
                self.retry_or_catch(key, state[key], f"{loc}/{key}", jsonata and not downgraded)
        self.targets(state, loc, siblings)

        if kind == "Parallel" and type(state.get("Branches")) is list:
            for i, branch in enumerate(state["Branches"]):
                self.sub_machine(branch, f"{loc}/Branches[{i}]", tables.BRANCH_FIELDS)
        elif kind == "Map":
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    self.sub_machine(state[key], f"{loc}/{key}", tables.PROCESSOR_FIELDS)
        return edges

    def next_or_end(self, state: dict[str, Any], loc: str) -> None:
        has_next = "Next" in state
        end = state.get("End")
        if has_next and end is True:
            self.error("There should only be one of the following fields: [Next, End]", loc)
        elif not has_next and end is not True:
            self.error("This object should have only one of the following fields: [Next, End]", loc)

    def field(self, key: str, value: Any, loc: str, jsonata: bool) -> None:
        """Type/range/syntax check of one state field's value."""
        if key in ("Comment", "Next", "Default", "Error", "Cause"):
            self.string(value, loc)
        elif key == "End":
            if type(value) is not bool:
                self.error(_type_name("BOOLEAN"), loc)
        elif key in ("InputPath", "OutputPath"):
            self.json_path(key, value, loc)
        elif key == "ResultPath":
            self.reference_path(value, loc, nullable=True)
        elif key in tables.SINGLE_PATH_FIELDS:
            self.single_path(value, loc)
        elif key in ("ErrorPath", "CausePath"):
            self.path_or_intrinsic(key, value, loc)
        elif key == "Parameters":
            # A payload template: AWS also takes an array here (an AWS sample Pass state deployed as
            # EXPRESS uses one), templating the objects inside it.
            if type(value) is not list:
                self.obj(value, loc)
        elif key in ("ResultSelector", "Assign"):
            self.obj(value, loc)
        elif key in ("Arguments", "ItemSelector"):
            if not _is_expression(value):
                self.obj(value, loc)
        elif key == "Items":
            if not _is_expression(value):
                self.array(value, loc)
        elif key == "Seconds":
            self.numeric(value, loc, minimum=0, maximum=tables.MAX_SECONDS, expression_ok=jsonata)
        elif key == "Timestamp":
            if jsonata and _is_expression(value):
                return
            if self.string(value, loc) and not is_timestamp(value):
                self.error("String does not match RFC3339 timestamp", loc)
        elif key in ("TimeoutSeconds", "HeartbeatSeconds"):
            self.numeric(value, loc, minimum=1, maximum=tables.MAX_SECONDS, expression_ok=jsonata)
        elif key in ("MaxConcurrency", "ToleratedFailureCount"):
            self.numeric(value, loc, minimum=0, expression_ok=jsonata)
        elif key == "ToleratedFailurePercentage":
            self.numeric(value, loc, kind=_NUMBER, minimum=0, maximum=100, expression_ok=jsonata)
        elif key == "Resource":
            if self.string(value, loc) and not tables.RESOURCE_ARN_RE.match(value):
                self.error("Value is not a valid resource ARN", loc)
        elif key == "Credentials":
            if self.obj(value, loc) and "RoleArn" not in value and "RoleArn.$" not in value:
                self.error("The field 'RoleArn' is required but was missing", loc)
        elif key in ("Branches", "Choices"):
            if self.array(value, loc) and not value:
                self.error("Value cannot be empty", loc)
        elif key == "Label":
            self.label(value, loc)
        elif key in ("ItemReader", "ItemBatcher", "ResultWriter") and self.obj(value, loc):
            self.map_config(key, value, loc)

    def map_config(self, key: str, config: dict[str, Any], loc: str) -> None:
        """A literal and its ``...Path`` twin exclude each other in ItemBatcher and ItemReader.ReaderConfig
        ("specify either ..., but not both": AWS's input-output-itembatcher.html and
        input-output-itemreader.html)."""
        if key == "ItemBatcher":
            for pair in tables.ITEM_BATCHER_PAIRS:
                self.one_of(config, pair, loc, required=False)
        elif key == "ItemReader" and type(config.get("ReaderConfig")) is dict:
            self.one_of(config["ReaderConfig"], ("MaxItems", "MaxItemsPath"), f"{loc}/ReaderConfig", required=False)

    def label(self, value: Any, loc: str) -> None:
        if not self.string(value, loc):
            return
        if not value or len(value) > tables.MAX_LABEL_LENGTH:
            self.error(
                "Invalid Label name: Label exceeds the 40-character limit allowed by the service", loc,
                "INVALID_LABEL_NAME",
            )
        elif tables.LABEL_FORBIDDEN_RE.search(value):
            self.error("Invalid Label name: Label contains invalid characters", loc, "INVALID_LABEL_NAME")
        if value in self.labels:
            self.error(f"Duplicate Label name: {value}", loc, "DUPLICATE_LABEL_NAME")
        self.labels.add(value)

    def task_resource(self, state: dict[str, Any], loc: str) -> None:
        """Task resources: the Express-only restrictions (AWS-recorded messages), then, for every machine
        type, the optimized integrations AWS offers (see :mod:`.optimized_integrations`)."""
        resource = state.get("Resource")
        refusal = express_refusal(resource) if self.express else None
        if refusal is None:
            refusal = unknown_integration_message(resource)
        if refusal is not None:
            self.error(refusal, f"{loc}/Resource")

    def targets(self, state: dict[str, Any], loc: str, siblings: set[str]) -> None:
        """Transitions must name a state of the same container (AWS says 'Next' for all of them)."""

        def check(target: Any, at: str) -> None:
            if type(target) is str and target not in siblings:
                self.error(f"Missing 'Next' target: {target}", at, _MISSING_TARGET)

        check(state.get("Next"), f"{loc}/Next")
        check(state.get("Default"), f"{loc}/Default")
        for key in ("Choices", "Catch"):
            items = state.get(key)
            if type(items) is list:
                for i, item in enumerate(items):
                    if type(item) is dict:
                        check(item.get("Next"), f"{loc}/{key}[{i}]/Next")

    # ---- Choice rules ------------------------------------------------------------------------

    def choices(self, state: dict[str, Any], loc: str, jsonata: bool) -> None:
        rules = state.get("Choices")
        if type(rules) is not list:
            return
        for i, rule in enumerate(rules):
            at = f"{loc}/Choices[{i}]"
            if not self.obj(rule, at):
                continue
            if jsonata:
                self.required(rule, ("Condition", "Next"), at)
                for key in rule:
                    if key in tables.JSONPATH_RULE_FIELDS:
                        self.language_field(key, True, at)
                    elif key not in tables.JSONATA_RULE_FIELDS:
                        self.unsupported(key, at)
            else:
                self.required(rule, ("Next",), at)
                for key in rule:
                    if key in ("Condition", "Output"):
                        self.language_field(key, False, at)
                    elif key not in tables.JSONPATH_RULE_FIELDS and key not in ("Next", "Assign", "Comment"):
                        self.unsupported(key, at)
                self.nested_rules(rule, at)
            if "Next" in rule:
                self.string(rule["Next"], f"{at}/Next")
            if "Assign" in rule:
                self.obj(rule["Assign"], f"{at}/Assign")

    def nested_rules(self, rule: dict[str, Any], loc: str) -> None:
        """Rules inside And/Or/Not carry no Next (or Assign); recursion is bounded by the depth check."""
        for key in ("And", "Or", "Not"):
            inner = rule.get(key)
            subs = [(inner, f"{loc}/{key}")] if key == "Not" else (
                [(r, f"{loc}/{key}[{j}]") for j, r in enumerate(inner)] if type(inner) is list else []
            )
            for sub, at in subs:
                if type(sub) is not dict:
                    continue
                for field in sub:
                    if field in ("Condition", "Output"):
                        self.language_field(field, False, at)
                    elif field not in tables.JSONPATH_RULE_FIELDS and field != "Comment":
                        self.unsupported(field, at)
                self.nested_rules(sub, at)

    # ---- Retry / Catch -----------------------------------------------------------------------

    def retry_or_catch(self, key: str, items: Any, loc: str, jsonata: bool) -> None:
        if not self.array(items, loc):
            return
        catch = key == "Catch"
        last = len(items) - 1
        for i, item in enumerate(items):
            at = f"{loc}[{i}]"
            if not self.obj(item, at):
                continue
            self.required(item, ("ErrorEquals", "Next") if catch else ("ErrorEquals",), at)
            for field, value in item.items():
                fat = f"{at}/{field}"
                if field not in (tables.CATCHER_FIELDS if catch else tables.RETRIER_FIELDS):
                    self.unsupported(field, at)
                elif catch and (field == "ResultPath" if jsonata else field == "Output"):
                    self.language_field(field, jsonata, at)
                elif field == "ErrorEquals":
                    self.error_equals(value, fat, is_last=i == last)
                elif field in ("Comment", "Next"):
                    self.string(value, fat)
                elif field == "ResultPath":
                    self.reference_path(value, fat, nullable=True)
                elif field == "Assign":
                    self.obj(value, fat)
                elif field == "IntervalSeconds":
                    self.numeric(value, fat, minimum=1, maximum=tables.MAX_SECONDS)
                elif field == "MaxAttempts":
                    self.numeric(value, fat, minimum=0, maximum=tables.MAX_SECONDS)
                elif field == "BackoffRate":
                    self.numeric(value, fat, kind=_NUMBER, minimum=1.0)
                elif field == "MaxDelaySeconds":
                    self.numeric(value, fat, minimum=1, maximum=tables.MAX_DELAY_SECONDS)
                elif field == "JitterStrategy":
                    self.enum(value, tables.JITTER_STRATEGIES, fat)

    def error_equals(self, names: Any, loc: str, *, is_last: bool) -> None:
        if not self.array(names, loc):
            return
        if not names:
            self.error("Value cannot be empty", loc)
            return
        if "States.ALL" in names and (len(names) > 1 or not is_last):
            self.error("States.ALL must appear alone and at end of list", loc)
        for j, name in enumerate(names):
            # Any string: AWS accepts matching unknown "States."-prefixed names (the ASL text forbids only
            # *raising* them), e.g. States.QuorumMet in AWS's own deployed sample machines.
            self.string(name, f"{loc}[{j}]")


def _edges(state: dict[str, Any]) -> list[str]:
    """The state names a state can transition to (Next, Default, Choices[].Next, Catch[].Next)."""
    out = [state[k] for k in ("Next", "Default") if type(state.get(k)) is str]
    for key in ("Choices", "Catch"):
        items = state.get(key)
        if type(items) is list:
            out.extend(item["Next"] for item in items if type(item) is dict and type(item.get("Next")) is str)
    return out


def _is_terminal(state: Any) -> bool:
    return type(state) is dict and (state.get("Type") in ("Succeed", "Fail") or state.get("End") is True)
