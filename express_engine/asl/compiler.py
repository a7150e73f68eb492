"""Definition → :class:`~express_engine.asl.model.StateMachine`, once per state machine revision.

:func:`compile_definition` validates the definition (structure first, then every expression while
compiling it) and raises :class:`~express_engine.errors.DefinitionError` listing the problems; an
invalid definition never produces a machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, cast

from ..errors import DefinitionError, Diagnostic
from ..jsonutil import Json
from . import model as m
from .choice import compile_rule
from .definition_json import parse_definition
from .intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic
from .paths import (
    Env,
    Path,
    PathSyntaxError,
    ReferencePath,
    compile_path,
    compile_reference_path,
)
from .references import state_references
from .templates import compile_dynamic_value, compile_template
from .validate import validate_definition

_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]*):(\d*):function:([^:]+)(?::.+)?$")
_STATES_ARN = re.compile(r"^arn:aws[a-z-]*:states:([a-z0-9-]*):(\d*):([a-z0-9-]+)(?::(.+))?$")
_DEFAULT_REGION = "us-east-1"
# Variable names (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html, "Variable
# name syntax"): Unicode identifiers as in Unicode Standard Annex #31, an ID_Start character then ID_Continue
# characters (like JavaScript names, so no "-"), at most 80 characters; "states" is reserved. Python's
# identifiers are the same Annex #31 names (XID_Start/XID_Continue, and "_" may start one, as in JavaScript).
_MAX_VARIABLE_NAME = 80


def _is_variable_name(name: str) -> bool:
    return name.isidentifier() and len(name) <= _MAX_VARIABLE_NAME and name != "states"


#: ``$states`` fields each JSONata field may read (AWS rejects the others at create time).
_BASE_STATES_FIELDS = frozenset({"input", "context"})
_RESULT_STATES_FIELDS = _BASE_STATES_FIELDS | {"result"}
_ERROR_STATES_FIELDS = _BASE_STATES_FIELDS | {"errorOutput"}


def _fail(message: str, location: str, code: str = "SCHEMA_VALIDATION_FAILED") -> DefinitionError:
    return DefinitionError([Diagnostic(code, message, location)])


def compile_definition(definition: str | Mapping[str, Json], *, sm_type: str = "EXPRESS") -> m.StateMachine:
    """Validate and compile a definition (JSON text or an already-parsed object).

    Raises :class:`DefinitionError` with every structural problem, or the first expression problem.
    """
    if isinstance(definition, str):
        parsed, diagnostics = parse_definition(definition)
        if diagnostics or parsed is None:
            raise DefinitionError(diagnostics or [Diagnostic("SCHEMA_VALIDATION_FAILED",
                                                             "Definition must be a valid JSON object")])
    elif isinstance(definition, Mapping):
        parsed = dict(definition)
    else:
        raise DefinitionError([Diagnostic("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object")])
    problems = [d for d in validate_definition(parsed, sm_type=sm_type) if d.severity == "ERROR"]
    if problems:
        raise DefinitionError(problems)
    return _Compiler(parsed).machine()


def parse_resource(arn: str) -> m.Resource:
    """Classify a Task ``Resource`` ARN."""
    lam = _LAMBDA_ARN.match(arn)
    if lam:
        return m.Resource(arn, "lambda-arn", "lambda", "invoke", lam.group(3), lam.group(1) or _DEFAULT_REGION)
    st = _STATES_ARN.match(arn)
    if st and st.group(3):
        service, api = st.group(3), st.group(4) or ""
        region = st.group(1) or _DEFAULT_REGION
        if service == "lambda" and api == "invoke":
            return m.Resource(arn, "lambda-invoke", "lambda", "invoke", None, region)
        if service == "aws-sdk":
            svc, _, action = api.partition(":")
            return m.Resource(arn, "service", f"aws-sdk:{svc}", action, None, region)
        return m.Resource(arn, "service", service, api, None, region)
    return m.Resource(arn, "other", "other", arn, None, _DEFAULT_REGION)


def _successors(state: m.State) -> list[int]:
    """The states ``state`` can go to next (Catch targets included)."""
    out = [state.next] if state.next is not None else []
    if isinstance(state, m.Choice):
        out.extend(rule.next for rule in state.rules)
        if state.default is not None:
            out.append(state.default)
    out.extend(c.next for c in getattr(state, "catchers", ()))
    return out


def _has_cycle(states: tuple[m.State, ...]) -> bool:
    """Whether the transitions between ``states`` form a loop (iterative depth-first search)."""
    colour = [0] * len(states)  # 0 unseen, 1 on the current path, 2 done
    for root in range(len(states)):
        if colour[root]:
            continue
        colour[root] = 1
        stack = [(root, iter(_successors(states[root])))]
        while stack:
            node, succ = stack[-1]
            nxt = next(succ, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return True
            elif colour[nxt] == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(_successors(states[nxt]))))
    return False


class _Compiler:
    """Walks a validated definition once and builds the immutable model."""

    def __init__(self, definition: dict[str, Json]) -> None:
        self.definition = definition
        self.jsonata_machine = definition.get("QueryLanguage") == "JSONata"
        self.resources: list[m.Resource] = []
        self.variable_refs: dict[str, tuple[str, ...]] = {}
        self.fanout = 0

    def machine(self) -> m.StateMachine:
        graph = self.graph(self.definition, "")
        timeout = self.definition.get("TimeoutSeconds")
        return m.StateMachine(
            graph=graph,
            definition=self.definition,
            timeout_seconds=float(timeout) if isinstance(timeout, (int, float)) else None,
            jsonata=self.jsonata_machine,
            resources=tuple(self.resources),
            variable_references=self.variable_refs,
            fanout_states=self.fanout,
        )

    # -- graphs and states ---------------------------------------------------------------------

    def graph(self, node: Mapping[str, Json], location: str) -> m.Graph:
        states_def: Mapping[str, Any] = node["States"]
        index_of = {name: i for i, name in enumerate(states_def)}
        states = tuple(
            self.state(name, body, index_of, f"{location}/States/{name}") for name, body in states_def.items()
        )
        sync = all(isinstance(s, (m.Pass, m.Choice, m.Succeed, m.Fail)) for s in states)
        return m.Graph(states=states, start=index_of[node["StartAt"]], index_of=index_of, sync=sync,
                       loops=_has_cycle(states))

    def state(self, name: str, body: Mapping[str, Any], index_of: Mapping[str, int], loc: str) -> m.State:
        language = body.get("QueryLanguage")
        jsonata = language == "JSONata" or (language is None and self.jsonata_machine)
        common: dict[str, Any] = {
            "name": name,
            "next": index_of[body["Next"]] if "Next" in body else None,
            "jsonata": jsonata,
            "input_path": self.io_path(body, "InputPath", loc),
            "output_path": self.io_path(body, "OutputPath", loc),
            "needs_context": False,
        }
        common.update(self._common_jsonata(body, body["Type"], jsonata, loc))
        kind = body["Type"]
        builder: Callable[..., m.State] = getattr(self, f"build_{kind.lower()}")
        state = builder(body, common, index_of, loc, jsonata)
        templates = _jsonata_exprs(state) if jsonata else []
        if any("context" in e.states_fields for e in templates):
            state = replace(state, needs_context=True)
        refs = state_references(body, jsonata, templates)
        if refs:
            self.variable_refs[name] = refs
        return state

    def _common_jsonata(self, body: Mapping[str, Any], kind: str, jsonata: bool, loc: str) -> dict[str, Any]:
        fields = _RESULT_STATES_FIELDS if kind in ("Task", "Parallel", "Map") else _BASE_STATES_FIELDS
        return {
            "assign": self.assign(body["Assign"], jsonata, f"{loc}/Assign", fields) if "Assign" in body else None,
            "output": self.jsonata(body["Output"], "Output", f"{loc}/Output", fields) if "Output" in body else None,
        }

    def build_pass(self, body: Mapping[str, Any], common: dict[str, Any], _ix: Any, loc: str, _j: bool) -> m.State:
        return m.Pass(
            **common,
            result=body.get("Result"),
            has_result="Result" in body,
            parameters=self.template(body, "Parameters", loc),
            result_path=self.result_path(body, loc),
        )

    def build_task(self, body: Mapping[str, Any], common: dict[str, Any], index_of: Mapping[str, int],
                   loc: str, jsonata: bool) -> m.State:
        resource = parse_resource(body["Resource"])
        self.resources.append(resource)
        timeout = body.get("TimeoutSeconds")
        heartbeat = body.get("HeartbeatSeconds")
        timeout_expr = None
        if isinstance(timeout, str):
            timeout_expr, timeout = self.jsonata(timeout, "TimeoutSeconds", f"{loc}/TimeoutSeconds"), None
        return m.Task(
            **common,
            resource=resource,
            parameters=self.template(body, "Parameters", loc),
            arguments=self.jsonata(body["Arguments"], "Arguments", f"{loc}/Arguments")
            if "Arguments" in body else None,
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.result_path(body, loc),
            timeout_seconds=float(timeout) if timeout is not None else None,
            timeout_path=self.ref_path(body, "TimeoutSecondsPath", loc),
            timeout_expr=timeout_expr,
            heartbeat_seconds=float(heartbeat) if isinstance(heartbeat, (int, float)) else None,
            credentials=self.template(body, "Credentials", loc),
            retriers=self.retriers(body, loc),
            catchers=self.catchers(body, index_of, loc, jsonata),
        )

    def build_choice(self, body: Mapping[str, Any], common: dict[str, Any], index_of: Mapping[str, int],
                     loc: str, jsonata: bool) -> m.State:
        rules = []
        for i, rule in enumerate(body["Choices"]):
            rloc = f"{loc}/Choices[{i}]"
            if jsonata:
                predicate = None
                condition = self.jsonata(rule["Condition"], f"Choices[{i}]/Condition", f"{rloc}/Condition")
            else:
                predicate, condition = compile_rule(rule, rloc), None
            rules.append(m.ChoiceRule(
                predicate=predicate,
                condition=condition,
                next=index_of[rule["Next"]],
                assign=self.assign(rule["Assign"], jsonata, f"{rloc}/Assign", field=f"Choices[{i}]/Assign")
                if "Assign" in rule else None,
                output=self.jsonata(rule["Output"], f"Choices[{i}]/Output", f"{rloc}/Output")
                if "Output" in rule else None,
                index=i,
            ))
        default = body.get("Default")
        return m.Choice(**common, rules=tuple(rules), default=index_of[default] if default is not None else None)

    def build_wait(self, body: Mapping[str, Any], common: dict[str, Any], _ix: Any, loc: str,
                   jsonata: bool) -> m.State:
        seconds, timestamp = body.get("Seconds"), body.get("Timestamp")
        seconds_expr = timestamp_expr = None
        if jsonata and isinstance(seconds, str):
            seconds_expr, seconds = self.jsonata(seconds, "Seconds", f"{loc}/Seconds"), None
        if jsonata and isinstance(timestamp, str) and timestamp.startswith("{%"):
            timestamp_expr, timestamp = self.jsonata(timestamp, "Timestamp", f"{loc}/Timestamp"), None
        return m.Wait(
            **common,
            seconds=float(seconds) if seconds is not None else None,
            timestamp=timestamp,
            seconds_path=self.ref_path(body, "SecondsPath", loc),
            timestamp_path=self.ref_path(body, "TimestampPath", loc),
            seconds_expr=seconds_expr,
            timestamp_expr=timestamp_expr,
        )

    def build_succeed(self, body: Mapping[str, Any], common: dict[str, Any], *_: Any) -> m.State:
        return m.Succeed(**common)

    def build_fail(self, body: Mapping[str, Any], common: dict[str, Any], _ix: Any, loc: str,
                   jsonata: bool) -> m.State:
        error, cause = body.get("Error"), body.get("Cause")
        error_expr = cause_expr = None
        if jsonata:
            if isinstance(error, str) and error.startswith("{%"):
                error_expr, error = self.jsonata(error, "Error", f"{loc}/Error"), None
            if isinstance(cause, str) and cause.startswith("{%"):
                cause_expr, cause = self.jsonata(cause, "Cause", f"{loc}/Cause"), None
        return m.Fail(
            **common,
            error=error,
            cause=cause,
            error_path=self.dynamic(body, "ErrorPath", loc),
            cause_path=self.dynamic(body, "CausePath", loc),
            error_expr=error_expr,
            cause_expr=cause_expr,
        )

    def build_parallel(self, body: Mapping[str, Any], common: dict[str, Any], index_of: Mapping[str, int],
                       loc: str, jsonata: bool) -> m.State:
        self.fanout += 1
        branches = tuple(self.graph(b, f"{loc}/Branches[{i}]") for i, b in enumerate(body["Branches"]))
        return m.Parallel(
            **common,
            branches=branches,
            parameters=self.template(body, "Parameters", loc),
            arguments=self.jsonata(body["Arguments"], "Arguments", f"{loc}/Arguments")
            if "Arguments" in body else None,
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.result_path(body, loc),
            retriers=self.retriers(body, loc),
            catchers=self.catchers(body, index_of, loc, jsonata),
        )

    def build_map(self, body: Mapping[str, Any], common: dict[str, Any], index_of: Mapping[str, int],
                  loc: str, jsonata: bool) -> m.State:
        self.fanout += 1
        if "ItemProcessor" in body:
            proc_def, proc_loc = body["ItemProcessor"], f"{loc}/ItemProcessor"
        else:
            proc_def, proc_loc = body["Iterator"], f"{loc}/Iterator"
        config = proc_def.get("ProcessorConfig") or {}
        selector_key = "ItemSelector" if "ItemSelector" in body else "Parameters"
        item_selector = item_selector_expr = None
        if selector_key in body:
            if jsonata:
                item_selector_expr = self.jsonata(body[selector_key], selector_key, f"{loc}/{selector_key}")
            else:
                item_selector = compile_template(body[selector_key], f"{loc}/{selector_key}")
        max_conc = body.get("MaxConcurrency", 0)
        max_conc_expr = None
        if isinstance(max_conc, str):
            max_conc_expr, max_conc = self.jsonata(max_conc, "MaxConcurrency", f"{loc}/MaxConcurrency"), 0
        batcher = body.get("ItemBatcher") or {}
        tol_pct = body.get("ToleratedFailurePercentage")
        tol_count = body.get("ToleratedFailureCount")
        tol_pct_expr = tol_count_expr = None
        if isinstance(tol_pct, str):
            tol_pct_expr = self.jsonata(tol_pct, "ToleratedFailurePercentage", f"{loc}/ToleratedFailurePercentage")
        if isinstance(tol_count, str):
            tol_count_expr = self.jsonata(tol_count, "ToleratedFailureCount", f"{loc}/ToleratedFailureCount")
        return m.Map(
            **common,
            processor=self.graph(proc_def, proc_loc),
            distributed=config.get("Mode") == "DISTRIBUTED",
            items_path=self.ref_path(body, "ItemsPath", loc, plain=False),
            items_expr=self.jsonata(body["Items"], "Items", f"{loc}/Items") if "Items" in body else None,
            item_selector=item_selector,
            item_selector_expr=item_selector_expr,
            max_concurrency=int(max_conc),
            max_concurrency_path=self.ref_path(body, "MaxConcurrencyPath", loc),
            max_concurrency_expr=max_conc_expr,
            tolerated_count=int(tol_count) if isinstance(tol_count, (int, float)) else None,
            tolerated_count_path=self.ref_path(body, "ToleratedFailureCountPath", loc),
            tolerated_count_expr=tol_count_expr,
            tolerated_percentage=float(tol_pct) if isinstance(tol_pct, (int, float)) else None,
            tolerated_percentage_path=self.ref_path(body, "ToleratedFailurePercentagePath", loc),
            tolerated_percentage_expr=tol_pct_expr,
            batch_max_items=batcher.get("MaxItemsPerBatch") if batcher else None,
            batch_max_bytes=batcher.get("MaxInputBytesPerBatch") if batcher else None,
            batch_input=compile_template(batcher["BatchInput"], f"{loc}/ItemBatcher/BatchInput")
            if batcher and "BatchInput" in batcher else None,
            label=body.get("Label"),
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.result_path(body, loc),
            retriers=self.retriers(body, loc),
            catchers=self.catchers(body, index_of, loc, jsonata),
        )

    # -- fields ---------------------------------------------------------------------------------

    def io_path(self, body: Mapping[str, Any], key: str, loc: str) -> Path | None:
        if key not in body:
            return None
        text = body[key]
        if text is None:
            return cast(Path, m.NULL)
        try:
            path = compile_path(text)
        except PathSyntaxError as exc:
            raise _fail(f"The value for the field '{key}' must be a valid JSONPath: {exc}", f"{loc}/{key}") from None
        return None if path.is_root else path

    def ref_path(self, body: Mapping[str, Any], key: str, loc: str, plain: bool = True) -> Path | None:
        if key not in body:
            return None
        try:
            return compile_path(body[key])
        except PathSyntaxError:
            raise _fail(f"The value for the field '{key}' must be a valid JSONPath", f"{loc}/{key}") from None

    def result_path(self, body: Mapping[str, Any], loc: str) -> ReferencePath | None:
        if "ResultPath" not in body:
            return None
        text = body["ResultPath"]
        if text is None:
            return cast(ReferencePath, m.NULL)
        try:
            ref = compile_reference_path(text)
        except PathSyntaxError:
            raise _fail("The value for the field 'ResultPath' must be a valid JSONPath", f"{loc}/ResultPath") from None
        return None if not ref.steps else ref

    def template(self, body: Mapping[str, Any], key: str, loc: str) -> m.Evaluator | None:
        if key not in body:
            return None
        return compile_template(body[key], f"{loc}/{key}")

    def dynamic(self, body: Mapping[str, Any], key: str, loc: str) -> m.Evaluator | None:
        if key not in body:
            return None
        value = body[key]
        if isinstance(value, str) and is_intrinsic(value):
            try:
                compile_intrinsic(value)
            except IntrinsicSyntaxError as exc:
                raise _fail(f"The value for the field '{key}' must be a valid intrinsic function: {exc}",
                            f"{loc}/{key}") from None
        return compile_dynamic_value(value, key, f"{loc}/{key}")

    def jsonata(self, node: Json, field: str, location: str,
                states_fields: frozenset[str] = _BASE_STATES_FIELDS) -> m.JsonataExpr:
        from .jsonata import compile_template as compile_jsonata

        return compile_jsonata(node, field, location, states_fields=states_fields)

    def assign(self, node: Json, jsonata: bool, location: str,
               states_fields: frozenset[str] = _BASE_STATES_FIELDS, field: str = "Assign") -> m.Assign:
        if not isinstance(node, dict):
            raise _fail("The value of the field 'Assign' must be an object", location)
        for key in node:
            name = key[:-2] if key.endswith(".$") and not jsonata else key
            if not _is_variable_name(name):
                raise _fail(f"The variable name '{name}' is not valid: variable names must be Unicode identifiers "
                            "(letters, digits and '_', not starting with a digit), at most 80 characters, and "
                            "'states' is reserved", f"{location}/{key}")
        if jsonata:
            return m.Assign(jsonata=self.jsonata(node, field, location, states_fields))
        return m.Assign(jsonpath=compile_template(node, location))

    def retriers(self, body: Mapping[str, Any], loc: str) -> tuple[m.Retrier, ...]:
        out = []
        for r in body.get("Retry") or ():
            jitter = r.get("JitterStrategy", "NONE") == "FULL"
            max_delay = r.get("MaxDelaySeconds")
            out.append(m.Retrier(
                error_equals=tuple(r["ErrorEquals"]),
                interval_seconds=float(r.get("IntervalSeconds", 1)),
                max_attempts=int(r.get("MaxAttempts", 3)),
                backoff_rate=float(r.get("BackoffRate", 2.0)),
                max_delay_seconds=float(max_delay) if max_delay is not None else None,
                jitter_full=jitter,
            ))
        return tuple(out)

    def catchers(self, body: Mapping[str, Any], index_of: Mapping[str, int], loc: str,
                 jsonata: bool) -> tuple[m.Catcher, ...]:
        out = []
        for i, c in enumerate(body.get("Catch") or ()):
            cloc = f"{loc}/Catch[{i}]"
            out.append(m.Catcher(
                error_equals=tuple(c["ErrorEquals"]),
                next=index_of[c["Next"]],
                result_path=self.result_path(c, cloc),
                output=self.jsonata(c["Output"], f"Catch[{i}]/Output", f"{cloc}/Output", _ERROR_STATES_FIELDS)
                if "Output" in c else None,
                assign=self.assign(c["Assign"], jsonata, f"{cloc}/Assign", _ERROR_STATES_FIELDS,
                                   field=f"Catch[{i}]/Assign")
                if "Assign" in c else None,
            ))
        return tuple(out)


def _jsonata_exprs(state: m.State) -> list[Any]:
    """Every compiled JSONata template of one state (not of nested graphs)."""
    found: list[Any] = []
    for name in ("output", "arguments", "items_expr", "item_selector_expr", "max_concurrency_expr", "seconds_expr",
                 "timestamp_expr", "error_expr", "cause_expr", "timeout_expr", "tolerated_count_expr",
                 "tolerated_percentage_expr"):
        expr = getattr(state, name, None)
        if expr is not None:
            found.append(expr)
    assigns = [state.assign]
    for holder in (*getattr(state, "rules", ()), *getattr(state, "catchers", ())):
        assigns.append(holder.assign)
        for name in ("output", "condition"):
            if getattr(holder, name, None) is not None:
                found.append(getattr(holder, name))
    found.extend(a.jsonata for a in assigns if a is not None and a.jsonata is not None)
    return found


__all__ = ["Env", "compile_definition", "parse_resource"]
