"""The web console: its HTTP endpoints over a real server and Redis stream, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import LOGGING, ROLE, STREAM

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*/*.asl.json"))

PAYMENT = {
    "Comment": "Charge a card; a declined card is refunded and the order fails",
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"amount": 42}, "ResultPath": "$.order", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Charge",
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund"}],
                   "Next": "Done"},
        "Refund": {"Type": "Pass", "Next": "Order failed"},
        "Order failed": {"Type": "Fail", "Error": "PaymentFailed", "Cause": "the card was declined"},
        "Done": {"Type": "Succeed"},
    },
}
HELLO = (Path(__file__).resolve().parents[2] / "examples" / "hello" / "hello.asl.json").read_text()


def state_names(container: dict[str, Any]) -> set[str]:
    """Every state name of a definition, nested ones included."""
    names: set[str] = set()
    for name, state in container.get("States", {}).items():
        names.add(name)
        for branch in state.get("Branches", []):
            names |= state_names(branch)
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if inner:
            names |= state_names(inner)
    return names


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("content-type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("content-type", "")


def api(server: Any, name: str, **params: str) -> tuple[int, dict[str, Any]]:
    query = urllib.parse.urlencode(params)
    status, body, _ = get(f"{server.endpoint_url}/console/api/{name}?{query}")
    return status, json.loads(body)


def machine(sfn: Any, name: str, definition: str | dict[str, Any], logging: dict[str, Any] | None = None) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    arn: str = sfn.create_state_machine(name=name, definition=text, roleArn=ROLE, type="EXPRESS",
                                        loggingConfiguration=logging or LOGGING)["stateMachineArn"]
    return arn


@pytest.fixture(scope="module")
def machines(console_sfn: Any) -> dict[str, str]:
    """Every example, a machine that fails after catching an error, and one with logging OFF."""
    arns = {path.name.removesuffix(".asl.json"): machine(console_sfn, path.name.removesuffix(".asl.json"),
                                                         path.read_text()) for path in EXAMPLES}
    arns["payment"] = machine(console_sfn, "payment", PAYMENT)
    arns["quiet"] = machine(console_sfn, "quiet", HELLO, {"level": "OFF"})
    return arns


# -- HTTP endpoints (no browser) ---------------------------------------------------------------------------


def test_page_and_static_files_are_served(console_server: Any) -> None:
    status, body, kind = get(console_server.endpoint_url + "/")
    assert status == 200 and kind.startswith("text/html") and b"/console/static/vendor/dagre.min.js" in body
    assert b"http://" not in body and b"https://" not in body  # nothing from elsewhere
    status, body, kind = get(console_server.endpoint_url + "/console/static/vendor/dagre.min.js")
    assert status == 200 and "javascript" in kind and b"graphlib" in body
    assert get(console_server.endpoint_url + "/console/static/nope.js")[0] == 404
    assert get(console_server.endpoint_url + "/health")[0] == 200  # the API's own routes still answer


def test_executions_are_listed_newest_first_in_pages(console_server: Any, console_sfn: Any,
                                                     machines: dict[str, str]) -> None:
    arn = machines["hello"]
    started = [console_sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"name": f"n{i}"}))
               for i in range(5)]
    assert {s["status"] for s in started} == {"SUCCEEDED"}
    seen: list[dict[str, Any]] = []
    token = ""
    for _ in range(10):
        status, page = api(console_server, "executions", stateMachineArn=arn, limit="2", nextToken=token)
        assert status == 200 and page["readable"] and page["stream"] == STREAM
        seen += page["executions"]
        token = page.get("nextToken") or ""
        if not token:
            break
    mine = [x["executionArn"] for x in seen]
    assert mine[:5] == [s["executionArn"] for s in reversed(started)]
    assert len(mine) == len(set(mine))
    first = seen[0]
    assert first["status"] == "SUCCEEDED" and first["durationMs"] is not None and first["startDate"]
    status, page = api(console_server, "executions", stateMachineArn=arn, status="FAILED")
    assert status == 200 and page["executions"] == []
    # Time bounds are stream-id bounds (epoch ms): none logged in the future, or before the epoch's first second.
    later = str(int(time.time() * 1000) + 3_600_000)
    status, page = api(console_server, "executions", stateMachineArn=arn, since=later)
    assert status == 200 and page["executions"] == []
    status, page = api(console_server, "executions", stateMachineArn=arn, until="1000")
    assert status == 200 and page["executions"] == []
    status, page = api(console_server, "executions", stateMachineArn=arn, since=str(first["startDate"] - 60_000))
    assert status == 200 and page["executions"][0]["executionArn"] == first["executionArn"]
    status, one = api(console_server, "execution", executionArn=first["executionArn"], logId=first["logId"])
    assert status == 200
    types = [e["type"] for e in one["events"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert [int(e["id"]) for e in one["events"]] == list(range(1, len(types) + 1))


def test_clear_answers_when_executions_cannot_be_read(console_server: Any, machines: dict[str, str]) -> None:
    status, page = api(console_server, "executions", stateMachineArn=machines["quiet"])
    assert status == 200 and not page["readable"] and "Logging is OFF" in page["message"]
    unknown = machines["hello"].replace(":stateMachine:", ":express:") + ":nope:0000"
    status, error = api(console_server, "execution", executionArn=unknown)
    assert status == 400 and error["__type"] == "ExecutionDoesNotExist" and "nope" in error["message"]
    status, error = api(console_server, "execution", executionArn="not-an-arn")
    assert status == 400 and error["__type"] == "InvalidArn"
    status, error = api(console_server, "executions", stateMachineArn=machines["hello"], nextToken="garbage")
    assert status == 400 and error["__type"] == "InvalidToken"


# -- the page in headless Chromium ---------------------------------------------------------------------------


def open_console(browser: Any, server: Any, fragment: str = "") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.endpoint_url + "/" + fragment)
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def wait_for(browser: Any, script: str, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script))


def click_machine(browser: Any, name: str) -> None:
    from selenium.webdriver.common.by import By

    rows = [r for r in browser.find_elements(By.CSS_SELECTOR, "#machines tbody tr")
            if r.find_element(By.CSS_SELECTOR, ".name").text == name]
    assert rows, f"{name} is not listed"
    rows[0].click()
    wait_for(browser, f"return document.querySelector('#machine-name').textContent === {json.dumps(name)}")


def drawn_states(browser: Any, svg: str) -> set[str]:
    return set(browser.execute_script(
        f"return [...document.querySelectorAll('{svg} g.state')].map(g => g.dataset.state)"))


def test_lists_machines(browser: Any, console_server: Any, machines: dict[str, str]) -> None:
    open_console(browser, console_server)
    listed = browser.execute_script(
        "return [...document.querySelectorAll('#machines tbody tr')].map(r => [...r.children].map(c => c.textContent))")
    names = [row[0] for row in listed]
    assert not browser.find_element("css selector", "#login").is_displayed()  # no credentials needed on loopback
    assert set(machines) <= set(names) and names == sorted(names)
    levels = wait_for(browser, "const c = [...document.querySelectorAll('#machines tbody .level')]; "
                               "return c.every(x => x.textContent) && c.map(x => x.textContent)")
    level = dict(zip(names, levels, strict=True))
    assert level["quiet"] == "OFF" and level["hello"] == "ALL"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_draws_the_graph_of_each_example(browser: Any, console_server: Any, machines: dict[str, str],
                                         artifacts: Path, path: Path) -> None:
    name = path.name.removesuffix(".asl.json")
    if browser.current_url.rstrip("/") != console_server.endpoint_url:
        open_console(browser, console_server)
    click_machine(browser, name)
    expected = state_names(json.loads(path.read_text()))
    assert drawn_states(browser, "#graph") == expected
    terminals = browser.execute_script(
        "return [...document.querySelectorAll('#graph .terminal')].map(t => t.textContent)")
    assert "Start" in terminals and "End" in terminals
    assert json.loads(browser.find_element("css selector", "#definition").text) == json.loads(path.read_text())
    # Parallel branches and Map item processors are drawn inside their state's box.
    nested = browser.execute_script("return document.querySelectorAll('#graph g.state.container').length")
    assert nested == sum(1 for s in _all_states(json.loads(path.read_text())) if s.get("Type") in ("Parallel", "Map"))
    browser.save_screenshot(str(artifacts / f"graph-{name}.png"))


def _all_states(container: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in container.get("States", {}).values():
        found.append(state)
        for branch in state.get("Branches", []):
            found += _all_states(branch)
        if state.get("ItemProcessor") or state.get("Iterator"):
            found += _all_states(state.get("ItemProcessor") or state.get("Iterator"))
    return found


def test_labels_choice_rules_and_tells_catch_edges_apart(browser: Any, console_server: Any,
                                                         machines: dict[str, str]) -> None:
    open_console(browser, console_server)
    click_machine(browser, "hello")
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#graph .edge-label')].map(t => t.firstChild.textContent)")
    assert '$.name == "world"' in labels and "Default" in labels
    click_machine(browser, "payment")
    assert browser.execute_script("return document.querySelectorAll('#graph polyline.edge.catch').length") == 1
    assert "No problems found." in browser.find_element("css selector", "#diagnostics").text


def test_starts_an_execution_and_rejects_invalid_input(browser: Any, console_server: Any,
                                                       machines: dict[str, str], artifacts: Path) -> None:
    open_console(browser, console_server)
    click_machine(browser, "hello")
    browser.find_element("css selector", ".tabs button[data-tab=start]").click()
    area = browser.find_element("css selector", "#start-input")
    area.clear()
    area.send_keys('{"name": ')
    browser.find_element("css selector", "#start-button").click()
    message = wait_for(browser, "const m = document.querySelector('#message'); return !m.hidden && m.textContent")
    assert message.startswith("The execution input is not valid JSON")
    area.clear()
    area.send_keys('{"name": "console"}')
    browser.find_element("css selector", "#start-button").click()
    text = wait_for(browser, "const r = document.querySelector('#start-response'); return r && r.textContent")
    response = json.loads(text)
    assert response["status"] == "SUCCEEDED" and response["output"]["greeting"] == "hello console"
    browser.save_screenshot(str(artifacts / "start-execution.png"))
    # Asynchronously too: the answer is the execution ARN.
    browser.find_element("css selector", "input[name=start-mode][value=async]").click()
    browser.find_element("css selector", "#start-button").click()
    text = wait_for(browser, "const r = document.querySelector('#start-response'); "
                             "return r && r.textContent.includes('startDate') && !r.textContent.includes('status') "
                             "&& r.textContent")
    assert ":express:hello:" in json.loads(text)["executionArn"]


def test_shows_a_failed_executions_path_and_error(browser: Any, console_server: Any, console_sfn: Any,
                                                  machines: dict[str, str], artifacts: Path) -> None:
    result = console_sfn.start_sync_execution(stateMachineArn=machines["payment"], input='{"card": "4111"}')
    assert result["status"] == "FAILED"
    open_console(browser, console_server)
    click_machine(browser, "payment")
    browser.find_element("css selector", ".tabs button[data-tab=executions]").click()
    wait_for(browser, "return document.querySelectorAll('#executions tbody tr').length > 0")
    row = browser.find_element("css selector", "#executions tbody tr")
    assert "FAILED" in row.text and "PaymentFailed" in row.text
    row.click()
    wait_for(browser, "return !document.querySelector('#execution').hidden && "
                      "document.querySelectorAll('#exec-graph g.state').length > 0")
    outcome = browser.execute_script(
        "const o = {}; for (const g of document.querySelectorAll('#exec-graph g.state')) "
        "o[g.dataset.state] = [...g.classList].filter(c => !c.startsWith('type-') && c !== 'state').join(' '); "
        "return o")
    assert outcome == {"Prepare": "succeeded", "Charge": "caught", "Refund": "succeeded", "Order failed": "failed",
                       "Done": "unreached"}
    assert browser.find_element("css selector", "#exec-status-badge").text == "FAILED"
    error = browser.find_element("css selector", "#exec-error").text
    assert "PaymentFailed" in error and "the card was declined" in error
    browser.execute_script("document.querySelector('#exec-graph g.state[data-state=Charge]')"
                           ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    detail = browser.find_element("css selector", "#state-detail").text
    assert "card declined" in detail and '"card": "4111"' in detail
    browser.save_screenshot(str(artifacts / "execution-failed.png"))
    # Found by ARN from the search box too; an unknown ARN gets a message, not a blank page.
    box = browser.find_element("css selector", "#find-arn")
    box.clear()
    box.send_keys(result["executionArn"].rsplit(":", 1)[0] + ":unknown")
    browser.find_element("css selector", "#find button").click()
    message = wait_for(browser, "const m = document.querySelector('#message'); return !m.hidden && m.textContent")
    assert message.startswith("ExecutionDoesNotExist")
    browser.get("about:blank")
    open_console(browser, console_server, "#execution=" + result["executionArn"])
    wait_for(browser, "return document.querySelector('#exec-status-badge').textContent === 'FAILED'")
    assert browser.find_element("css selector", "#exec-title").text.startswith("payment / ")


def test_page_needs_no_network_beyond_the_engine(browser: Any, console_server: Any, machines: dict[str, str]) -> None:
    # The browser resolves no host but 127.0.0.1 (--host-resolver-rules): the page works all the same...
    open_console(browser, console_server)
    click_machine(browser, "media_split")
    assert "Transcode segment" in drawn_states(browser, "#graph")
    # ...and asked for nothing but the engine's own URLs.
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(console_server.endpoint_url + "/") for u in urls), urls
    assert browser.execute_script("return typeof dagre.layout") == "function"


def test_tests_a_single_state(browser: Any, console_server: Any, machines: dict[str, str]) -> None:
    open_console(browser, console_server)
    click_machine(browser, "hello")
    browser.find_element("css selector", ".tabs button[data-tab=teststate]").click()
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("css selector", "#test-state")).select_by_visible_text("Greet")
    area = browser.find_element("css selector", "#test-input")
    area.clear()
    area.send_keys('{"name": "state"}')
    browser.find_element("css selector", "#test-form button").click()
    text = wait_for(browser, "const r = document.querySelector('#test-response'); return r && r.textContent")
    result = json.loads(text)
    assert result["status"] == "SUCCEEDED" and result["nextState"] == "Formal?"
    assert json.loads(result["output"])["greeting"] == "hello state"


def test_signs_in_when_the_server_requires_credentials(browser: Any, console_auth_server: Any) -> None:
    from conftest import CREDENTIALS

    sfn = console_auth_server.boto3_client()
    machine(sfn, "signed", HELLO, {"level": "OFF"})
    # Unsigned, the API refuses the console's own endpoints as it refuses any request.
    status, error = api(console_auth_server, "executions", stateMachineArn="x")
    assert status == 400 and error["__type"] == "UnrecognizedClientException"
    browser.execute_script("sessionStorage.clear()")
    open_console(browser, console_auth_server)
    assert browser.find_element("css selector", "#login").is_displayed()
    key, secret = next(iter(CREDENTIALS.items()))
    for selector, text in (("#login-key", key), ("#login-secret", "wrong"), ("#login-region", "")):
        box = browser.find_element("css selector", selector)
        box.clear()
        box.send_keys(text)
    browser.find_element("css selector", "#login button").click()
    message = wait_for(browser, "const m = document.querySelector('#message'); return !m.hidden && m.textContent")
    assert "InvalidSignatureException" in message
    box = browser.find_element("css selector", "#login-secret")
    box.clear()
    box.send_keys(secret)
    browser.find_element("css selector", "#login button").click()
    wait_for(browser, "return document.querySelector('#login').hidden")
    assert not browser.find_element("css selector", "#login").is_displayed()
    click_machine(browser, "signed")
    assert drawn_states(browser, "#graph") == {"Greet", "Formal?", "Sign", "Done"}
    browser.find_element("css selector", ".tabs button[data-tab=executions]").click()
    note = wait_for(browser, "const n = document.querySelector('#exec-note'); return !n.hidden && n.textContent")
    assert "Logging is OFF" in note
    browser.execute_script("sessionStorage.clear()")


FANOUT = {
    "StartAt": "Each item",
    "States": {
        "Each item": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
                      "ItemProcessor": {"StartAt": "Square", "States": {
                          "Square": {"Type": "Pass", "Parameters": {"n.$": "$"}, "End": True}}},
                      "End": True},
    },
}


def test_opens_an_execution_with_a_map_of_1000_iterations(browser: Any, console_server: Any, console_sfn: Any,
                                                          machines: dict[str, str], artifacts: Path) -> None:
    arn = machine(console_sfn, "fanout", FANOUT)
    result = console_sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(1000))}))
    assert result["status"] == "SUCCEEDED"
    open_console(browser, console_server, "#execution=" + result["executionArn"])
    wait_for(browser, "return document.querySelector('#exec-status-badge').textContent === 'SUCCEEDED'")
    summary = browser.find_element("css selector", "#exec-summary").text
    assert int(summary.rsplit(" · ", 1)[1].split()[0]) > 4000  # every iteration's events were read
    # The event list is drawn a page at a time.
    assert browser.execute_script("return document.querySelectorAll('#events tbody tr:not(.more)').length") == 200
    browser.find_element("css selector", "#events tr.more").click()
    assert browser.execute_script("return document.querySelectorAll('#events tbody tr:not(.more)').length") == 400
    browser.execute_script("document.querySelector('#exec-graph g.state[data-state=Square]')"
                           ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    assert "1000 times" in browser.find_element("css selector", "#state-detail").text
    classes = browser.execute_script("return [...document.querySelectorAll('#exec-graph g.state')]"
                                     ".map(g => g.dataset.state + ':' + g.classList.contains('succeeded'))")
    assert sorted(classes) == ["Each item:true", "Square:true"]


def test_draws_a_definition_of_150_states_without_overlaps(browser: Any, console_server: Any, console_sfn: Any,
                                                           machines: dict[str, str]) -> None:
    states: dict[str, Any] = {}
    for i in range(50):  # 50 x (Choice -> one of two Pass states) = 150 states
        nxt = f"Check {i + 1}" if i < 49 else None
        states[f"Check {i}"] = {"Type": "Choice", "Default": f"B{i}",
                                "Choices": [{"Variable": "$.n", "NumericGreaterThan": i, "Next": f"A{i}"}]}
        for side in ("A", "B"):
            states[f"{side}{i}"] = {"Type": "Pass", **({"Next": nxt} if nxt else {"End": True})}
    machine(console_sfn, "large", {"StartAt": "Check 0", "States": states})
    open_console(browser, console_server)
    click_machine(browser, "large")
    boxes = browser.execute_script(
        "return [...document.querySelectorAll('#graph g.state > rect')].map(r => "
        "[+r.getAttribute('x'), +r.getAttribute('y'), +r.getAttribute('width'), +r.getAttribute('height')])")
    assert len(boxes) == 150 and drawn_states(browser, "#graph") == set(states)
    overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                   if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]]
    assert overlapping == []


RETRYING = {
    "StartAt": "Charge",
    "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
                   "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                   "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def test_colours_a_retried_state_and_updates_live_counts(browser: Any, console_server: Any, console_sfn: Any,
                                                         machines: dict[str, str]) -> None:
    arn = machine(console_sfn, "retrying", RETRYING)
    open_console(browser, console_server)
    started = wait_for(browser, "const m = document.querySelector('#live').textContent.match(/started (\\d+)/); "
                                "return m && m[1]")
    result = console_sfn.start_sync_execution(stateMachineArn=arn, input='{"order": "r-1"}')
    assert result["status"] == "SUCCEEDED"
    # The header's counts follow without a reload.
    wait_for(browser, "const m = document.querySelector('#live').textContent.match(/started (\\d+)/); "
                      f"return m && +m[1] > {int(started)}")
    open_console(browser, console_server, "#execution=" + result["executionArn"])
    wait_for(browser, "return document.querySelector('#exec-status-badge').textContent === 'SUCCEEDED'")
    classes = browser.execute_script("return [...document.querySelectorAll('#exec-graph g.state')]"
                                     ".map(g => g.dataset.state + ':' + g.classList.contains('retried'))")
    assert sorted(classes) == ["Charge:true", "Done:false"]
    browser.execute_script("document.querySelector('#exec-graph g.state[data-state=Charge]')"
                           ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    detail = browser.find_element("css selector", "#state-detail").text
    assert "Retries\n1" in detail and "provider timed out" in detail


def test_says_why_executions_cannot_be_read_from_another_sink() -> None:
    from express_engine import Engine
    from express_engine.console import with_console
    from express_engine.testing import StepFunctionsServer

    for sink, expected in (("stdout", "go to stdout, which the console cannot read back"),
                           (None, "the workers' default sink"),
                           ("redis:ee:logs", "no Redis connection")):
        with StepFunctionsServer(engine=Engine(time_scale=0), wrap=with_console(default_sink=sink)) as server:
            arn = machine(server.boto3_client(), "elsewhere", HELLO)
            status, page = api(server, "executions", stateMachineArn=arn)
            assert status == 200 and not page["readable"] and expected in page["message"], page
            status, error = api(server, "executions", stateMachineArn=arn.replace("elsewhere", "missing"))
            assert status == 400 and error["__type"] == "StateMachineDoesNotExist"
