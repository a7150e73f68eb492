"""AWS call failures as the task errors Step Functions reports.

AWS SDK integrations (the AWS documentation, "Learning to use AWS service SDK integrations in Step
Functions"): ``ServiceName.ErrorName``, both PascalCase, the error name always ending in ``Exception``
(``S3.NoSuchKeyException``, ``AcmPca.ResourceNotFoundException``, ``DynamoDb.ConditionalCheckFailedException``);
an error the service model does not declare is ``<Service>.<Service>Exception`` (``S3.S3Exception``, as
in the "Gather Amazon S3 bucket info" tutorial). The cause is the service's message followed by
``(Service: <Service>, Status Code: <n>, Request ID: <id>)``.

Optimized integrations name errors after the service as Step Functions spells it
(``DynamoDB.ConditionalCheckFailedException``, ``SNS.NotFoundException``, ``Lambda.ResourceNotFoundException``),
with the cause ``<message> (Service: <client>; Status Code: <n>; Error Code: <code>; Request ID: <id>; Proxy: null)``.

Failures before any answer (no credentials, endpoint unreachable, client-side parameter validation)
are ``States.TaskFailed`` with a cause saying what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from .. import errors

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

#: Optimized integrations: botocore service -> (error prefix, the Java client named in causes).
OPTIMIZED_NAMES = {
    "dynamodb": ("DynamoDB", "AmazonDynamoDBv2"), "sns": ("SNS", "AmazonSNS"), "sqs": ("SQS", "AmazonSQS"),
    "events": ("EventBridge", "AmazonEventBridge"), "lambda": ("Lambda", "AWSLambda"),
    "stepfunctions": ("StepFunctions", "AWSStepFunctions"), "athena": ("Athena", "AmazonAthena"),
    "glue": ("Glue", "AWSGlue"), "batch": ("Batch", "AWSBatch"), "ecs": ("ECS", "AmazonECS"),
    "bedrock-runtime": ("Bedrock", "AmazonBedrockRuntime"), "apigateway": ("ApiGateway", "AmazonApiGateway"),
    "emr": ("EMR", "AmazonElasticMapReduce"), "sagemaker": ("SageMaker", "AmazonSageMaker"),
    "codebuild": ("CodeBuild", "AWSCodeBuild"),
}


def sdk_service_name(service_id: str) -> str:
    """A botocore ``serviceId`` in PascalCase (``DynamoDB`` -> ``DynamoDb``, ``ACM PCA`` -> ``AcmPca``)."""
    out: list[str] = []
    words = [w for w in re.split(r"[\s\-_]+", service_id.strip()) if w]
    if len(words) > 1 and words[-1] == "Service":
        words.pop()  # as the Java SDK's client names: "Database Migration Service" -> DatabaseMigration
    for word in words:
        parts = [word] if len(word) <= 3 else _WORD.findall(word) or [word]
        out.extend(p[:1].upper() + p[1:].lower() for p in parts)
    return "".join(out)


def _exception_name(exc: Any) -> tuple[str, str]:
    """(modelled shape name or '' , error code) of a botocore ClientError."""
    code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
    name = type(exc).__name__
    return ("" if name == "ClientError" else name), code


def _with_suffix(name: str) -> str:
    return name if name.endswith("Exception") else name + "Exception"


def _details(exc: Any) -> tuple[str, int, str]:
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    message = str(error.get("Message") or error.get("message") or error.get("Code") or "")
    return message, int(meta.get("HTTPStatusCode") or 0), str(meta.get("RequestId") or "")


def sdk_error(exc: Any, service: str) -> errors.CustomError:
    """A ClientError from an ``aws-sdk:*`` call; ``service`` is :func:`sdk_service_name`'s."""
    modelled, _code = _exception_name(exc)
    message, status, request_id = _details(exc)
    name = _with_suffix(modelled) if modelled else f"{service}Exception"
    return errors.CustomError(f"{service}.{name}",
                              f"{message} (Service: {service}, Status Code: {status}, Request ID: {request_id})")


def optimized_error(exc: Any, service: str) -> errors.CustomError:
    """A ClientError from an optimized integration's call to botocore service ``service``."""
    prefix, client = OPTIMIZED_NAMES.get(service, (sdk_service_name(service), service))
    modelled, code = _exception_name(exc)
    message, status, request_id = _details(exc)
    name = _with_suffix(modelled or code.rsplit(".", 1)[-1])
    return errors.CustomError(f"{prefix}.{name}",
                              f"{message} (Service: {client}; Status Code: {status}; Error Code: {code}; "
                              f"Request ID: {request_id}; Proxy: null)")


def task_failed(cause: str) -> errors.CustomError:
    """``States.TaskFailed`` with ``cause``."""
    return errors.CustomError("States.TaskFailed", cause)


def call_failure(exc: BaseException, service: str, action: str, endpoint: str | None) -> errors.CustomError | None:
    """A failure before any service answer as a clear task error (None: not one of those)."""
    import botocore.exceptions as bex

    where = f"the {service}:{action} call"
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError)):
        return task_failed(f"{where} has no AWS credentials: {exc}. Give the engine credentials (AWS_ACCESS_KEY_ID "
                           "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a container/instance role).")
    if isinstance(exc, bex.NoRegionError):
        return task_failed(f"{where} has no AWS region: set AWS_REGION for the engine.")
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectionClosedError, bex.ConnectTimeoutError,
                        bex.ReadTimeoutError, bex.HTTPClientError)):
        return task_failed(f"{where} could not reach its endpoint{f' {endpoint}' if endpoint else ''}: {exc}")
    if isinstance(exc, bex.ParamValidationError):
        return task_failed(f"Invalid parameters for {where}: {exc}")
    if isinstance(exc, bex.BotoCoreError):
        return task_failed(f"{where} failed: {exc}")
    return None
