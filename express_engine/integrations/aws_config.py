"""Where the engine's AWS calls go: per-service mode, endpoints, region, credentials, allow-list.

Configured per engine, from its environment (never from a definition or an API caller):

* ``EXPRESS_ENGINE_AWS`` - comma-separated ``SERVICE=MODE`` items, ``MODE`` alone (or ``*=MODE``) setting
  the default. Modes: ``local`` (the default: this engine's own stand-ins - local Lambda handlers,
  nested executions, Redis streams for SNS/SQS/EventBridge - and "no handler" for the rest), ``real``
  (the service's API through the AWS SDK) and ``off`` (the Task fails, naming this setting).
  Services are named as in botocore (``dynamodb``, ``s3``, ``events``, ``stepfunctions``) or as in
  Step Functions ARNs (``eventbridge``, ``sfn``, ``states``).
* ``EXPRESS_ENGINE_AWS_ALLOW`` - when set, the only ``service:action`` pairs a real call may make
  (``dynamodb:*,s3:getObject``); anything else fails the Task.
* Endpoints, first match wins: ``AWS_ENDPOINT_URL_<SERVICE>`` (the SDK's per-service setting), Step
  Functions Local's ``LAMBDA_ENDPOINT``, ``SQS_ENDPOINT``, ``SNS_ENDPOINT``, ``DYNAMODB_ENDPOINT``,
  ``STEP_FUNCTIONS_ENDPOINT``, ``BATCH_ENDPOINT``, ``ECS_ENDPOINT``, ``GLUE_ENDPOINT``,
  ``SAGE_MAKER_ENDPOINT``, then ``AWS_ENDPOINT_URL``, then the shared config file's ``endpoint_url``
  (which botocore reads itself). As on Step Functions Local, one of its variables alone makes its
  service ``real`` unless ``EXPRESS_ENGINE_AWS`` sets that service's mode or the default.
* Region and credentials: the SDK's standard chain (``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
  ``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID`` ..., shared files, container and instance roles).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["local", "real", "off"]
MODES: tuple[Mode, ...] = ("local", "real", "off")
MODE_ENV = "EXPRESS_ENGINE_AWS"
ALLOW_ENV = "EXPRESS_ENGINE_AWS_ALLOW"

#: Step Functions Local's endpoint variables (its "Configuration options" page) -> botocore service name.
SFN_LOCAL_ENDPOINTS = {
    "LAMBDA_ENDPOINT": "lambda", "BATCH_ENDPOINT": "batch", "DYNAMODB_ENDPOINT": "dynamodb",
    "ECS_ENDPOINT": "ecs", "GLUE_ENDPOINT": "glue", "SAGE_MAKER_ENDPOINT": "sagemaker", "SQS_ENDPOINT": "sqs",
    "SNS_ENDPOINT": "sns", "STEP_FUNCTIONS_ENDPOINT": "stepfunctions",
}

#: Step Functions' service names (the Java SDK v2 client's, lower case) that are not botocore's once hyphens are
#: dropped (``acmpca`` = ``acm-pca`` needs no entry). Generated from botocore's models' ``serviceId``.
ARN_SERVICE_ALIASES = {
    "applicationdiscovery": "discovery", "cloudwatchlogs": "logs", "cognitoidentityprovider": "cognito-idp",
    "costandusagereport": "cur", "costexplorer": "ce", "databasemigration": "dms", "directory": "ds",
    "directoryservicedata": "ds-data", "elasticloadbalancing": "elb", "elasticloadbalancingv2": "elbv2",
    "elasticsearch": "es", "eventbridge": "events", "iotdataplane": "iot-data", "iotjobsdataplane": "iot-jobs-data",
    "lexmodelbuilding": "lex-models", "lexmodelsv2": "lexv2-models", "lexruntimev2": "lexv2-runtime",
    "marketplacemetering": "meteringmarketplace", "migrationhub": "mgh",
    "pinpointsmsvoice": "sms-voice", "pinpointsmsvoicev2": "pinpoint-sms-voice-v2",
    "serverlessapplicationrepository": "serverlessrepo", "sfn": "stepfunctions", "simpledb": "sdb",
    "states": "stepfunctions",
}


class AwsConfigError(ValueError):
    """A malformed AWS setting (names the variable)."""


def canonical_service(name: str) -> str:
    """The botocore name for a service named as in botocore or as in a Step Functions ARN."""
    low = name.strip().lower()
    return ARN_SERVICE_ALIASES.get(low, low)


@dataclass(frozen=True)
class AwsSettings:
    """One engine's AWS configuration (see the module docstring for the variables)."""

    default_mode: Mode = "local"
    modes: Mapping[str, Mode] = field(default_factory=dict)
    #: ``(service, action)`` pairs real calls may make (``action`` may be ``*``); None: no restriction.
    allow: frozenset[tuple[str, str]] | None = None
    #: botocore service name (or ``*`` for every service) -> endpoint URL.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    #: Explicit credentials ``(key id, secret, session token)``; None: the SDK's credential chain.
    credentials: tuple[str, str, str | None] | None = None
    #: Where each setting came from, for error messages (service -> "VARIABLE=value").
    sources: Mapping[str, str] = field(default_factory=dict)

    def mode(self, service: str) -> Mode:
        """The mode of a service (botocore name)."""
        return self.modes.get(service, self.default_mode)

    def source(self, service: str) -> str:
        """The setting that gave ``service`` its mode, as ``VARIABLE: item``."""
        return self.sources.get(service) or self.sources.get("*") or f"{MODE_ENV} unset (default: local)"

    def allows(self, service: str, action: str) -> bool:
        """Whether the allow-list lets a real call make ``service:action``."""
        if self.allow is None:
            return True
        return (service, action.lower()) in self.allow or (service, "*") in self.allow

    def endpoint(self, service: str) -> str | None:
        """The explicit endpoint for ``service`` (None: botocore's own resolution)."""
        return self.endpoints.get(service) or self.endpoints.get("*")

    @property
    def any_real(self) -> bool:
        """Whether any service is configured ``real``."""
        return self.default_mode == "real" or "real" in self.modes.values()

    @property
    def configured(self) -> bool:
        """Whether any service is ``real`` or ``off`` (the AWS integrations have something to serve)."""
        return self.default_mode != "local" or any(mode != "local" for mode in self.modes.values())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AwsSettings:
        """Read the settings from ``environ`` (default ``os.environ``); raises :class:`AwsConfigError`."""
        env = os.environ if environ is None else environ
        default_mode: Mode = "local"
        modes: dict[str, Mode] = {}
        sources: dict[str, str] = {}
        for item in (env.get(MODE_ENV) or "").split(","):
            item = item.strip()
            if not item:
                continue
            service, sep, mode = item.rpartition("=")
            if not sep:
                service = "*"
            mode = _mode(mode.strip().lower(), item)
            if service.strip() in ("*", ""):
                default_mode = mode
                sources["*"] = f"{MODE_ENV}: {item}"
            else:
                name = canonical_service(service)
                modes[name] = mode
                sources[name] = f"{MODE_ENV}: {item}"
        allow: frozenset[tuple[str, str]] | None = None
        if env.get(ALLOW_ENV) is not None:
            pairs = set()
            for item in env[ALLOW_ENV].split(","):
                item = item.strip()
                if not item:
                    continue
                service, sep, action = item.partition(":")
                if not sep or not service or not action:
                    raise AwsConfigError(f"{ALLOW_ENV}: '{item}' must be SERVICE:ACTION (ACTION may be *)")
                pairs.add((canonical_service(service), action.strip().lower()))
            allow = frozenset(pairs)
        endpoints: dict[str, str] = {}
        if env.get("AWS_ENDPOINT_URL"):
            endpoints["*"] = env["AWS_ENDPOINT_URL"]
        for var, service in SFN_LOCAL_ENDPOINTS.items():
            if env.get(var):
                endpoints[service] = env[var]
                # As on Step Functions Local, the variable alone sends that service's calls there.
                if service not in modes and "*" not in sources:
                    modes[service] = "real"
                    sources[service] = f"{var} set (Step Functions Local's endpoint option)"
        for var, value in env.items():
            if var.startswith("AWS_ENDPOINT_URL_") and value:
                endpoints[_service_from_env_suffix(var[len("AWS_ENDPOINT_URL_"):])] = value
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        credentials = None
        if environ is not None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            credentials = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN"))
        return cls(default_mode, modes, allow, endpoints, region, credentials, sources)


def _mode(text: str, item: str) -> Mode:
    for mode in MODES:
        if text == mode:
            return mode
    raise AwsConfigError(f"{MODE_ENV}: '{item}' - the mode must be one of {', '.join(MODES)}")


def _service_from_env_suffix(suffix: str) -> str:
    # The SDK's rule: the service id, spaces -> underscores, upper case (DYNAMODB, S3, EVENTBRIDGE, SFN, ...).
    return canonical_service(suffix.replace("_", ""))
