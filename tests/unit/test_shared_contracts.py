"""Settings several layers read (the log-sink spec, ``ARN#TestCase``): one parser each, the same answer everywhere."""

from __future__ import annotations

import pytest

from express_engine import Engine
from express_engine.logs.sinks import FileSink, StreamSink, open_sink
from express_engine.runtime.mocks import split_test_case
from express_engine.service_errors import InvalidLoggingConfiguration
from express_engine.sink_spec import SinkSpec, parse_sink_spec

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize(("text", "parsed"), [
    ("stdout", SinkSpec("stdout")), ("stderr", SinkSpec("stderr")), ("none", SinkSpec("none")),
    ("file:/tmp/x.log", SinkSpec("file", "/tmp/x.log")), ("redis:logs:a", SinkSpec("redis", "logs:a")),
])
def test_sink_specs_that_parse(text, parsed):
    assert parse_sink_spec(text) == parsed


@pytest.mark.parametrize("text", ["file:", "redis:", "", "STDOUT", "http://x", "file", None, 3])
def test_sink_specs_that_do_not(text):
    with pytest.raises(ValueError, match="stdout, stderr, file:PATH, redis:STREAM, none"):
        parse_sink_spec(text)


@pytest.mark.parametrize("sink", ["stderr", "none", "stdout"])
def test_a_machine_may_name_every_sink_a_worker_can_open(sink):
    # (``stderr`` was refused for a machine although ``--log-sink stderr`` worked)
    record = Engine().create_state_machine("m", PASS, logging_configuration={"level": "ALL", "sink": sink})
    assert record.logging.sink == sink


@pytest.mark.parametrize("sink", ["file:", "redis:", "stdout2"])
def test_a_machine_may_not_name_a_sink_no_worker_can_open(sink):
    # (``file:`` was accepted, then every execution's logs were dropped with a traceback)
    with pytest.raises(InvalidLoggingConfiguration, match="unknown log sink"):
        Engine().create_state_machine("m", PASS, logging_configuration={"level": "ALL", "sink": sink})


def test_open_sink_opens_what_the_parser_accepts(tmp_path):
    assert isinstance(open_sink("stderr"), StreamSink)
    assert isinstance(open_sink(f"file:{tmp_path}/e.log"), FileSink)
    with pytest.raises(ValueError, match="unknown log sink"):
        open_sink("file:")
    with pytest.raises(ValueError, match="needs a Redis connection"):
        open_sink("redis:s")


@pytest.mark.parametrize(("text", "split"), [
    ("arn:aws:states:us-east-1:1:stateMachine:m", ("arn:aws:states:us-east-1:1:stateMachine:m", None)),
    ("arn:aws:states:us-east-1:1:stateMachine:m#Happy", ("arn:aws:states:us-east-1:1:stateMachine:m", "Happy")),
    ("arn:aws:states:us-east-1:1:stateMachine:m#", ("arn:aws:states:us-east-1:1:stateMachine:m", "")),
    ("m#a#b", ("m", "a#b")),
])
def test_test_case_split(text, split):
    assert split_test_case(text) == split
