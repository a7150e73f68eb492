"""The record of a created state machine: its definition, settings and compiled form."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..asl.model import StateMachine
from ..jsonutil import Json
from .configuration import EncryptionConfiguration, LoggingConfiguration, TracingConfiguration
from .ids import new_uuid


@dataclass(frozen=True, slots=True)
class StateMachineRecord:
    """A created state machine: its definition text, settings and compiled form."""

    arn: str
    name: str
    definition: str
    machine: StateMachine
    type: str = "EXPRESS"
    role_arn: str = ""
    logging: LoggingConfiguration = field(default_factory=LoggingConfiguration)
    tracing: TracingConfiguration = field(default_factory=TracingConfiguration)
    encryption: EncryptionConfiguration = field(default_factory=EncryptionConfiguration)
    creation_date: float = field(default_factory=lambda: round(time.time(), 3))
    revision_id: str = field(default_factory=new_uuid)
    tags: Mapping[str, str] = field(default_factory=dict)
    #: whether the machine was updated since it was created (only then does AWS describe a ``revisionId``)
    updated: bool = False
    #: a published version's snapshot (``arn`` is then the version ARN) and its description
    version_arn: str | None = None
    description: str | None = None
    #: the alias a start went through (``arn`` is then the alias ARN, ``$$.StateMachine.Id``)
    alias_arn: str | None = None

    def describe(self) -> dict[str, Json]:
        """DescribeStateMachine's response (``variableReferences`` only when some state reads a variable; ``revisionId``
        only once the machine was updated, as AWS answers)."""
        response: dict[str, Json] = {
            "stateMachineArn": self.arn,
            "name": self.name,
            "status": "ACTIVE",
            "definition": self.definition,
            "roleArn": self.role_arn,
            "type": self.type,
            "creationDate": self.creation_date,
            "loggingConfiguration": self.logging.to_api(),
            "tracingConfiguration": self.tracing.to_api(),
            "encryptionConfiguration": self.encryption.to_api(),
        }
        if self.updated or self.version_arn:
            response["revisionId"] = self.revision_id
        if self.description is not None:
            response["description"] = self.description
        if self.machine.variable_references:
            response["variableReferences"] = {k: list(v) for k, v in self.machine.variable_references.items()}
        return response

    def same_content(self, other: StateMachineRecord) -> bool:
        """Whether creating ``other`` over this machine is idempotent on AWS: same definition, type and logging,
        tracing and encryption configurations (a different role or tags are ignored, and not applied)."""
        return (self.definition, self.type, self.logging, self.tracing, self.encryption) == (
            other.definition, other.type, other.logging, other.tracing, other.encryption)
