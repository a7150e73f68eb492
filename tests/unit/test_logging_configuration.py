"""``loggingConfiguration`` as the Python API takes it."""

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
