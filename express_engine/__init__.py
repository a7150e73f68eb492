"""express_engine: run Amazon States Language Express workflows in memory, fast, without AWS.

The public entry points are :class:`Engine` (compile state machines, start executions) and
:func:`compile_definition`; errors live in :mod:`express_engine.errors`.
"""

from .asl.compiler import compile_definition
from .errors import DefinitionError, Diagnostic, StatesError
from .runtime.configuration import LoggingConfiguration
from .runtime.engine import Engine
from .runtime.records import StateMachineRecord
from .runtime.tasks import HandlerRegistry, LambdaContext

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
