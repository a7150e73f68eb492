"""State machine versions and aliases: the bookkeeping both registries (Redis and in process) share.

A *version* is an immutable snapshot of one revision of a machine, numbered from 1 and never renumbered
(``<machine ARN>:<n>``); an *alias* (``<machine ARN>:<name>``) routes starts to one version, or splits them
at random between two by weight, as AWS does for canary deployments. Limits and error names follow AWS's
API reference (PublishStateMachineVersion, CreateStateMachineAlias, ...): 1,000 versions and 100 aliases
per machine (ServiceQuotaExceededException); a version an alias routes to cannot be deleted
(ConflictException). :class:`Book` holds one machine's versions and aliases as plain JSON, so the Redis
registry stores it as one document.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import service_errors as api
from ..jsonutil import Json

MAX_VERSIONS = 1000
MAX_ALIASES = 100
ALIAS_NAME_PATTERN = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$"
_ALIAS_NAME_RE = re.compile(ALIAS_NAME_PATTERN)
_rng = random.Random()


def split_arn(arn: str) -> tuple[str, str | None]:
    """``(machine ARN, qualifier)`` of a state machine ARN: the qualifier is a version number, an alias name or None."""
    parts = arn.split(":")
    if len(parts) == 8 and parts[7]:
        return ":".join(parts[:7]), parts[7]
    return arn, None


def is_version_arn(arn: str) -> bool:
    """Whether ``arn`` names a version (``...:stateMachine:<name>:<n>``)."""
    qualifier = split_arn(arn)[1]
    return qualifier is not None and qualifier.isdigit()


def is_alias_arn(arn: str) -> bool:
    """Whether ``arn`` names an alias (``...:stateMachine:<name>:<alias>``)."""
    qualifier = split_arn(arn)[1]
    return qualifier is not None and not qualifier.isdigit()


def refuse_qualified(arn: str) -> None:
    """ValidationException for a version or alias ARN given to an operation that takes only a machine's ARN."""
    if split_arn(arn)[1] is not None:
        raise api.ValidationException(f"Invalid Arn: qualified state machine ARNs (versions, aliases) are not "
                                      f"supported by this operation: '{arn}'")


def pick(routing: Sequence[Mapping[str, Any]]) -> str:
    """The version ARN one start of an alias runs: chosen at random by weight (percentages summing to 100)."""
    if len(routing) == 1:
        return str(routing[0]["stateMachineVersionArn"])
    first = routing[0]
    return str(first["stateMachineVersionArn"] if _rng.random() * 100 < first["weight"]
               else routing[1]["stateMachineVersionArn"])


