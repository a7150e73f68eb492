"""A Task resource with an integration pattern (``.sync``, ``.waitForTaskToken``) that reaches an AWS
integration at run time fails the task with States.TaskFailed naming the pattern (Express workflows run
neither)."""

from __future__ import annotations

import pytest

from express_engine import errors
from express_engine.integrations.aws_clients import AwsClients
from express_engine.integrations.aws_config import AwsSettings
from express_engine.integrations.aws_optimized import OptimizedIntegration
from express_engine.integrations.aws_sdk import SdkIntegration, ServiceIndex


@pytest.mark.parametrize(("arn", "pattern"), [
    ("arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken", "waitForTaskToken"),
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken", "waitForTaskToken"),
    ("arn:aws:states:::lambda:invoke.sync", "sync"),
])
async def test_a_resource_with_an_integration_pattern_fails_the_task(arn: str, pattern: str) -> None:
    clients = AwsClients(AwsSettings(default_mode="real"))
    index = ServiceIndex(clients)
    optimized = OptimizedIntegration(index)
    try:
        handler = (SdkIntegration(clients, index) if ":aws-sdk:" in arn else optimized).resolve(arn)
        assert handler is not None
        with pytest.raises(errors.CustomError) as info:
            await handler({}, None)
    finally:
        await optimized.aclose()
    assert (info.value.error, info.value.cause) == (
        "States.TaskFailed", f"The {pattern} integration pattern is not supported for Express workflows ({arn})")
