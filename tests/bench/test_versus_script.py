"""``benchmarks/versus.py``: this checkout's engine against a git revision's, in one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "versus.py"
WORKFLOWS = ROOT.parent / "shared" / "bench" / "workflows"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.skipif(not (ROOT / ".git").exists() or not WORKFLOWS.exists(),
                    reason="needs the git history and ../shared/bench/workflows")
def test_versus_runs_both_engines_and_reports_the_ratio() -> None:
    done = _run("--baseline", "HEAD", "--only", "W1,W3", "--count", "400", "--blocks", "4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["baseline"] == "HEAD" and set(report["workflows"]) == {"W1", "W3"}
    for row in report["workflows"].values():
        assert row["baseline_per_s"] > 0 and row["this_per_s"] > 0 and row["count"] == 400
        assert row["block_min"] <= row["block_median"] <= row["block_max"]

    bad = _run("--baseline", "no-such-revision", "--only", "W1")
    assert bad.returncode != 0 and "git archive no-such-revision" in bad.stderr and "Traceback" not in bad.stderr
