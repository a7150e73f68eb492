"""Load generator: ``express-engine bench`` run from a source checkout (the implementation is express_engine.bench).

    python benchmarks/loadgen.py --target http --endpoint-url http://127.0.0.1:8083 \
        --definition workflow.asl.json --input-file input.json --rate 1000 --duration 30 \
        --report report.json --plot report.png

Every option of ``express-engine bench --help`` applies.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
