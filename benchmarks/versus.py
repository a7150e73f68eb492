"""Executions/s of this checkout's engine over a baseline revision's, on the workflows of ``inprocess.py``.

The baseline's package is taken from git (``git archive REV express_engine``), imported under another name,
and the two engines run the same workflow on the same input in alternating blocks on one event loop, so
that both see the same machine (this kind of virtual machine's speed drifts by several percent within a
minute, more than the differences a change is checked for). A ratio of 1.0 means as fast; each workflow's
line also gives the spread of the per-block ratios.

    python benchmarks/versus.py --baseline 220d3a6 [--only W1,W3] [--count N] [--blocks 40] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from inprocess import CASES, WORKFLOWS, warmed_up  # (also puts this checkout's package on sys.path)

from express_engine import Engine
from express_engine.cli import run_async

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "express_engine"


def import_baseline(rev: str, into: Path) -> Any:
    """The ``express_engine`` package of git revision ``rev``, imported as ``express_engine_<rev>``."""
    name = f"{PACKAGE}_{re.sub(r'[^0-9A-Za-z]', '_', rev)}"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, PACKAGE],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"git archive {rev}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / PACKAGE).rename(into / name)
    word = re.compile(rf"\b{PACKAGE}\b")
    for path in (into / name).rglob("*.py"):  # its absolute imports of itself name the new package
        path.write_text(word.sub(name, path.read_text()))
    sys.path.insert(0, str(into))
    return importlib.import_module(name)


async def measure_versus(engine_classes: list[Any], definition: str, input_text: str, count: int,
                         blocks: int) -> list[list[float]]:
    """Seconds each engine (one per class) spent on each block of executions, the blocks alternating."""
    runs = []
    for engine_class in engine_classes:
        engine = engine_class()
        runs.append((engine, await warmed_up(engine, definition, input_text, count)))
    per_block = max(1, count // blocks)
    clock = time.perf_counter
    spent: list[list[float]] = [[] for _ in runs]
    for b in range(blocks):
        for i in range(len(runs)) if b % 2 == 0 else reversed(range(len(runs))):  # (neither always goes first)
            engine, record = runs[i]
            t0 = clock()
            for _ in range(per_block):
                await engine.start_sync_execution(record, input_text)
            spent[i].append(clock() - t0)
    return spent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="git revision to compare with (e.g. a commit or tag)")
    ap.add_argument("--only", help="comma-separated workflow names (default: W1-W5)")
    ap.add_argument("--count", type=int, default=0, help="executions per engine and workflow (default: per-workflow)")
    ap.add_argument("--blocks", type=int, default=40, help="alternating blocks per workflow")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else [n for n in CASES if "-" not in n]
    report: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        baseline = import_baseline(args.baseline, Path(tmp))
        for name in names:
            def_path, input_name, _ = CASES[name]
            count = args.count or (4000 if "W4" in name else 40000)
            spent = run_async(measure_versus, [baseline.Engine, Engine], def_path.read_text(),
                              (WORKFLOWS / input_name).read_text(), count, args.blocks)
            base, this = spent
            per_block = sorted(b / t for b, t in zip(base, this, strict=True))
            report[name] = {
                "ratio": round(sum(base) / sum(this), 4),
                "block_median": round(statistics.median(per_block), 4),
                "block_min": round(per_block[0], 4),
                "block_max": round(per_block[-1], 4),
                "baseline_per_s": round(len(base) * max(1, count // args.blocks) / sum(base), 1),
                "this_per_s": round(len(this) * max(1, count // args.blocks) / sum(this), 1),
                "count": count,
            }
            if not args.json:
                r = report[name]
                print(f"{name:<11} this / {args.baseline}: {r['ratio']:.3f}  (blocks: median {r['block_median']:.3f}, "
                      f"{r['block_min']:.3f}-{r['block_max']:.3f})  {r['this_per_s']:>9,.0f} vs "
                      f"{r['baseline_per_s']:>9,.0f} exec/s")
    if args.json:
        print(orjson.dumps({"baseline": args.baseline, "workflows": report}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
