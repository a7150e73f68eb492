"""express_engine: run Amazon States Language Express workflows in memory, fast, without AWS.

The public entry points are :class:`Engine` (compile state machines, start executions) and
:func:`compile_definition`; errors live in :mod:`express_engine.errors`.
"""

from typing import TYPE_CHECKING, Any

from .errors import DefinitionError, Diagnostic, StatesError

if TYPE_CHECKING:
    from .asl.compiler import compile_definition
    from .runtime.configuration import LoggingConfiguration
    from .runtime.engine import Engine
    from .runtime.records import StateMachineRecord
    from .runtime.tasks import HandlerRegistry, LambdaContext

# The engine is imported on first use of these names: importing the package (or loading its pytest plugin,
# express_engine.testing) does not import the evaluators and what they depend on.
_LAZY = {"compile_definition": "asl.compiler", "Engine": "runtime.engine",
         "LoggingConfiguration": "runtime.configuration", "StateMachineRecord": "runtime.records",
         "HandlerRegistry": "runtime.tasks", "LambdaContext": "runtime.tasks"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'express_engine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "DefinitionError",
    "Diagnostic",
    "Engine",
    "HandlerRegistry",
    "LambdaContext",
    "LoggingConfiguration",
    "StateMachineRecord",
    "StatesError",
    "compile_definition",
]
__version__ = "0.1.0"
