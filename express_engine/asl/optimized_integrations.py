"""AWS's optimized service integrations: which ``arn:aws:states:::<service>:<action>`` resources exist.

``CreateStateMachine`` refuses a Task ``Resource`` naming an optimized service action AWS does not
offer (``arn:aws:states:::dynamodb:query``: DynamoDB's optimized integration has only
getItem/putItem/updateItem/deleteItem; the ``aws-sdk:dynamodb:query`` SDK integration is the way).
The table is AWS's documented list, not the handlers this engine has:
https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html and each service's
page linked from it (e.g. connect-ddb.html, connect-codebuild.html). ``aws-sdk:*`` resources (the
SDK integrations, over two hundred services) are not checked by name.

Each service also supports only some integration patterns (the "Optimized integrations" table of
https://docs.aws.amazon.com/step-functions/latest/dg/connect-supported-services.html: e.g. DynamoDB
neither ``.sync`` nor ``.waitForTaskToken``, Lambda no ``.sync``; the SDK integrations ``.waitForTaskToken``
but no ``.sync``); ``.sync:2`` is Step Functions' own (StartExecution returning JSON output). AWS refuses
another pattern with the same text, as recorded in CloudFormation errors quoted in public code:
"SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:putItem.waitForTaskToken is
not recognized", "... arn:aws:states:::glue:startJobRun.sync:2 is not recognized", and (for an SDK
integration AWS does not have) "The resource provided arn:aws:states:::aws-sdk:apigatewaymanagementapi:
postToConnection is not recognized. The value is not a valid resource ARN, or the resource is not
available in this region. at /States/.../Resource".
"""

from __future__ import annotations

import re

__all__ = ["ENGINE_ACTIONS", "OPTIMIZED_ACTIONS", "unknown_integration_message"]

#: Each optimized service's actions, as AWS documents them (camelCase, as written in the Resource).
OPTIMIZED_ACTIONS: dict[str, frozenset[str]] = {
    "lambda": frozenset({"invoke"}),
    "apigateway": frozenset({"invoke"}),
    "athena": frozenset({"startQueryExecution", "stopQueryExecution", "getQueryExecution", "getQueryResults"}),
    "batch": frozenset({"submitJob"}),
    "bedrock": frozenset({"invokeModel", "createModelCustomizationJob"}),
    "codebuild": frozenset({
        "startBuild", "stopBuild", "batchDeleteBuilds", "batchGetReports", "startBuildBatch", "stopBuildBatch",
        "retryBuildBatch", "deleteBuildBatch",
    }),
    "dynamodb": frozenset({"getItem", "putItem", "updateItem", "deleteItem"}),
    "ecs": frozenset({"runTask"}),
    "eks": frozenset({
        "createCluster", "deleteCluster", "createFargateProfile", "deleteFargateProfile", "createNodegroup",
        "deleteNodegroup", "runJob", "call",
    }),
    "elasticmapreduce": frozenset({
        "createCluster", "terminateCluster", "addStep", "cancelStep", "setClusterTerminationProtection",
        "modifyInstanceFleetByName", "modifyInstanceGroupByName",
    }),
    "emr-containers": frozenset({"createVirtualCluster", "deleteVirtualCluster", "startJobRun"}),
    "emr-serverless": frozenset({
        "createApplication", "startApplication", "stopApplication", "deleteApplication", "startJobRun",
        "cancelJobRun",
    }),
    "events": frozenset({"putEvents"}),
    "glue": frozenset({"startJobRun"}),
    "databrew": frozenset({"startJobRun"}),
    "http": frozenset({"invoke"}),
    "mediaconvert": frozenset({"createJob"}),
    "sagemaker": frozenset({
        "createEndpoint", "createEndpointConfig", "createHyperParameterTuningJob", "createLabelingJob",
        "createModel", "createProcessingJob", "createTrainingJob", "createTransformJob", "updateEndpoint",
    }),
    "sns": frozenset({"publish"}),
    "sqs": frozenset({"sendMessage"}),
    "states": frozenset({"startExecution"}),
}

#: This engine's own resources (not AWS's): the Redis stream integration and TestState's stand-in task.
ENGINE_ACTIONS: dict[str, frozenset[str]] = {
    "redis": frozenset({"xadd"}),
    "express-engine": frozenset({"testState"}),
}

_CALLBACK = ".waitForTaskToken"
#: The services offering ``.sync`` / ``.waitForTaskToken`` (connect-supported-services.html).
SYNC_SERVICES = frozenset({
    "athena", "batch", "bedrock", "codebuild", "ecs", "eks", "elasticmapreduce", "emr-containers", "emr-serverless",
    "glue", "databrew", "mediaconvert", "sagemaker", "states",
})
CALLBACK_SERVICES = frozenset({
    "apigateway", "bedrock", "ecs", "eks", "events", "lambda", "sns", "sqs", "states", "aws-sdk",
})
_SERVICE_RESOURCE = re.compile(r"^arn:[^:]+:states:::([^:]+)(?::(.*))?$")
_PATTERN_SUFFIX = re.compile(r"\.(?:sync(?::2)?|waitForTaskToken)$")


def unknown_integration_message(resource: object) -> str | None:
    """AWS's refusal of a service-integration ``Resource`` naming no known optimized action (else None)."""
    if type(resource) is not str:
        return None
    match = _SERVICE_RESOURCE.match(resource)
    if match is None:
        return None
    service, rest = match.group(1), match.group(2) or ""
    suffix = _PATTERN_SUFFIX.search(rest)
    pattern = suffix.group(0) if suffix else ""
    action = rest[: len(rest) - len(pattern)]
    if pattern and not _supports(service, pattern):
        return _not_recognized(resource)
    if service == "aws-sdk":
        return None
    known = OPTIMIZED_ACTIONS.get(service) or ENGINE_ACTIONS.get(service)
    if known is not None and action in known:
        return None
    return _not_recognized(resource)


def _supports(service: str, pattern: str) -> bool:
    if pattern == _CALLBACK:
        return service in CALLBACK_SERVICES
    if pattern == ".sync:2":
        return service == "states"
    return service in SYNC_SERVICES


def _not_recognized(resource: str) -> str:
    return (f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the "
            "resource is not available in this region.")
