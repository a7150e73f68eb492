/* The console page: state machines and executions through the engine's own API. Plain JavaScript, no build step. */
"use strict";
const $ = sel => document.querySelector(sel);
const state = { machines: [], machine: null, definition: null, nextToken: null, graph: null };
/* Event rows drawn at a time in the execution view (a Map of 1,000 iterations logs 4,000+ events). */
const EVENT_ROWS = 200;

function showMessage(text, kind) {
  const box = $("#message");
  box.textContent = text;
  box.className = "message" + (kind ? " " + kind : "");
  box.hidden = !text;
}

function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(typeof ms === "number" && ms < 1e11 ? ms * 1000 : Number(ms)).toISOString().replace("T", " ").replace("Z", "");
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(2) + " s";
}

function pretty(text) {
  if (text === undefined || text === null) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return String(text); }
}

/* Credentials (when the server requires SigV4) live in this tab's sessionStorage only. */
function credentials() {
  try { return JSON.parse(sessionStorage.getItem("ee-credentials")); } catch (e) { return null; }
}

const AUTH_ERRORS = ["UnrecognizedClientException", "InvalidSignatureException"];

function needLogin(message) {
  $("#login").hidden = false;
  if (message) showMessage(message);
}

/* fetch(), signed with aws4fetch (SigV4, service "states") once credentials are given. */
async function send(url, init) {
  const c = credentials();
  if (!c) return fetch(url, init);
  if (!(window.crypto && crypto.subtle)) {
    throw new Error("Signing requests needs the browser's WebCrypto, which it offers only to secure pages: " +
                    "open the console over https, or on localhost / 127.0.0.1");
  }
  const client = new aws4fetch.AwsClient({ accessKeyId: c.key, secretAccessKey: c.secret, service: "states",
                                           region: c.region || "us-east-1", retries: 0 });
  return client.fetch(new URL(url, location.href).toString(), init);
}

async function answer(response) {
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (AUTH_ERRORS.includes(data.__type)) needLogin();
    throw new Error((data.__type || ("HTTP " + response.status)) + ": " + (data.message || response.statusText));
  }
  return data;
}

/* One AWS JSON 1.0 call; throws Error(message) with the service's error type and message. */
async function sfn(operation, body) {
  const response = await send("/", {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + operation },
    body: JSON.stringify(body || {}),
  });
  return answer(response);
}

async function consoleApi(name, params) {
  const query = new URLSearchParams();
  for (const k in params) if (params[k] !== null && params[k] !== undefined && params[k] !== "") query.set(k, params[k]);
  return answer(await send("/console/api/" + name + "?" + query));
}

/* -- state machines ------------------------------------------------------------------------------ */

async function loadMachines() {
  const all = [];
  let token;
  do {
    const page = await sfn("ListStateMachines", token ? { nextToken: token } : {});
    all.push(...page.stateMachines);
    token = page.nextToken;
  } while (token);
  state.machines = all;
  const body = $("#machines tbody");
  body.textContent = "";
  $("#machines-empty").hidden = all.length > 0;
  for (const m of all) {
    const tr = document.createElement("tr");
    tr.dataset.arn = m.stateMachineArn;
    tr.innerHTML = "<td class=name></td><td class=level></td><td class=muted></td>";
    tr.querySelector(".name").textContent = m.name;
    tr.querySelector(".muted").textContent = fmtTime(m.creationDate);
    tr.onclick = () => openMachine(m.stateMachineArn);
    body.appendChild(tr);
  }
  // Log levels need DescribeStateMachine: fill them in as they come.
  for (const m of all) {
    sfn("DescribeStateMachine", { stateMachineArn: m.stateMachineArn }).then(d => {
      const cell = body.querySelector(`tr[data-arn="${CSS.escape(m.stateMachineArn)}"] .level`);
      if (cell) cell.textContent = (d.loggingConfiguration || {}).level || "OFF";
    }).catch(() => {});
  }
}

function selectTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== "tab-" + name;
  if (name === "executions") loadExecutions(false);
}

