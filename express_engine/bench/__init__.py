"""Load benchmarking (``express-engine bench``): drive an engine at a fixed rate or concurrency and report.

* :mod:`.targets` - what is driven: in process, the Redis start stream, or the HTTP API;
* :mod:`.loadgen` - open loop (coordinated-omission corrected) and closed loop load;
* :mod:`.resources` - CPU and memory of this process and of the worker processes;
* :mod:`.report` - the JSON report and the PNG plot; :mod:`.run` - one run end to end.
"""

from .loadgen import Plan, Recorder, run_load
from .report import build_report, plot_report, write_report
from .run import run_bench
from .targets import HttpTarget, InProcessTarget, RedisTarget, Target, TargetError

__all__ = ["HttpTarget", "InProcessTarget", "Plan", "Recorder", "RedisTarget", "Target", "TargetError",
           "build_report", "plot_report", "run_bench", "run_load", "write_report"]
