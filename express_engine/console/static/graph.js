/* ASL definition -> SVG graph. Layout by dagre (vendored); this file only builds the graphs and draws them.
   Parallel branches and Map item processors are laid out on their own first, and their boxes are
   nodes of the enclosing graph sized to fit (branches of a Parallel are nodes of one more dagre graph). */
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_H = 36, PAD = 14, HEADER = 24, CHAR_W = 7.2;

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function value(v) { return typeof v === "string" ? JSON.stringify(v) : String(v); }

  const OPS = { Equals: "==", GreaterThan: ">", GreaterThanEquals: ">=", LessThan: "<", LessThanEquals: "<=",
                Matches: "matches" };

  /* A Choice rule as text: JSONata Condition as written, JSONPath comparisons as `$.x == "y"`. */
  function ruleText(rule) {
    if (typeof rule.Condition === "string") return rule.Condition.replace(/^\{%\s*|\s*%\}$/g, "");
    if (Array.isArray(rule.And)) return rule.And.map(r => "(" + ruleText(r) + ")").join(" and ");
    if (Array.isArray(rule.Or)) return rule.Or.map(r => "(" + ruleText(r) + ")").join(" or ");
    if (rule.Not) return "not (" + ruleText(rule.Not) + ")";
    const variable = rule.Variable || "?";
    for (const key of Object.keys(rule)) {
      if (key === "Variable" || key === "Next" || key === "Comment" || key === "Assign" || key === "Output") continue;
      let m = key.match(/^Is(Null|Present|Numeric|String|Boolean|Timestamp)$/);
      if (m) return variable + (rule[key] ? " is " : " is not ") + m[1].toLowerCase();
      m = key.match(/^(String|Numeric|Boolean|Timestamp)(Equals|GreaterThan|GreaterThanEquals|LessThan|LessThanEquals|Matches)(Path)?$/);
      if (m) return variable + " " + OPS[m[2]] + " " + (m[3] ? rule[key] : value(rule[key]));
    }
    return JSON.stringify(rule);
  }

  function stateWidth(name, type) { return Math.max(110, Math.max(name.length, type.length + 2) * CHAR_W + 24); }

  /* Lay out a {StartAt, States} container: returns {width, height, items} with positions relative to (0, 0). */
  function layoutContainer(container, path) {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 42, edgesep: 12, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    const states = container.States || {};
    const startId = path + "#start", endId = path + "#end";
    g.setNode(startId, { kind: "start", label: "Start", width: 64, height: 26 });
    const inner = {};
    let needsEnd = false;
    for (const name of Object.keys(states)) {
      const s = states[name] || {};
      const type = s.Type || "?";
      const id = path + "/" + name;
      if (type === "Parallel" && Array.isArray(s.Branches)) {
        inner[name] = layoutBranches(s.Branches, id);
      } else if (type === "Map" && (s.ItemProcessor || s.Iterator)) {
        inner[name] = layoutContainer(s.ItemProcessor || s.Iterator, id + "/items");
      }
      const box = inner[name];
      g.setNode(id, { kind: "state", name, type, state: s, inner: box,
                      width: box ? Math.max(box.width + 2 * PAD, stateWidth(name, type)) : stateWidth(name, type),
                      height: box ? box.height + HEADER + PAD : NODE_H });
    }
    const edge = (from, to, kind, label) => {
      if (!g.hasNode(to)) return;
      const attrs = { kind, label: label || "", full: label || "", minlen: 1 };
      if (label) { attrs.width = Math.min(label.length, 34) * 6.4 + 8; attrs.height = 16; attrs.labelpos = "c"; }
      g.setEdge(from, to, attrs, kind + ":" + from + ">" + to + ":" + (label || ""));
    };
    if (container.StartAt) edge(startId, path + "/" + container.StartAt, "next");
    for (const name of Object.keys(states)) {
      const s = states[name] || {};
      const id = path + "/" + name;
      if (s.Type === "Choice") {
        (s.Choices || []).forEach(rule => { if (rule && rule.Next) edge(id, path + "/" + rule.Next, "choice", short(ruleText(rule), 34)); });
        if (s.Default) edge(id, path + "/" + s.Default, "default", "Default");
      } else if (s.Next) {
        edge(id, path + "/" + s.Next, "next");
      }
      (s.Catch || []).forEach(c => { if (c && c.Next) edge(id, path + "/" + c.Next, "catch", short("Catch " + (c.ErrorEquals || []).join(", "), 34)); });
      if (s.End === true || s.Type === "Succeed" || s.Type === "Fail") { needsEnd = true; }
    }
    g.setNode(endId, { kind: "end", label: "End", width: 64, height: 26 });
    for (const name of Object.keys(states)) {
      const s = states[name] || {};
      if (s.End === true || s.Type === "Succeed" || s.Type === "Fail") edge(path + "/" + name, endId, "end");
    }
    if (!needsEnd) g.removeNode(endId);
    dagre.layout(g);
    const items = [];
    for (const id of g.nodes()) {
      const n = g.node(id);
      items.push({ shape: "node", id, ...n });
    }
    for (const e of g.edges()) {
      const a = g.edge(e);
      items.push({ shape: "edge", from: e.v, to: e.w, ...a });
    }
    const graph = g.graph();
    return { width: graph.width, height: graph.height, items };
  }

  /* The branches of a Parallel state side by side: each branch box is a node of one dagre graph. */
  function layoutBranches(branches, path) {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 24, marginx: 0, marginy: 0 });
    const boxes = branches.map((b, i) => layoutContainer(b || {}, path + "/branch" + i));
    boxes.forEach((box, i) => g.setNode("b" + i, { width: box.width + 8, height: box.height + 8 }));
    dagre.layout(g);
    const items = [];
    boxes.forEach((box, i) => {
      const n = g.node("b" + i);
      items.push({ shape: "group", x: n.x, y: n.y, width: n.width, height: n.height, label: "Branch " + (i + 1), box });
    });
    const graph = g.graph();
    return { width: graph.width, height: graph.height, items };
  }

  /* Draw a laid-out box into `parent` at offset (ox, oy). */
  function draw(box, parent, ox, oy, index) {
    for (const it of box.items) {
      if (it.shape === "edge") {
        const pts = it.points.map(p => (p.x + ox) + "," + (p.y + oy));
        const cls = "edge " + it.kind;
        const e = el("polyline", { points: pts.join(" "), class: cls, "marker-end": "url(#arrow-" + it.kind + ")" }, parent);
        e.dataset.from = it.from; e.dataset.to = it.to;
        if (it.label) {
          const t = el("text", { x: it.x + ox, y: it.y + oy + 4, class: "edge-label " + it.kind, "text-anchor": "middle" }, parent);
          t.textContent = it.label;
          el("title", {}, t).textContent = it.full;
        }
      }
    }
    for (const it of box.items) {
      if (it.shape === "group") {
        const x = it.x - it.width / 2 + ox, y = it.y - it.height / 2 + oy;
        el("rect", { x, y, width: it.width, height: it.height, rx: 6, class: "branch" }, parent);
        draw(it.box, parent, x + 4, y + 4, index);
      } else if (it.shape === "node") {
        const x = it.x - it.width / 2 + ox, y = it.y - it.height / 2 + oy;
        if (it.kind === "start" || it.kind === "end") {
          const gg = el("g", { class: "terminal " + it.kind }, parent);
          el("rect", { x, y, width: it.width, height: it.height, rx: 13 }, gg);
          const t = el("text", { x: x + it.width / 2, y: y + it.height / 2 + 4, "text-anchor": "middle" }, gg);
          t.textContent = it.label;
          continue;
        }
        const gg = el("g", { class: "state type-" + it.type + (it.inner ? " container" : "") }, parent);
        gg.dataset.state = it.name;
        gg.dataset.type = it.type;
        el("rect", { x, y, width: it.width, height: it.height, rx: it.type === "Choice" ? 16 : 4 }, gg);
        const t = el("text", { x: x + it.width / 2, y: y + (it.inner ? 16 : 15), "text-anchor": "middle", class: "name" }, gg);
        t.textContent = it.name;
        const k = el("text", { x: x + it.width / 2, y: y + (it.inner ? 16 : 29), "text-anchor": "middle", class: "kind" }, gg);
        k.textContent = it.inner ? "" : it.type;
        if (it.inner) {
          t.textContent = it.name + "  (" + it.type + ")";
          draw(it.inner, parent, x + (it.width - it.inner.width) / 2, y + HEADER, index);
        }
        (index[it.name] = index[it.name] || []).push(gg);
      }
    }
  }

  function markers(defs) {
    for (const kind of ["next", "choice", "default", "catch", "end"]) {
      const m = el("marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                               markerHeight: 7, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow " + kind }, m);
    }
  }

  /* Zoom (wheel, around the pointer) and pan (drag) by changing the viewBox. */
  function zoomPan(svg, width, height) {
    let vb = { x: 0, y: 0, w: width, h: height };
    const apply = () => svg.setAttribute("viewBox", [vb.x, vb.y, vb.w, vb.h].join(" "));
    const fit = () => { vb = { x: -10, y: -10, w: width + 20, h: height + 20 }; apply(); };
    fit();
    svg.onwheel = ev => {
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      const scale = Math.max(vb.w / r.width, vb.h / r.height);
      const px = vb.x + (ev.clientX - r.left) * scale, py = vb.y + (ev.clientY - r.top) * scale;
      const f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
      vb = { x: px - (px - vb.x) * f, y: py - (py - vb.y) * f, w: vb.w * f, h: vb.h * f };
      apply();
    };
    let drag = null;
    svg.onpointerdown = ev => { if (ev.button === 0) { drag = { x: ev.clientX, y: ev.clientY, vb: { ...vb } }; } };
    svg.onpointermove = ev => {
      if (!drag) return;
      const r = svg.getBoundingClientRect();
      const scale = Math.max(vb.w / r.width, vb.h / r.height);
      vb = { ...drag.vb, x: drag.vb.x - (ev.clientX - drag.x) * scale, y: drag.vb.y - (ev.clientY - drag.y) * scale };
      apply();
    };
    svg.onpointerup = svg.onpointerleave = () => { drag = null; };
    return fit;
  }

  /* Render `definition` (an object) into `svg`; returns {states: name -> [elements], fit}. */
  function render(svg, definition) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    markers(el("defs", {}, svg));
    const box = layoutContainer(definition || {}, "");
    const root = el("g", { class: "root" }, svg);
    const index = {};
    draw(box, root, 0, 0, index);
    const fit = zoomPan(svg, box.width, box.height);
    return { states: index, fit, width: box.width, height: box.height };
  }

  window.AslGraph = { render, ruleText };
})();