@dataclass(slots=True)
class Book:
    """The versions and aliases of one state machine."""

    machine_arn: str
    next_version: int = 1
    #: version number -> {revisionId, description, creationDate}
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: alias name -> {description, routingConfiguration, creationDate, updateDate}
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, machine_arn: str, doc: Mapping[str, Any] | None) -> Book:
        """The book a stored document describes (an empty one for None)."""
        if not doc:
            return cls(machine_arn)
        return cls(machine_arn, doc["next"], {int(n): v for n, v in doc["versions"].items()}, dict(doc["aliases"]))

    def to_json(self) -> dict[str, Json]:
        """The document to store."""
        return {"next": self.next_version, "versions": {str(n): v for n, v in self.versions.items()},
                "aliases": self.aliases}

    def version_arn(self, number: int) -> str:
        """The ARN of version ``number``."""
        return f"{self.machine_arn}:{number}"

    # -- versions ------------------------------------------------------------------------------------

    def publish(self, revision_id: str, description: str | None, expected_revision: str | None) -> tuple[int, bool]:
        """Publish the machine's current revision ``revision_id``: ``(version number, whether it is new)``.

        Idempotent as on AWS: a revision already published returns its version. Raises ConflictException when
        ``expected_revision`` is not the current one, ServiceQuotaExceededException past 1,000 versions.
        """
        if expected_revision is not None and expected_revision != revision_id:
            raise api.ConflictException(f"Failed to publish the State Machine version for revision "
                                        f"{expected_revision}. The current State Machine revision is {revision_id}.")
        for number, version in self.versions.items():
            if version["revisionId"] == revision_id:
                return number, False
        if len(self.versions) >= MAX_VERSIONS:
            raise api.ServiceQuotaExceededException(
                f"Max number of versions ({MAX_VERSIONS}) reached for state machine '{self.machine_arn}'; "
                "delete unused versions with DeleteStateMachineVersion")
        number, self.next_version = self.next_version, self.next_version + 1
        entry: dict[str, Any] = {"revisionId": revision_id, "creationDate": round(time.time(), 3)}
        if description is not None:
            entry["description"] = description
        self.versions[number] = entry
        return number, True

    def delete_version(self, number: int) -> bool:
        """Forget version ``number`` (whether it existed); ConflictException while an alias routes to it."""
        arn = self.version_arn(number)
        users = [f"{self.machine_arn}:{name}" for name, alias in self.aliases.items()
                 if any(r["stateMachineVersionArn"] == arn for r in alias["routingConfiguration"])]
        if users:
            raise api.ConflictException("Version to be deleted must not be referenced by an alias. Current list of "
                                        f"aliases referencing this version: [{', '.join(users)}]")
        return self.versions.pop(number, None) is not None

    def listed_versions(self) -> list[dict[str, Json]]:
        """ListStateMachineVersions' items, newest first."""
        return [{"stateMachineVersionArn": self.version_arn(n), "creationDate": self.versions[n]["creationDate"]}
                for n in sorted(self.versions, reverse=True)]

    # -- aliases ------------------------------------------------------------------------------------

    def check_routing(self, routing: Sequence[Mapping[str, Any]]) -> list[dict[str, Json]]:
        """A ``routingConfiguration`` checked as AWS does: versions of this machine that exist, distinct, weights
        summing to 100 (ValidationException with reason INVALID_ROUTING_CONFIGURATION; ResourceNotFound)."""
        def invalid(message: str) -> api.ServiceError:
            exc = api.ValidationException(message)
            exc.fields = {"reason": "INVALID_ROUTING_CONFIGURATION"}  # type: ignore[attr-defined]
            return exc

        arns = [str(r["stateMachineVersionArn"]) for r in routing]
        if len(set(arns)) != len(arns):
            raise invalid("Routing configuration must contain distinct state machine version ARNs")
        if sum(int(r["weight"]) for r in routing) != 100:
            raise invalid("Sum of routing configuration weights must be equal to 100")
        for arn in arns:
            base, qualifier = split_arn(arn)
            if qualifier is None or not qualifier.isdigit():
                raise invalid(f"Routing configuration must contain state machine version ARNs: '{arn}'")
            if base != self.machine_arn:
                raise invalid("All state machine versions in a routing configuration must belong to the same "
                              "state machine")
            if int(qualifier) not in self.versions:
                exc = api.ResourceNotFound(f"Resource not found: '{arn}'")
                exc.fields = {"resourceName": arn}  # type: ignore[attr-defined]
                raise exc
        return [{"stateMachineVersionArn": str(r["stateMachineVersionArn"]), "weight": int(r["weight"])}
                for r in routing]

    def alias(self, name: str) -> dict[str, Any]:
        """The alias called ``name``; ResourceNotFound when there is none."""
        alias = self.aliases.get(name)
        if alias is None:
            arn = f"{self.machine_arn}:{name}"
            exc = api.ResourceNotFound(f"Resource not found: '{arn}'")
            exc.fields = {"resourceName": arn}  # type: ignore[attr-defined]
            raise exc
        return alias

    def create_alias(self, name: str, description: str | None, routing: Sequence[Mapping[str, Any]]) -> float:
        """Create an alias (idempotent for the same description and routing): its creation date.

        Raises ValidationException (name), ConflictException (same name, other settings),
        ServiceQuotaExceededException past 100 aliases, and what :meth:`check_routing` raises.
        """
        if not _ALIAS_NAME_RE.match(name):
            raise api.ValidationException(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                                          f"constraint: Member must satisfy regular expression pattern: "
                                          f"{ALIAS_NAME_PATTERN}")
        checked = self.check_routing(routing)
        existing = self.aliases.get(name)
        if existing is not None:
            if existing.get("description") == description and existing["routingConfiguration"] == checked:
                return float(existing["creationDate"])
            raise api.ConflictException(f"Failed to create alias because an alias with the same name and a "
                                        f"different configuration already exists: '{self.machine_arn}:{name}'")
        if len(self.aliases) >= MAX_ALIASES:
            raise api.ServiceQuotaExceededException(
                f"Max number of aliases ({MAX_ALIASES}) reached for state machine '{self.machine_arn}'")
        now = round(time.time(), 3)
        alias: dict[str, Any] = {"routingConfiguration": checked, "creationDate": now, "updateDate": now}
        if description is not None:
            alias["description"] = description
        self.aliases[name] = alias
        return now

    def update_alias(self, name: str, description: str | None, routing: Sequence[Mapping[str, Any]] | None) -> float:
        """Change an alias's description and/or routing: its update date."""
        alias = self.alias(name)
        if routing is not None:
            alias["routingConfiguration"] = self.check_routing(routing)
        if description is not None:
            alias["description"] = description
        alias["updateDate"] = round(time.time(), 3)
        return float(alias["updateDate"])

    def describe_alias(self, name: str) -> dict[str, Json]:
        """DescribeStateMachineAlias' response."""
        alias = self.alias(name)
        out: dict[str, Json] = {"stateMachineAliasArn": f"{self.machine_arn}:{name}", "name": name}
        if "description" in alias:
            out["description"] = alias["description"]
        out.update(routingConfiguration=alias["routingConfiguration"], creationDate=alias["creationDate"],
                   updateDate=alias["updateDate"])
        return out

    def listed_aliases(self, version_arn: str | None = None) -> list[dict[str, Json]]:
        """ListStateMachineAliases' items, newest first (only those routing to ``version_arn`` when given)."""
        names = [n for n, a in self.aliases.items() if version_arn is None
                 or any(r["stateMachineVersionArn"] == version_arn for r in a["routingConfiguration"])]
        names.sort(key=lambda n: self.aliases[n]["creationDate"], reverse=True)
        return [{"stateMachineAliasArn": f"{self.machine_arn}:{n}", "creationDate": self.aliases[n]["creationDate"]}
                for n in names]