async function openMachine(arn, tab) {
  showMessage("");
  let d;
  try {
    d = await sfn("DescribeStateMachine", { stateMachineArn: arn });
  } catch (e) { showMessage(e.message); return; }
  state.machine = d;
  for (const tr of document.querySelectorAll("#machines tbody tr")) tr.classList.toggle("selected", tr.dataset.arn === arn);
  $("#execution").hidden = true;
  $("#detail").hidden = false;
  $("#machine-name").textContent = d.name;
  const log = d.loggingConfiguration || {};
  $("#machine-meta").textContent = "revision " + (d.revisionId || "1") + " · logging " + (log.level || "OFF") +
    (log.includeExecutionData ? " with data" : "") + " · created " + fmtTime(d.creationDate) +
    (d.updateDate ? " · updated " + fmtTime(d.updateDate) : "");
  let definition;
  try { definition = JSON.parse(d.definition); } catch (e) { definition = {}; }
  state.definition = definition;
  $("#definition").textContent = JSON.stringify(definition, null, 2);
  state.graph = AslGraph.render($("#graph"), definition);
  for (const names of Object.values(state.graph.states)) for (const g of names) g.onclick = () => highlightJson(g.dataset.state);
  fillTestStates(definition);
  validate(d.definition);
  selectTab(tab || "definition");
}

function highlightJson(name) {
  const pre = $("#definition");
  const text = JSON.stringify(state.definition, null, 2);
  const key = JSON.stringify(name) + ": {";
  const at = text.indexOf(key);
  pre.textContent = "";
  if (at < 0) { pre.textContent = text; return; }
  const mark = document.createElement("span");
  mark.className = "hl";
  mark.textContent = key;
  pre.append(text.slice(0, at), mark, text.slice(at + key.length));
  mark.scrollIntoView({ block: "center" });
  for (const list of Object.values(state.graph.states)) for (const g of list) g.classList.toggle("highlight", g.dataset.state === name);
}

async function validate(definitionText) {
  const list = $("#diagnostics");
  list.textContent = "";
  try {
    const result = await sfn("ValidateStateMachineDefinition", { definition: definitionText, type: "EXPRESS", severity: "WARNING" });
    if (!result.diagnostics.length) {
      const li = document.createElement("li");
      li.className = "ok muted";
      li.textContent = "No problems found.";
      list.appendChild(li);
    }
    for (const diag of result.diagnostics) {
      const li = document.createElement("li");
      li.className = diag.severity;
      li.textContent = diag.severity + " " + diag.code + " at " + (diag.location || "/") + ": " + diag.message;
      const m = (diag.location || "").match(/\/States\/([^/]+)(?!.*\/States\/)/);
      if (m) li.onclick = () => highlightJson(decodeURIComponent(m[1]));
      list.appendChild(li);
    }
  } catch (e) {
    const li = document.createElement("li");
    li.textContent = "Validation unavailable: " + e.message;
    list.appendChild(li);
  }
}

/* -- executions -------------------------------------------------------------------------------- */

function localMs(input) { const v = $(input).value; return v ? String(new Date(v).getTime()) : ""; }

async function loadExecutions(more) {
  if (!state.machine) return;
  const body = $("#executions tbody");
  if (!more) { body.textContent = ""; state.nextToken = null; }
  const note = $("#exec-note");
  let page;
  try {
    page = await consoleApi("executions", { stateMachineArn: state.machine.stateMachineArn, status: $("#exec-status").value,
                                            since: localMs("#exec-since"), until: localMs("#exec-until"),
                                            nextToken: more ? state.nextToken : null, limit: 50 });
  } catch (e) { note.hidden = false; note.textContent = e.message; return; }
  if (!page.readable) {
    note.hidden = false;
    note.textContent = page.message;
    $("#exec-more").hidden = true;
    return;
  }
  note.hidden = page.executions.length > 0 || more;
  note.textContent = "No execution logged yet in stream " + page.stream + (page.truncated ? " (scan limit reached)" : "") + ".";
  for (const x of page.executions) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td><td></td>";
    const cells = tr.children;
    cells[0].textContent = x.status; cells[0].className = "status-" + x.status;
    cells[1].textContent = x.name;
    cells[2].textContent = fmtTime(x.startDate);
    cells[3].textContent = fmtDuration(x.durationMs);
    cells[4].textContent = x.error ? x.error + (x.cause ? ": " + x.cause.slice(0, 80) : "") : "";
    tr.dataset.arn = x.executionArn;
    tr.onclick = () => openExecution(x.executionArn, x.logId);
    body.appendChild(tr);
  }
  state.nextToken = page.nextToken;
  $("#exec-more").hidden = !page.nextToken;
}

