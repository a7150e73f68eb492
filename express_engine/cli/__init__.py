"""The ``express-engine`` command line.

Every command prints JSON on stdout and never a traceback for bad input. The commands live in this
package, one module per group: :mod:`.local` (``execute``, ``validate``: in process), :mod:`.service`
(Redis: ``serve``, ``worker``, ``create-state-machine``, ``start``, ``start-sync``), :mod:`.events`
(``create-event-source``, ``put-rule``, ``put-targets``, ``put-events``...), :mod:`.api`
(``api``: the HTTP API alone) and :mod:`.bench` (``bench``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .common import EXIT_INVALID, check_redis_url, run_async

__all__ = ["build_parser", "main", "run_async"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    from . import api, bench, events, local, service

    parser = argparse.ArgumentParser(prog="express-engine",
                                     description="Run Amazon States Language Express workflows.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (local, service, events, api, bench):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``express-engine`` console script."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        bad = check_redis_url(args)
        if bad is not None:
            return bad
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:  # a broken install: name what is missing rather than hide a command
        sys.stderr.write(f"express-engine: cannot load a required module ({exc}); "
                         "reinstall with: pip install express_engine\n")
        return EXIT_INVALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
