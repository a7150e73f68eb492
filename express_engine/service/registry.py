"""State machines stored in Redis, shared by every worker and API server of a namespace.

Each machine is one JSON document in the ``NS:machines`` hash (definition text, type, role, logging,
tracing and encryption configurations, creation date, revision id, tags; a document stored before the
tracing and encryption configurations were kept reads as AWS's defaults for them) plus its revision id
in ``NS:revisions``, which the start script reads to refuse starts of unknown machines and to stamp
each start with the revision it was accepted under. A :class:`Registry` compiles a document once per
revision and keeps the compiled record, so workers and API servers pay for compilation only when a
machine changes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import anyio
import orjson
from redis.exceptions import WatchError

from .. import service_errors as api
from ..eventloop import HEAVY_DEFINITION_CHARS, offload
from ..runtime.configuration import (
    EncryptionArg,
    EncryptionConfiguration,
    LoggingArg,
    LoggingConfiguration,
    TracingArg,
    TracingConfiguration,
)
from ..runtime.engine import DEFAULT_ACCOUNT, DEFAULT_REGION, Engine
from ..runtime.records import StateMachineRecord
from ..runtime.versions import Book, pick, split_arn
from .keys import Keys, text

#: Version and alias list items, routing configurations (JSON objects).
Items = list[dict[str, Any]]

#: AWS's tag limit per resource.
MAX_TAGS = 50


def _doc(record: StateMachineRecord) -> bytes:
    return orjson.dumps({
        "name": record.name,
        "definition": record.definition,
        "type": record.type,
        "roleArn": record.role_arn,
        "logging": record.logging.to_api(),
        "tracing": record.tracing.to_api(),
        "encryption": record.encryption.to_api(),
        "creationDate": record.creation_date,
        "revisionId": record.revision_id,
        "tags": dict(record.tags),
        "updated": record.updated,
        **({"versionArn": record.version_arn, "description": record.description} if record.version_arn else {}),
    })


class Registry:
    """State machines in Redis: create / get / list / update / delete / tag, compiled once per revision."""

    def __init__(self, redis: Any, *, namespace: str = "ee", region: str = DEFAULT_REGION,
                 account: str = DEFAULT_ACCOUNT) -> None:
        self.redis = redis
        self.keys = Keys(namespace)
        self.region = region
        self.account = account
        self._engine = Engine(region=region, account=account)  # compiles and validates; runs nothing
        self._cache: dict[str, tuple[bytes, StateMachineRecord]] = {}
        self._routes: dict[str, tuple[float, Items]] = {}  # alias ARN -> (expiry, routing)
        self._compiling: dict[str, anyio.Lock] = {}  # ARN -> held while its large definition compiles

    # -- names ---------------------------------------------------------------------------------------

    def arn(self, name_or_arn: str) -> str:
        """The state machine ARN for an ARN or a bare name; raises InvalidArn for other ARNs."""
        if not isinstance(name_or_arn, str) or not name_or_arn:
            raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {name_or_arn}'")
        if not name_or_arn.startswith("arn:"):
            return self._engine.state_machine_arn(name_or_arn)
        parts = name_or_arn.split(":")
        if len(parts) < 7 or parts[2] != "states" or not parts[6]:
            raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {name_or_arn}'")
        if parts[5] != "stateMachine":
            raise api.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {parts[5]}'")
        return name_or_arn

    # -- documents -> records ----------------------------------------------------------------------------

    async def _record(self, arn: str, raw: bytes | str) -> StateMachineRecord:
        """The record a stored document describes; compiled only when its revision is new to us.

        A large definition compiles in a worker thread (the event loop keeps serving), once: concurrent
        readers of the same machine wait for that compilation instead of starting their own.
        """
        raw_b = raw.encode() if isinstance(raw, str) else raw
        cached = self._cache.get(arn)
        if cached is not None and cached[0] == raw_b:
            return cached[1]
        doc = orjson.loads(raw_b)
        if (cached is not None and cached[1].revision_id == doc["revisionId"]) or \
                len(doc["definition"]) <= HEAVY_DEFINITION_CHARS:
            return self._store(arn, raw_b, doc, cached)
        lock = self._compiling.setdefault(arn, anyio.Lock())
        try:
            async with lock:
                cached = self._cache.get(arn)
                if cached is not None and cached[0] == raw_b:  # (compiled meanwhile by whoever held the lock)
                    return cached[1]
                compiled = await offload(len(doc["definition"]), self._engine.build_record, doc["name"],
                                         doc["definition"], type=doc["type"])
                return self._store(arn, raw_b, doc, cached, compiled)
        finally:
            if not lock.locked() and self._compiling.get(arn) is lock:
                del self._compiling[arn]

    def _store(self, arn: str, raw_b: bytes, doc: dict[str, Any], cached: tuple[bytes, StateMachineRecord] | None,
               compiled: StateMachineRecord | None = None) -> StateMachineRecord:
        """Cache and return the record of ``doc`` (compiled here unless the revision is cached or ``compiled``)."""
        settings: dict[str, Any] = {
            "arn": arn, "version_arn": doc.get("versionArn"), "description": doc.get("description"),
            "role_arn": doc["roleArn"], "tags": doc.get("tags") or {}, "updated": doc.get("updated", False),
            "logging": LoggingConfiguration.from_api(doc.get("logging")),
            "tracing": TracingConfiguration.from_api(doc.get("tracing")),
            "encryption": EncryptionConfiguration.from_api(doc.get("encryption")),
        }
        if compiled is None and cached is not None and cached[1].revision_id == doc["revisionId"]:
            record = replace(cached[1], **settings)
        else:
            if compiled is None:
                compiled = self._engine.build_record(doc["name"], doc["definition"], type=doc["type"])
            record = replace(compiled, creation_date=doc["creationDate"], revision_id=doc["revisionId"], **settings)
        self._cache[arn] = (raw_b, record)
        return record

    def cached(self, arn: str, revision_id: str) -> StateMachineRecord | None:
        """The compiled record of ``arn`` at ``revision_id`` if this registry holds it (no Redis call)."""
        hit = self._cache.get(arn)
        if hit is not None and hit[1].revision_id == revision_id:
            return hit[1]
        return None

    # -- API -------------------------------------------------------------------------------------------

    async def create(self, name: str, definition: str, *, type: str = "EXPRESS", role_arn: str = "",
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None,
                     tags: dict[str, str] | None = None) -> StateMachineRecord:
        """Validate, compile and store a state machine.

        Idempotent like AWS (:meth:`StateMachineRecord.same_content`): the same name with the same definition,
        type, logging, tracing and encryption configurations returns the existing record (its creation date,
        role and tags included); other content raises StateMachineAlreadyExists. Also raises InvalidDefinition,
        InvalidName, Invalid{Logging,Tracing,Encryption}Configuration, StateMachineTypeNotSupported, TooManyTags.
        """
        if tags and len(tags) > MAX_TAGS:
            raise api.TooManyTags(f"Too many tags: a resource can have at most {MAX_TAGS} tags")
        record = await offload(len(definition), self._engine.build_record, name, definition, type=type,
                               role_arn=role_arn, logging_configuration=logging_configuration,
                               tracing_configuration=tracing_configuration,
                               encryption_configuration=encryption_configuration, tags=tags)
        raw = _doc(record)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(self.keys.machines, record.arn, raw)
        pipe.hsetnx(self.keys.revisions, record.arn, record.revision_id)
        pipe.hget(self.keys.machines, record.arn)
        created, _, current = await pipe.execute()
        if created:
            self._cache[record.arn] = (raw, record)
            return record
        existing = await self._record(record.arn, current)
        if existing.same_content(record):
            return existing
        raise api.StateMachineAlreadyExists(f"State Machine Already Exists: '{record.arn}'")

    async def get(self, arn: str) -> StateMachineRecord:
        """The record of a state machine ARN (or name); raises StateMachineDoesNotExist / InvalidArn."""
        arn = self.arn(arn)
        raw = await self.redis.hget(self.keys.machines, arn)
        if raw is None:
            self._cache.pop(arn, None)
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return await self._record(arn, raw)

    async def list(self) -> list[StateMachineRecord]:
        """Every state machine of the namespace, sorted by name (as AWS lists them)."""
        raw = await self.redis.hgetall(self.keys.machines)
        records = [await self._record(arn, doc) for arn, doc in ((text(a), d) for a, d in raw.items())
                   if split_arn(arn)[1] is None]  # (versions are listed by ListStateMachineVersions)
        return sorted(records, key=lambda r: r.name)

    async def update(self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
                     logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                     encryption_configuration: EncryptionArg = None) -> StateMachineRecord:
        """Replace the definition / role / configurations (None keeps one); the new revision gets a new revision id.

        Executions already running keep the old revision; starts accepted just before may still run it
        (AWS: "executions started within a few seconds may use the previous definition").
        """
        if all(value is None for value in (definition, role_arn, logging_configuration, tracing_configuration,
                                            encryption_configuration)):
            raise api.MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration "
                "must be specified")
        def change(old: StateMachineRecord) -> StateMachineRecord:
            return self._engine.updated_record(old, definition=definition, role_arn=role_arn,
                                               logging_configuration=logging_configuration,
                                               tracing_configuration=tracing_configuration,
                                               encryption_configuration=encryption_configuration)

        return await self._modify(self.arn(arn), change, new_revision=True, heavy=len(definition or ""))

    async def delete(self, arn: str) -> None:
        """Delete a state machine (no error when it does not exist, as on AWS)."""
        arn = self.arn(arn)
        book = await self._book(arn)
        doomed = [arn, *(book.version_arn(n) for n in book.versions)]  # (AWS deletes its versions and aliases too)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.keys.machines, *doomed)
        pipe.hdel(self.keys.revisions, *doomed)
        pipe.hdel(self.keys.books, arn)
        await pipe.execute()
        for gone in doomed:
            self._cache.pop(gone, None)

    # -- versions and aliases --------------------------------------------------------------------------

    async def _book(self, machine_arn: str) -> Book:
        raw = await self.redis.hget(self.keys.books, machine_arn)
        return Book.from_json(machine_arn, orjson.loads(raw) if raw else None)

    async def _with_book(self, machine_arn: str, change: Callable[[StateMachineRecord, Book], Any],
                         missing: type[api.ServiceError] = api.StateMachineDoesNotExist) -> Any:
        """Apply ``change(machine, book)`` under WATCH and store the book; ``change`` returns ``(result, writes)``,
        writes being ``(hash key, field, value or None to delete)``."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.keys.machines, self.keys.books)
                    raw = await pipe.hget(self.keys.machines, machine_arn)
                    if raw is None:
                        exc = missing(f"State Machine Does Not Exist: '{machine_arn}'"
                                      if missing is api.StateMachineDoesNotExist
                                      else f"Resource not found: '{machine_arn}'")
                        raise exc
                    book_raw = await pipe.hget(self.keys.books, machine_arn)
                    book = Book.from_json(machine_arn, orjson.loads(book_raw) if book_raw else None)
                    result, writes = change(await self._record(machine_arn, raw), book)
                    pipe.multi()
                    pipe.hset(self.keys.books, machine_arn, orjson.dumps(book.to_json()))
                    for key, name, value in writes:
                        if value is None:
                            pipe.hdel(key, name)
                        else:
                            pipe.hset(key, name, value)
                    await pipe.execute()
                except WatchError:
                    continue
                return result

    async def publish_version(self, arn: str, *, description: str | None = None,
                              revision_id: str | None = None) -> tuple[str, float]:
        """Publish the machine's current revision as a version: ``(version ARN, creation date)``."""
        def change(record: StateMachineRecord, book: Book) -> Any:
            number, new = book.publish(record.revision_id, description, revision_id)
            version_arn, entry = book.version_arn(number), book.versions[number]
            writes: tuple[tuple[str, str, Any], ...] = ()
            if new:
                version = replace(record, arn=version_arn, version_arn=version_arn, description=description,
                                  creation_date=entry["creationDate"])
                writes = ((self.keys.machines, version_arn, _doc(version)),
                          (self.keys.revisions, version_arn, version.revision_id))
            return (version_arn, entry["creationDate"]), writes

        result: tuple[str, float] = await self._with_book(self.arn(arn), change)
        return result

    async def list_versions(self, arn: str) -> Items:
        """ListStateMachineVersions' items, newest first."""
        return (await self._book(self.arn(arn))).listed_versions()

    async def delete_version(self, version_arn: str) -> None:
        """Delete a version (none is no error); ConflictException while an alias routes to it."""
        machine_arn, qualifier = split_arn(version_arn)
        number = int(qualifier or 0)

        def change(record: StateMachineRecord, book: Book) -> Any:
            book.delete_version(number)
            return None, [(self.keys.machines, version_arn, None), (self.keys.revisions, version_arn, None)]

        with contextlib.suppress(api.StateMachineDoesNotExist):
            await self._with_book(machine_arn, change)
        self._cache.pop(version_arn, None)

    async def create_alias(self, name: str, description: str | None,
                           routing: Items) -> tuple[str, float]:
        """Create an alias of the machine whose versions ``routing`` names: ``(alias ARN, creation date)``."""
        machine_arn = split_arn(str(routing[0]["stateMachineVersionArn"]))[0]
        created = await self._with_book(machine_arn, lambda _, book: (book.create_alias(name, description, routing),
                                                                      []), missing=api.ResourceNotFound)
        return f"{machine_arn}:{name}", float(created)

    async def describe_alias(self, alias_arn: str) -> dict[str, Any]:
        """DescribeStateMachineAlias' response; ResourceNotFound."""
        machine_arn, name = split_arn(alias_arn)
        return (await self._book(machine_arn)).describe_alias(name or "")

    async def update_alias(self, alias_arn: str, description: str | None,
                           routing: Items | None) -> float:
        """Change an alias's description and/or routing: the update date."""
        machine_arn, name = split_arn(alias_arn)
        updated = await self._with_book(machine_arn, lambda _, book: (
            book.update_alias(name or "", description, routing), []), missing=api.ResourceNotFound)
        self._routes.pop(alias_arn, None)
        return float(updated)

    async def delete_alias(self, alias_arn: str) -> None:
        """Delete an alias; ResourceNotFound when there is none."""
        machine_arn, name = split_arn(alias_arn)

        def change(record: StateMachineRecord, book: Book) -> Any:
            book.alias(name or "")  # (ResourceNotFound)
            del book.aliases[name or ""]
            return None, []

        await self._with_book(machine_arn, change, missing=api.ResourceNotFound)
        self._routes.pop(alias_arn, None)

    async def list_aliases(self, arn: str) -> Items:
        """ListStateMachineAliases' items, newest first; for a version ARN, the aliases routing to it."""
        machine_arn, qualifier = split_arn(self.arn(arn))
        if await self.redis.hget(self.keys.machines, machine_arn) is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'")
        book = await self._book(machine_arn)
        if qualifier is not None and int(qualifier) not in book.versions:
            raise api.ResourceNotFound(f"Resource not found: '{arn}'")
        return book.listed_aliases(arn if qualifier is not None else None)

    async def route(self, alias_arn: str) -> str:
        """The version ARN one start of an alias runs (routing read at most once a second, as AWS's is
        eventually consistent); StateMachineDoesNotExist for an alias that does not exist."""
        now = time.monotonic()
        hit = self._routes.get(alias_arn)
        if hit is None or hit[0] < now:
            machine_arn, name = split_arn(alias_arn)
            alias = (await self._book(machine_arn)).aliases.get(name or "")
            if alias is None:
                raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{alias_arn}'")
            hit = self._routes[alias_arn] = (now + 1.0, alias["routingConfiguration"])
        return pick(hit[1])

    async def tag(self, arn: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags; raises ResourceNotFound, TooManyTags."""
        def change(old: StateMachineRecord) -> StateMachineRecord:
            merged = {**old.tags, **tags}
            if len(merged) > MAX_TAGS:
                raise api.TooManyTags(f"Too many tags: a resource can have at most {MAX_TAGS} tags")
            return replace(old, tags=merged)

        await self._modify(self._tag_arn(arn), change)

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        """Remove tags (unknown keys are ignored); raises ResourceNotFound."""
        drop = set(keys)
        await self._modify(self._tag_arn(arn),
                           lambda old: replace(old, tags={k: v for k, v in old.tags.items() if k not in drop}))

    async def tags(self, arn: str) -> dict[str, str]:
        """The tags of a state machine; raises ResourceNotFound."""
        arn = self._tag_arn(arn)
        try:
            return dict((await self.get(arn)).tags)
        except api.StateMachineDoesNotExist:
            raise api.ResourceNotFound(f"Resource not found: '{arn}'") from None

    # -- helpers ---------------------------------------------------------------------------------------

    def _tag_arn(self, arn: str) -> str:
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
        return self.arn(arn)

    async def _modify(self, arn: str, change: Callable[[StateMachineRecord], StateMachineRecord], *,
                      new_revision: bool = False, heavy: int = 0) -> StateMachineRecord:
        """Read-modify-write one document under WATCH, retrying when another writer got there first.

        ``heavy`` is the size of a definition ``change`` compiles (large ones compile in a thread).
        """
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.keys.machines)
                    raw = await pipe.hget(self.keys.machines, arn)
                    if raw is None:
                        if new_revision:
                            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
                        raise api.ResourceNotFound(f"Resource not found: '{arn}'")
                    new = await offload(heavy, change, await self._record(arn, raw))
                    new_raw = _doc(new)
                    pipe.multi()
                    pipe.hset(self.keys.machines, arn, new_raw)
                    if new_revision:
                        pipe.hset(self.keys.revisions, arn, new.revision_id)
                    await pipe.execute()
                except WatchError:
                    continue
                self._cache[arn] = (new_raw, new)
                return new
