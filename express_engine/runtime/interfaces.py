"""The two interfaces the API and the CLI program against, whatever holds the state machines.

:class:`StateMachineRegistry` is implemented by the Redis registry (:class:`express_engine.service.registry.Registry`)
and by the in-process one (:class:`express_engine.api.local.LocalRegistry`, over an :class:`Engine`'s machines);
:class:`StartClient` by the Redis start client (:class:`express_engine.service.client.Client`) and the in-process
one (:class:`express_engine.api.local.LocalClient`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .configuration import EncryptionArg, LoggingArg, TracingArg
from .records import StateMachineRecord

#: A list of API objects (ListStateMachineVersions' and ListStateMachineAliases' items, alias routing).
Items = list[dict[str, Any]]


class StateMachineRegistry(Protocol):
    """Where state machines, their versions and aliases are created, read, updated, deleted and tagged; methods
    raise service errors."""

    async def create(self, name: str, definition: str, *, type: str = "EXPRESS", role_arn: str = "",
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None,
                     tags: dict[str, str] | None = None) -> StateMachineRecord:
        """Create (or, with identical content, return) a state machine."""

    async def get(self, arn: str) -> StateMachineRecord:
        """The record of a state machine ARN."""

    async def list(self) -> list[StateMachineRecord]:
        """Every state machine, sorted by name."""

    async def update(self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None) -> StateMachineRecord:
        """Replace the definition / role / configurations; the new record has a new revision id."""

    async def delete(self, arn: str) -> None:
        """Delete a state machine (no error when it does not exist)."""

    async def tag(self, arn: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags."""

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        """Remove tags by key (absent keys are ignored)."""

    async def tags(self, arn: str) -> dict[str, str]:
        """The machine's tags."""

    async def publish_version(self, arn: str, *, description: str | None = None,
                              revision_id: str | None = None) -> tuple[str, float]:
        """Publish the current revision as a version: ``(version ARN, creation date)``."""

    async def list_versions(self, arn: str) -> Items:
        """ListStateMachineVersions' items, newest first."""

    async def delete_version(self, version_arn: str) -> None:
        """Delete a version (none is no error)."""

    async def create_alias(self, name: str, description: str | None,
                           routing: Items) -> tuple[str, float]:
        """Create an alias routing to versions: ``(alias ARN, creation date)``."""

    async def describe_alias(self, alias_arn: str) -> dict[str, Any]:
        """DescribeStateMachineAlias' response."""

    async def update_alias(self, alias_arn: str, description: str | None,
                           routing: Items | None) -> float:
        """Change an alias' description and/or routing: its update date."""

    async def delete_alias(self, alias_arn: str) -> None:
        """Delete an alias."""

    async def list_aliases(self, arn: str) -> Items:
        """ListStateMachineAliases' items, newest first."""


class StartClient(Protocol):
    """Starts executions: asynchronously (at-least-once) or synchronously (waiting for the result)."""

    async def start_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None,
                              *, test_case: str | None = None) -> dict[str, Any]:
        """Accept an async start: ``{executionArn, startDate}``."""

    async def start_sync_execution(self, state_machine_arn: str, input: str | None = None,
                                   name: str | None = None, *, test_case: str | None = None,
                                   timeout: float = 330.0) -> dict[str, Any]:
        """Run one execution to its end: the StartSyncExecution response."""

    async def start_sync_execution_json(self, state_machine_arn: str, input: str | None = None,
                                        name: str | None = None, *, test_case: str | None = None,
                                        timeout: float = 330.0) -> bytes:
        """:meth:`start_sync_execution`, answered as JSON bytes."""
