"""Draw the PNG of an existing ``express-engine bench`` report again (e.g. after copying it off a server).

    python benchmarks/plot_report.py report.json report.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.bench.report import plot_report


def main(argv: list[str]) -> int:
    """``plot_report.py REPORT.json OUT.png``."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    plot_report(orjson.loads(Path(argv[0]).read_bytes()), argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