/* Per state name: what happened to it, from the events (entered/exited/failed/caught/retried). */
function outcomes(events) {
  const byId = {};
  for (const e of events) byId[e.id] = e;
  const enclosing = {};
  const stateOf = e => {
    let cur = e, hops = 0;
    while (cur && hops++ < 10000) {
      if (cur.type.endsWith("StateEntered")) return cur.details.name;
      if (enclosing[cur.id] !== undefined) return enclosing[cur.id];
      cur = byId[cur.previous_event_id];
    }
    return null;
  };
  const info = {};
  const of = name => (info[name] = info[name] || { entered: 0, exited: 0, failed: 0, retries: 0, inputs: [], outputs: [], errors: [] });
  const attempts = {};
  for (const e of events) {
    const d = e.details || {};
    if (e.type.endsWith("StateEntered")) {
      const s = of(d.name); s.entered++; if (d.input !== undefined) s.inputs.push(d.input);
      if (e.type === "FailStateEntered") s.failedState = true;
      enclosing[e.id] = d.name;
      continue;
    }
    const name = e.type.endsWith("StateExited") ? d.name : stateOf(e);
    enclosing[e.id] = name;
    if (!name) continue;
    const s = of(name);
    if (e.type.endsWith("StateExited")) { s.exited++; if (d.output !== undefined) s.outputs.push(d.output); }
    else if (/(Scheduled)$/.test(e.type)) { attempts[name] = (attempts[name] || 0) + 1; if (attempts[name] > 1) s.retries++; }
    else if (/(Failed|TimedOut|StartFailed|SubmitFailed)$/.test(e.type) && d.error !== undefined) { s.failed++; s.errors.push({ error: d.error, cause: d.cause, type: e.type }); }
    else if (e.type === "EvaluationFailed") { s.failed++; s.errors.push({ error: d.error, cause: d.cause, type: e.type }); }
  }
  const result = {};
  for (const name in info) {
    const s = info[name];
    let c;
    if (s.failedState) c = "failed";
    else if (s.failed && s.exited) c = s.failed > s.retries ? "caught" : "retried";
    else if (s.failed && !s.exited) c = s.retries && s.failed <= s.retries ? "retried" : "failed";
    else if (s.exited) c = s.retries ? "retried" : "succeeded";
    else c = "entered";
    result[name] = { ...s, outcome: c };
  }
  return result;
}

