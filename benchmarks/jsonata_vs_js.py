"""Per-expression JSONata cost: the engine's compiled templates against jsonata-js 2.0.6 (AWS's version), CPU time.

    python benchmarks/jsonata_vs_js.py --node-modules DIR [--json]

``DIR`` is a ``node_modules`` holding ``jsonata`` 2.0.6 (``npm install jsonata@2.0.6``). Each expression is
evaluated with the 1 KB benchmark input bound as ``$states.input``, parsed afresh for every evaluation as a state
gets it; the cost of that parse (``orjson.loads`` here, ``JSON.parse`` in node) is measured alone and subtracted.
Figures are the best of 15 batches of 2,000 evaluations, in CPU time of the evaluating thread (Python) or process
(node), so a busy machine moves them less than wall-clock rates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.asl.jsonata import compile_template

HERE = Path(__file__).resolve().parent
INPUT = HERE.parent.parent / "shared" / "bench" / "workflows" / "input_1kb.json"

EXPRESSIONS = [
    "$merge([$states.input, {'extracted': {'id': $states.input.order.id, 'total': $states.input.order.total, "
    "'currency': $states.input.order.currency, 'stage': 'extract'}}])",
    "$states.input.order.id",
    "$states.input.order.lines.sku",
    "$states.input.order.lines.{'sku': sku, 'n': qty * 2}",
]

BATCHES, PER_BATCH = 15, 2000

_NODE = r"""
const jsonata = require(process.argv[1] + "/jsonata");
const fs = require("fs");
const [exprs, text, batches, n] = JSON.parse(fs.readFileSync(0).toString());
function cpu(fn) {
  let best = 1e9;
  for (let r = 0; r < batches; r++) {
    const t = process.cpuUsage();
    fn();
    const u = process.cpuUsage(t);
    best = Math.min(best, (u.user + u.system) / n);
  }
  return best;
}
(async () => {
  const parse = cpu(() => { for (let i = 0; i < n; i++) JSON.parse(text); });
  const out = [];
  for (const e of exprs) {
    const ex = jsonata(e);
    let best = 1e9;
    for (let r = 0; r < batches; r++) {
      const t = process.cpuUsage();
      for (let i = 0; i < n; i++) await ex.evaluate({}, {states: {input: JSON.parse(text)}});
      const u = process.cpuUsage(t);
      best = Math.min(best, (u.user + u.system) / n);
    }
    out.push(best - parse);
  }
  console.log(JSON.stringify(out));
})();
"""


def engine_costs(text: str) -> list[float]:
    """Microseconds per evaluation of each expression by the engine, the input parse subtracted."""
    data = text.encode()

    def best(fn: object) -> float:
        low = float("inf")
        for _ in range(BATCHES):
            start = time.thread_time()
            for _ in range(PER_BATCH):
                fn()  # type: ignore[operator]
            low = min(low, (time.thread_time() - start) / PER_BATCH)
        return low

    parse = best(lambda: orjson.loads(data))
    out = []
    for expression in EXPRESSIONS:
        template = compile_template("{% " + expression + " %}", "Output", "/Output")
        out.append((best(lambda t=template: t.evaluate({"input": orjson.loads(data)}, {})) - parse) * 1e6)
    return out


def js_costs(text: str, node_modules: Path) -> list[float]:
    """Microseconds per evaluation of each expression by jsonata-js, the input parse subtracted."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise SystemExit("node is not installed (needed to run jsonata-js)")
    if not (node_modules / "jsonata" / "package.json").exists():
        raise SystemExit(f"{node_modules} holds no jsonata package (npm install jsonata@2.0.6)")
    version = json.loads((node_modules / "jsonata" / "package.json").read_text())["version"]
    if version != "2.0.6":
        print(f"note: jsonata-js {version}, not 2.0.6", file=sys.stderr)
    done = subprocess.run([node, "-e", _NODE, str(node_modules)], input=json.dumps(
        [EXPRESSIONS, text, BATCHES, PER_BATCH]).encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"jsonata-js failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return [float(x) for x in json.loads(done.stdout)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node-modules", type=Path, required=True, help="a node_modules holding jsonata 2.0.6")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    text = INPUT.read_text()
    ours = engine_costs(text)
    theirs = js_costs(text, args.node_modules)
    rows = [{"expression": e, "engine_us": round(a, 2), "jsonata_js_us": round(b, 2),
             "ratio": round(a / b, 2) if b > 0 else None} for e, a, b in zip(EXPRESSIONS, ours, theirs, strict=True)]
    if args.json:
        print(orjson.dumps(rows).decode())
        return 0
    print(f"{'engine µs':>10} {'jsonata-js µs':>14} {'ratio':>6}  expression")
    for row in rows:
        print(f"{row['engine_us']:>10.2f} {row['jsonata_js_us']:>14.2f} {row['ratio']!s:>6}  {row['expression'][:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
