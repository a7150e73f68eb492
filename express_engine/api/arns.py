"""ARN checks with AWS's ``InvalidArn`` messages (as the Step Functions API answers them)."""

from __future__ import annotations

from .. import service_errors as api

_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov"})


def resource_type(arn: str) -> str:
    """The resource type of a Step Functions ARN (``stateMachine``, ``express``, ...).

    Raises InvalidArn ``Invalid ARN prefix`` for anything that is not ``arn:<partition>:states:...``.
    """
    parts = arn.split(":", 7) if isinstance(arn, str) else []
    if len(parts) < 7 or parts[0] != "arn" or parts[1] not in _PARTITIONS or parts[2] != "states" or not parts[6]:
        raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    return parts[5]


def check_state_machine_arn(arn: str) -> None:
    """Raise InvalidArn unless ``arn`` is a state machine ARN."""
    kind = resource_type(arn)
    if kind != "stateMachine":
        raise api.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")


def check_execution_arn(arn: str) -> None:
    """Raise what AWS raises for an execution ARN this engine can never describe.

    Express executions are not queryable (InvalidArn, as AWS answers); standard ones never exist here.
    """
    kind = resource_type(arn)
    if kind != "execution":
        raise api.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
    raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")


ExecutionDoesNotExist = type("ExecutionDoesNotExist", (api.ServiceError,),
                             {"code": "ExecutionDoesNotExist", "status": 400,
                              "__doc__": "AWS ``ExecutionDoesNotExist``."})