async function openExecution(arn, logId) {
  showMessage("");
  let data;
  try { data = await consoleApi("execution", { executionArn: arn, logId }); }
  catch (e) { showMessage(e.message); return; }
  if (!data.readable) { showMessage(data.message, "info"); return; }
  let machine;
  try { machine = await sfn("DescribeStateMachine", { stateMachineArn: data.stateMachineArn }); }
  catch (e) { showMessage(e.message); return; }
  state.machine = machine;
  $("#detail").hidden = true;
  $("#execution").hidden = false;
  const events = data.events;
  const started = events.find(e => e.type === "ExecutionStarted");
  const last = events[events.length - 1];
  const terminal = { ExecutionSucceeded: "SUCCEEDED", ExecutionFailed: "FAILED", ExecutionTimedOut: "TIMED_OUT", ExecutionAborted: "ABORTED" };
  const status = terminal[last.type] || "RUNNING";
  $("#exec-title").textContent = machine.name + " / " + arn.split(":").slice(-2, -1)[0];
  const badge = $("#exec-status-badge");
  badge.textContent = status; badge.className = "badge " + status;
  const startMs = started ? Number(started.event_timestamp) : null, stopMs = Number(last.event_timestamp);
  $("#exec-summary").textContent = arn + " · started " + fmtTime(startMs) + " · duration " +
    fmtDuration(startMs === null ? null : stopMs - startMs) + " · " + events.length + " events";
  const errBox = $("#exec-error");
  const ld = last.details || {};
  errBox.hidden = !(ld.error || ld.cause);
  errBox.textContent = "Error: " + (ld.error || "") + "\nCause: " + (ld.cause || "");
  let definition = {};
  try { definition = JSON.parse(machine.definition); } catch (e) { /* drawn empty */ }
  const graph = AslGraph.render($("#exec-graph"), definition);
  state.execGraph = graph;
  const result = outcomes(events);
  for (const [name, list] of Object.entries(graph.states)) {
    for (const g of list) {
      const r = result[name];
      g.classList.add(r ? (r.outcome === "entered" && status !== "RUNNING" ? (status === "SUCCEEDED" ? "succeeded" : "failed") : r.outcome) : "unreached");
      g.onclick = () => showState(name, r, status);
    }
  }
  const tbody = $("#events tbody");
  tbody.textContent = "";
  const eventRows = from => {
    const shown = events.slice(from, from + EVENT_ROWS);
    const frag = document.createDocumentFragment();
    for (const e of shown) {
      const tr = document.createElement("tr");
      for (const text of [e.id, e.type, (e.details || {}).name || "", fmtTime(Number(e.event_timestamp))]) {
        const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
      }
      tr.onclick = () => { $("#state-title").textContent = "Event " + e.id + " " + e.type; $("#state-detail").textContent = "";
        const pre = document.createElement("pre"); pre.textContent = JSON.stringify(e, null, 2); $("#state-detail").appendChild(pre); };
      frag.appendChild(tr);
    }
    if (from + EVENT_ROWS < events.length) {
      const tr = document.createElement("tr");
      tr.className = "more";
      const td = document.createElement("td");
      td.colSpan = 4;
      td.textContent = "Show " + Math.min(EVENT_ROWS, events.length - from - EVENT_ROWS) + " more of " +
        (events.length - from - EVENT_ROWS) + " events";
      tr.appendChild(td);
      tr.onclick = () => { tr.remove(); eventRows(from + EVENT_ROWS); };
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
  };
  eventRows(0);
  const execInput = started && started.details.input;
  showState(null, null, status, execInput, ld.output);
  state.shownArn = arn;
  history.replaceState(null, "", "#execution=" + encodeURIComponent(arn));
}

function showState(name, r, status, execInput, execOutput) {
  const box = $("#state-detail");
  box.textContent = "";
  const add = (title, text) => {
    const h = document.createElement("h3"); h.textContent = title; box.appendChild(h);
    const pre = document.createElement("pre"); pre.textContent = text; box.appendChild(pre);
  };
  if (!name) {
    $("#state-title").textContent = "Execution";
    if (execInput !== undefined) add("Input", pretty(execInput));
    if (execOutput !== undefined) add("Output", pretty(execOutput));
    if (execInput === undefined) add("Input / output", "Not logged: the machine's loggingConfiguration has includeExecutionData false.");
    return;
  }
  $("#state-title").textContent = name + (r ? " — " + r.outcome : " — not reached");
  if (!r) return;
  if (r.entered > 1) add("Runs", r.entered + " times (e.g. Map iterations)");
  if (r.retries) add("Retries", String(r.retries));
  if (r.inputs.length) add("Input" + (r.inputs.length > 1 ? " (first)" : ""), pretty(r.inputs[0]));
  if (r.outputs.length) add("Output" + (r.outputs.length > 1 ? " (first)" : ""), pretty(r.outputs[0]));
  for (const err of r.errors.slice(0, 5)) add(err.type, "Error: " + err.error + "\nCause: " + (err.cause || ""));
}

/* -- start / test state ------------------------------------------------------------------------ */

function parseInput(text, what) {
  try { JSON.parse(text); return true; }
  catch (e) { showMessage(what + " is not valid JSON: " + e.message); return false; }
}

async function startExecution(ev) {
  ev.preventDefault();
  showMessage("");
  const input = $("#start-input").value;
  const out = $("#start-result");
  out.textContent = "";
  if (!parseInput(input, "The execution input")) return;
  const mode = document.querySelector("input[name=start-mode]:checked").value;
  const body = { stateMachineArn: state.machine.stateMachineArn, input };
  if ($("#start-name").value.trim()) body.name = $("#start-name").value.trim();
  try {
    const r = await sfn(mode === "sync" ? "StartSyncExecution" : "StartExecution", body);
    const h = document.createElement("h3");
    h.textContent = mode === "sync" ? "Result: " + r.status : "Started";
    h.className = "status-" + (r.status || "");
    const pre = document.createElement("pre");
    pre.id = "start-response";
    pre.textContent = JSON.stringify({ ...r, output: r.output !== undefined ? JSON.parse(r.output) : undefined }, null, 2);
    const link = document.createElement("button");
    link.textContent = "Open execution";
    link.onclick = () => openExecution(r.executionArn);
    out.append(h, pre, link);
  } catch (e) { showMessage(e.message); }
}

function allStates(container, into) {
  for (const [name, s] of Object.entries((container && container.States) || {})) {
    into.push([name, s]);
    (s.Branches || []).forEach(b => allStates(b, into));
    if (s.ItemProcessor || s.Iterator) allStates(s.ItemProcessor || s.Iterator, into);
  }
  return into;
}

function fillTestStates(definition) {
  const select = $("#test-state");
  select.textContent = "";
  for (const [name] of allStates(definition, [])) {
    const o = document.createElement("option"); o.textContent = name; select.appendChild(o);
  }
}

async function testState(ev) {
  ev.preventDefault();
  showMessage("");
  const out = $("#test-result");
  out.textContent = "";
  const input = $("#test-input").value;
  if (!parseInput(input, "The state input")) return;
  const name = $("#test-state").value;
  const found = allStates(state.definition, []).find(([n]) => n === name);
  if (!found) return;
  const definition = { ...found[1] };
  if (state.definition.QueryLanguage && !definition.QueryLanguage) definition.QueryLanguage = state.definition.QueryLanguage;
  try {
    const r = await sfn("TestState", { definition: JSON.stringify(definition), input,
                                       roleArn: state.machine.roleArn || "arn:aws:iam::123456789012:role/console",
                                       inspectionLevel: $("#test-level").value });
    const pre = document.createElement("pre");
    pre.id = "test-response";
    pre.textContent = JSON.stringify(r, null, 2);
    out.appendChild(pre);
  } catch (e) { showMessage(e.message); }
}

/* -- live counts --------------------------------------------------------------------------------- */

async function live() {
  try {
    const text = await (await fetch("/metrics")).text();
    const v = name => { const m = text.match(new RegExp("^express_engine_" + name + "(?:_total)?(?:\\{[^}]*\\})? ([0-9.e+]+)$", "m")); return m ? Number(m[1]) : null; };
    const parts = [["running", v("executions_in_flight")], ["started", v("executions_started")],
                   ["succeeded", v("executions_succeeded")], ["failed", v("executions_failed")],
                   ["timed out", v("executions_timed_out")]].filter(p => p[1] !== null);
    $("#live").textContent = parts.map(p => p[0] + " " + p[1]).join(" · ");
  } catch (e) { $("#live").textContent = "metrics unavailable"; }
}

/* -- wiring -------------------------------------------------------------------------------------- */

document.addEventListener("DOMContentLoaded", async () => {
  for (const b of document.querySelectorAll(".tabs button")) b.onclick = () => selectTab(b.dataset.tab);
  $("#exec-filter").onsubmit = ev => { ev.preventDefault(); loadExecutions(false); };
  $("#exec-more").onclick = () => loadExecutions(true);
  $("#start-form").onsubmit = startExecution;
  $("#test-form").onsubmit = testState;
  $("#exec-back").onclick = () => { $("#execution").hidden = true; $("#detail").hidden = false; state.shownArn = null;
    history.replaceState(null, "", "#");
    if (state.machine) openMachine(state.machine.stateMachineArn, "executions"); };
  for (const b of document.querySelectorAll("[data-fit]")) b.onclick = () => {
    const svg = b.closest(".graph-box").querySelector("svg");
    svg.dispatchEvent(new Event("fit"));
  };
  $("#graph").addEventListener("fit", () => state.graph && state.graph.fit());
  $("#exec-graph").addEventListener("fit", () => state.execGraph && state.execGraph.fit());
  $("#find").onsubmit = ev => {
    ev.preventDefault();
    const arn = $("#find-arn").value.trim();
    if (!arn) { showMessage("Enter an execution ARN (arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID)."); return; }
    openExecution(arn);
  };
  $("#login").onsubmit = async ev => {
    ev.preventDefault();
    sessionStorage.setItem("ee-credentials", JSON.stringify({ key: $("#login-key").value.trim(),
      secret: $("#login-secret").value, region: $("#login-region").value.trim() }));
    showMessage("");
    try { await loadMachines(); $("#login").hidden = true; }
    catch (e) { showMessage("Cannot list state machines: " + e.message); }
  };
  let config = {};
  try { config = await (await fetch("/console/api/config")).json(); } catch (e) { /* an older server: try anyway */ }
  if (config.auth && !credentials()) {
    needLogin();
  } else {
    try { await loadMachines(); } catch (e) { showMessage("Cannot list state machines: " + e.message); }
  }
  const fromHash = () => {
    const hash = location.hash.match(/^#execution=(.+)$/);
    if (hash && state.shownArn !== decodeURIComponent(hash[1])) openExecution(decodeURIComponent(hash[1]));
  };
  window.addEventListener("hashchange", fromHash);
  fromHash();
  live();
  setInterval(live, 2000);
  document.body.dataset.ready = "1";
});
