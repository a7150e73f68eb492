"""What the Python API takes and refuses: logging configurations, definitions, ARNs, time scales."""

from __future__ import annotations

from typing import Any

import pytest

from express_engine import Engine
from express_engine.service_errors import InvalidLoggingConfiguration

PASS = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'


def test_a_level_without_destinations_uses_the_engine_handler() -> None:
    record = Engine().create_state_machine("m", PASS, logging_configuration={"level": "ALL"})
    assert record.logging.level == "ALL" and record.logging.destinations == ()


@pytest.mark.parametrize("destinations", [{"a": 1}, ["x"], [{"cloudWatchLogsLogGroup": "x"}], "x"])
def test_malformed_destinations_are_refused(destinations: Any) -> None:
    with pytest.raises(InvalidLoggingConfiguration, match="destinations must be a list"):
        Engine().create_state_machine("m", PASS, logging_configuration={"level": "ALL",
                                                                         "destinations": destinations})


@pytest.mark.parametrize("config", ["ALL", [1]])
def test_a_configuration_that_is_not_an_object_is_refused(config: Any) -> None:
    with pytest.raises(InvalidLoggingConfiguration, match="expected an object"):
        Engine().create_state_machine("m", PASS, logging_configuration=config)


def test_python_api_misuse_gets_service_errors_not_attribute_errors() -> None:
    from express_engine.service_errors import InvalidArn

    assert Engine.validate(None)[0].code == "SCHEMA_VALIDATION_FAILED"  # type: ignore[arg-type]
    with pytest.raises(InvalidArn):
        Engine().get(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_scale"):
        Engine(time_scale=float("nan"))
