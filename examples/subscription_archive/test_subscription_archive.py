"""Runs the subscription expiry against a real AWS-compatible server (moto, the ``aws_server`` fixture).

DynamoDB, S3 and SNS are really called: the test prepares the table, bucket and topic (with a queue
subscribed to read the notification back) and checks what the workflow left in each.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from express_engine import Engine
from express_engine.integrations import install
from express_engine.integrations.aws_config import AwsSettings
from express_engine.testing import AwsTestServer

HERE = Path(__file__).parent
DEFINITION = (HERE / "subscription_archive.asl.json").read_text()
EVENT = json.loads((HERE / "input.json").read_text())


def prepare(aws: AwsTestServer) -> tuple[dict[str, str], str]:
    """A table holding an active subscription, an archive bucket, a topic with a subscribed queue."""
    suffix = uuid.uuid4().hex[:8]
    config = {"table": f"subscriptions-{suffix}", "bucket": f"subscription-archive-{suffix}"}
    ddb, sqs, sns = aws.client("dynamodb"), aws.client("sqs"), aws.client("sns")
    ddb.create_table(TableName=config["table"], BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "subscriptionId", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "subscriptionId", "AttributeType": "S"}])
    ddb.put_item(TableName=config["table"], Item={"subscriptionId": {"S": "sub-2041"}, "plan": {"S": "team"},
                                                  "status": {"S": "active"}})
    aws.client("s3").create_bucket(Bucket=config["bucket"])
    config["topicArn"] = sns.create_topic(Name=f"subscription-notices-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notices-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=config["topicArn"], Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    return config, queue


async def expire(aws: AwsTestServer, config: dict[str, str], subscription: str = "sub-2041") -> dict[str, Any]:
    engine = Engine(time_scale=0)
    async with install(engine.handlers, aws=AwsSettings.from_env(aws.env())):
        record = engine.create_state_machine("SubscriptionArchive", DEFINITION)
        event = {**EVENT, "detail": {**EVENT["detail"], "subscriptionId": subscription}, "config": config}
        response = await engine.start_sync_execution(record, json.dumps(event))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


async def test_archives_marks_expired_and_notifies(aws_server: AwsTestServer) -> None:
    config, queue = prepare(aws_server)
    response = await expire(aws_server, config)
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    assert out["status"] == "expired" and out["subscriptionId"] == "sub-2041"
    archived = aws_server.client("s3").get_object(Bucket=config["bucket"], Key="expired/sub-2041.json")
    assert json.loads(archived["Body"].read()) == {"subscriptionId": {"S": "sub-2041"}, "plan": {"S": "team"},
                                                   "status": {"S": "active"}}
    assert archived["ETag"] == out["archiveETag"]
    item = aws_server.client("dynamodb").get_item(TableName=config["table"], Key={"subscriptionId": {"S": "sub-2041"}})
    assert item["Item"]["status"] == {"S": "expired"} and item["Item"]["expiredAt"] == {"S": "2024-05-31T23:59:59Z"}
    (message,) = aws_server.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == {"subscriptionId": "sub-2041", "plan": "team",
                                           "expiredAt": "2024-05-31T23:59:59Z"}


async def test_second_event_finds_it_already_expired(aws_server: AwsTestServer) -> None:
    config, _ = prepare(aws_server)
    await expire(aws_server, config)
    again = await expire(aws_server, config)
    assert again["status"] == "SUCCEEDED", again
    assert again["output"] == {"subscriptionId": "sub-2041", "status": "already-expired"}


async def test_unknown_subscription_fails(aws_server: AwsTestServer) -> None:
    config, _ = prepare(aws_server)
    response = await expire(aws_server, config, "sub-0000")
    assert (response["status"], response["error"]) == ("FAILED", "SubscriptionNotFound")
