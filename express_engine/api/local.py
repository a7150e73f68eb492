"""In-process stand-ins for the Redis-backed Registry and Client, over one :class:`Engine`.

They have the same methods (and raise the same service errors) as
``express_engine.service.registry.Registry`` and ``express_engine.service.client.Client``, so the
HTTP API, the pytest plugin and the benchmarks can run without Redis::

    async with local_backend() as (registry, client):
        await serve_http(registry, client, port=8083)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import orjson

from .. import service_errors as api
from ..eventloop import offload
from ..jsonutil import Json
from ..runtime.configuration import EncryptionArg, LoggingArg, TracingArg
from ..runtime.engine import Engine
from ..runtime.mocks import MockConfig, MockConfigError
from ..runtime.records import StateMachineRecord
from ..runtime.versions import Book, pick, split_arn
from .arns import check_state_machine_arn

#: Version and alias list items, routing configurations (JSON objects).
Items = list[dict[str, Any]]


class LocalRegistry:
    """State machines held by an in-process :class:`Engine` (same interface as the Redis Registry)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.books: dict[str, Book] = {}  # machine ARN -> its versions and aliases
        self.versions: dict[str, StateMachineRecord] = {}  # version ARN -> the version's snapshot

    def _get(self, arn: str) -> StateMachineRecord:
        check_state_machine_arn(arn)
        machine_arn, qualifier = split_arn(arn)
        record = self.engine.machines.get(arn) if qualifier is None else self.versions.get(arn)
        if record is None and qualifier is not None and not qualifier.isdigit():  # an alias: pick its version
            alias = self._book(machine_arn).aliases.get(qualifier)
            version = self.versions.get(pick(alias["routingConfiguration"])) if alias else None
            record = replace(version, arn=arn, alias_arn=arn) if version else None
        if record is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return record

    def _book(self, machine_arn: str) -> Book:
        """The machine's book, or an empty one (not kept: reading an unknown ARN stores nothing)."""
        return self.books.get(machine_arn) or Book(machine_arn)

    async def create(self, name: str, definition: str, *, type: str = "EXPRESS", role_arn: str = "",
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None,
                     tags: dict[str, str] | None = None) -> StateMachineRecord:
        """Create (or, with identical content, return) a state machine; raises service errors."""
        return await offload(len(definition), self.engine.create_state_machine, name, definition, type=type,
                             role_arn=role_arn, logging_configuration=logging_configuration,
                             tracing_configuration=tracing_configuration,
                             encryption_configuration=encryption_configuration, tags=tags)

    async def get(self, arn: str) -> StateMachineRecord:
        """The record for ``arn``; raises InvalidArn / StateMachineDoesNotExist."""
        return self._get(arn)

    async def list(self) -> list[StateMachineRecord]:
        """Every state machine, sorted by name."""
        return sorted(self.engine.machines.values(), key=lambda r: r.name)

    async def update(self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None) -> StateMachineRecord:
        """Replace definition / role / configurations; returns the new record (with a new revision id)."""
        self._get(arn)
        return await offload(len(definition or ""), self.engine.update_state_machine, arn, definition=definition,
                             role_arn=role_arn, logging_configuration=logging_configuration,
                             tracing_configuration=tracing_configuration,
                             encryption_configuration=encryption_configuration)

    async def delete(self, arn: str) -> None:
        """Delete a state machine (no error when it does not exist)."""
        check_state_machine_arn(arn)
        self.engine.delete_state_machine(arn)
        book = self.books.pop(arn, None)
        for number in book.versions if book else ():
            self.versions.pop(book.version_arn(number), None)  # type: ignore[union-attr]

    # -- versions and aliases (see express_engine.runtime.versions) ---------------------------------------

    def _machine_book(self, machine_arn: str, missing: type[api.ServiceError] = api.StateMachineDoesNotExist) -> Book:
        if machine_arn not in self.engine.machines:
            raise missing(f"State Machine Does Not Exist: '{machine_arn}'" if missing is api.StateMachineDoesNotExist
                          else f"Resource not found: '{machine_arn}'")
        return self.books.setdefault(machine_arn, Book(machine_arn))

    async def publish_version(self, arn: str, *, description: str | None = None,
                              revision_id: str | None = None) -> tuple[str, float]:
        """Publish the machine's current revision as a version: ``(version ARN, creation date)``."""
        record = self._get(arn)
        book = self._machine_book(arn)
        number, new = book.publish(record.revision_id, description, revision_id)
        version_arn, entry = book.version_arn(number), book.versions[number]
        if new:
            self.versions[version_arn] = replace(record, arn=version_arn, version_arn=version_arn,
                                                 description=description, creation_date=entry["creationDate"])
        return version_arn, entry["creationDate"]

    async def list_versions(self, arn: str) -> Items:
        """ListStateMachineVersions' items, newest first."""
        return self._book(arn).listed_versions()

    async def delete_version(self, version_arn: str) -> None:
        """Delete a version (none is no error); ConflictException while an alias routes to it."""
        machine_arn, qualifier = split_arn(version_arn)
        self._book(machine_arn).delete_version(int(qualifier or 0))
        self.versions.pop(version_arn, None)

    async def create_alias(self, name: str, description: str | None,
                           routing: Items) -> tuple[str, float]:
        """Create an alias of the machine whose versions ``routing`` names: ``(alias ARN, creation date)``."""
        machine_arn = split_arn(str(routing[0]["stateMachineVersionArn"]))[0]
        created = self._machine_book(machine_arn, api.ResourceNotFound).create_alias(name, description, routing)
        return f"{machine_arn}:{name}", created

    async def describe_alias(self, alias_arn: str) -> dict[str, Any]:
        """DescribeStateMachineAlias' response; ResourceNotFound."""
        machine_arn, name = split_arn(alias_arn)
        return self._book(machine_arn).describe_alias(name or "")

    async def update_alias(self, alias_arn: str, description: str | None,
                           routing: Items | None) -> float:
        """Change an alias's description and/or routing: the update date."""
        machine_arn, name = split_arn(alias_arn)
        return self._machine_book(machine_arn, api.ResourceNotFound).update_alias(name or "", description, routing)

    async def delete_alias(self, alias_arn: str) -> None:
        """Delete an alias; ResourceNotFound when there is none."""
        machine_arn, name = split_arn(alias_arn)
        book = self._machine_book(machine_arn, api.ResourceNotFound)
        book.alias(name or "")
        del book.aliases[name or ""]

    async def list_aliases(self, arn: str) -> Items:
        """ListStateMachineAliases' items, newest first; for a version ARN, the aliases routing to it."""
        machine_arn, qualifier = split_arn(arn)
        book = self._machine_book(machine_arn)
        if qualifier is not None and int(qualifier) not in book.versions:
            raise api.ResourceNotFound(f"Resource not found: '{arn}'")
        return book.listed_aliases(arn if qualifier is not None else None)

    async def tag(self, arn: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags."""
        record = self._get(arn)
        self.engine.put_record(replace(record, tags={**record.tags, **tags}))

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        """Remove tags by key (absent keys are ignored)."""
        record = self._get(arn)
        drop = set(keys)
        self.engine.put_record(replace(record, tags={k: v for k, v in record.tags.items() if k not in drop}))

    async def tags(self, arn: str) -> dict[str, str]:
        """The machine's tags."""
        return dict(self._get(arn).tags)


class LocalClient:
    """Starts executions on the in-process engine (same interface as the Redis Client).

    ``start_execution`` needs the engine running (``async with engine``); :func:`local_backend` does it.
    """

    def __init__(self, engine: Engine, *, registry: LocalRegistry | None = None,
                 mocks: MockConfig | None = None) -> None:
        self.engine = engine
        self.registry = registry or LocalRegistry(engine)
        self.mocks = mocks

    def _mock(self, record: StateMachineRecord, test_case: str | None) -> Any:
        if not test_case:
            return None
        if self.mocks is None:
            raise api.ValidationException(
                f"Test case '{test_case}' was requested but no mock configuration is loaded (pass --mock-config "
                "FILE or set SFN_MOCK_CONFIG)")
        try:
            return self.mocks.for_execution(record.name, test_case)
        except MockConfigError as exc:
            raise api.ValidationException(str(exc)) from None

    async def start_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None,
                              *, test_case: str | None = None) -> dict[str, Json]:
        """Start an execution in the background: ``{executionArn, startDate}``."""
        record = self.registry._get(state_machine_arn)
        return await self.engine.start_execution(record, input, name, mock=self._mock(record, test_case))

    async def start_sync_execution(self, state_machine_arn: str, input: str | None = None,
                                   name: str | None = None, *, test_case: str | None = None,
                                   timeout: float = 330.0) -> dict[str, Json]:
        """Run an execution to its end: the StartSyncExecution response."""
        record = self.registry._get(state_machine_arn)
        return await self.engine.start_sync_execution(record, input, name, mock=self._mock(record, test_case))

    async def start_sync_execution_json(self, state_machine_arn: str, input: str | None = None,
                                        name: str | None = None, *, test_case: str | None = None,
                                        timeout: float = 330.0) -> bytes:
        """:meth:`start_sync_execution`, serialised (the form the Redis client answers with)."""
        return orjson.dumps(await self.start_sync_execution(state_machine_arn, input, name, test_case=test_case))


@asynccontextmanager
async def local_backend(engine: Engine | None = None, *, mocks: MockConfig | None = None,
                        integrations: bool = True,
                        egress: Any = None) -> AsyncIterator[tuple[LocalRegistry, LocalClient]]:
    """A running in-process engine with its registry and client (service integrations installed)."""
    engine = engine or Engine()
    registry = LocalRegistry(engine)
    client = LocalClient(engine, registry=registry, mocks=mocks)
    async with engine:
        if integrations:
            from ..integrations import install

            async with install(engine.handlers, client=client, egress=egress):
                yield registry, client
        else:
            yield registry, client
