"""Step Functions' names for AWS services and errors, and the engine's AWS settings."""

from __future__ import annotations

import pytest

from express_engine.integrations.aws_clients import AwsClients
from express_engine.integrations.aws_config import AwsConfigError, AwsSettings
from express_engine.integrations.aws_errors import sdk_service_name
from express_engine.integrations.aws_sdk import ServiceIndex


@pytest.mark.parametrize(("service_id", "name"), [
    ("DynamoDB", "DynamoDb"), ("S3", "S3"), ("ACM PCA", "AcmPca"), ("SFN", "Sfn"), ("EventBridge", "EventBridge"),
    ("CloudWatch Logs", "CloudWatchLogs"), ("API Gateway", "ApiGateway"), ("EC2", "Ec2"),
    ("Database Migration Service", "DatabaseMigration"), ("SageMaker", "SageMaker")])
def test_sdk_error_prefix_is_the_pascal_case_service_name(service_id: str, name: str) -> None:
    assert sdk_service_name(service_id) == name


@pytest.mark.parametrize(("arn_name", "botocore"), [
    ("dynamodb", "dynamodb"), ("acmpca", "acm-pca"), ("sfn", "stepfunctions"), ("eventbridge", "events"),
    ("cloudwatchlogs", "logs"), ("elasticloadbalancingv2", "elbv2"), ("bedrockruntime", "bedrock-runtime"),
    ("nosuchservice", None)])
def test_arn_service_names_resolve_to_botocore_services(arn_name: str, botocore: str | None) -> None:
    assert ServiceIndex(AwsClients(AwsSettings())).botocore_name(arn_name) == botocore


def test_settings_from_the_environment() -> None:
    settings = AwsSettings.from_env({
        "EXPRESS_ENGINE_AWS": "real, sns=local, EventBridge=off", "EXPRESS_ENGINE_AWS_ALLOW": "dynamodb:*,s3:getObject",
        "AWS_ENDPOINT_URL": "http://all", "DYNAMODB_ENDPOINT": "http://sfn-local-ddb",
        "SQS_ENDPOINT": "http://sfn-local-sqs", "AWS_ENDPOINT_URL_SQS": "http://sdk-sqs"})
    assert (settings.mode("s3"), settings.mode("sns"), settings.mode("events")) == ("real", "local", "off")
    assert settings.source("events") == "EXPRESS_ENGINE_AWS: EventBridge=off"
    assert settings.allows("dynamodb", "putItem") and settings.allows("s3", "GetObject")
    assert not settings.allows("s3", "deleteObject")
    assert settings.endpoint("dynamodb") == "http://sfn-local-ddb"  # Step Functions Local's variable
    assert settings.endpoint("sqs") == "http://sdk-sqs"  # the SDK's per-service variable wins over it
    assert settings.endpoint("s3") == "http://all"
    assert AwsSettings.from_env({}).mode("dynamodb") == "local" and not AwsSettings.from_env({}).any_real
    # A Step Functions Local setup moves over unchanged: LAMBDA_ENDPOINT alone sends Lambda calls there.
    sfn_local = AwsSettings.from_env({"LAMBDA_ENDPOINT": "http://127.0.0.1:3001"})
    assert (sfn_local.mode("lambda"), sfn_local.mode("s3")) == ("real", "local")
    assert sfn_local.endpoint("lambda") == "http://127.0.0.1:3001" and sfn_local.configured
    explicit = AwsSettings.from_env({"LAMBDA_ENDPOINT": "http://x", "EXPRESS_ENGINE_AWS": "local"})
    assert explicit.mode("lambda") == "local"
    with pytest.raises(AwsConfigError, match="EXPRESS_ENGINE_AWS: 's3=on' - the mode must be one of"):
        AwsSettings.from_env({"EXPRESS_ENGINE_AWS": "s3=on"})


@pytest.mark.parametrize("command", [["execute", "examples/hello/hello.asl.json"], ["api"], ["serve"]])
def test_a_malformed_setting_stops_the_command_with_a_usage_error(
        command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from pathlib import Path

    from express_engine.cli import main

    monkeypatch.chdir(Path(__file__).parents[2])
    monkeypatch.setenv("EXPRESS_ENGINE_AWS", "dynamodb=maybe")
    assert main(command) == 2
    response = json.loads(capsys.readouterr().out)
    assert response["error"] == "UsageError" and "EXPRESS_ENGINE_AWS: 'dynamodb=maybe'" in response["cause"]
