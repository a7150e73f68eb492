"""The web console: state machines drawn as graphs, executions read back from their logs, starts and TestState.

``express-engine serve`` (and ``express-engine api``) serve it at ``http://127.0.0.1:8083/``. The page is
plain HTML/CSS/JavaScript in ``static/``; the graph layout is dagre's, vendored into ``static/vendor/``
by ``vendor.sh`` from a pinned npm version, so the page works offline.
"""

from .app import ConsoleApp, with_console
from .logreader import LogStreamReader

__all__ = ["ConsoleApp", "LogStreamReader", "with_console"]
