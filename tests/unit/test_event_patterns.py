"""EventBridge event patterns, checked against the examples of AWS's documentation and of aws/event-ruler.

Sources: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html and the
aws/event-ruler README.
"""

from __future__ import annotations

from typing import Any

import pytest

from express_engine.service.event_patterns import InvalidEventPattern, compile_pattern, matches

#: The sample event of aws/event-ruler's README.
EC2 = {
    "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "012345679012",
    "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
               "instance-id": "i-000000aaaaaa00000", "state": "running"},
}


def detail(**fields: Any) -> dict[str, Any]:
    return {**EC2, "detail": {**EC2["detail"], **fields}}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # equals: strings, arrays intersect, AND across fields, OR within a field's list
    ("equals", {"detail-type": ["EC2 Instance State-change Notification"],
                "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
                "detail": {"state": ["initializing", "running"]}}, EC2, True),
    ("equals other value", {"detail": {"state": ["initializing", "stopped"]}}, EC2, False),
    ("equals and: one field differs", {"source": ["aws.ec2"], "region": ["eu-west-1"]}, EC2, False),
    ("equals is case-sensitive", {"source": ["AWS.EC2"]}, EC2, False),
    ("equals number by value", {"detail": {"x-limit": [3.018e2]}}, EC2, True),
    ("number is not its string", {"detail": {"c-count": ["5"]}}, EC2, False),
    ("missing field", {"detail": {"nope": ["x"]}}, EC2, False),
    ("null matches null", {"detail": {"responseElements": [None]}}, detail(responseElements=None), True),
    ("empty string matches empty", {"detail": {"eventVersion": [""]}}, detail(eventVersion=""), True),
    ("null is not empty string", {"detail": {"eventVersion": [""]}}, detail(eventVersion=None), False),
    ("empty string is not null", {"detail": {"responseElements": [None]}}, detail(responseElements=""), False),
    ("boolean", {"detail": {"ok": [True]}}, detail(ok=True), True),
    ("boolean is not 1", {"detail": {"ok": [True]}}, detail(ok=1), False),
    # prefix / suffix, also ignoring case
    ("prefix", {"time": [{"prefix": "2017-10-02"}]}, EC2, True),
    ("prefix no match", {"time": [{"prefix": "2018-"}]}, EC2, False),
    ("prefix on a number", {"detail": {"c-count": [{"prefix": "5"}]}}, EC2, False),
    ("prefix ignore case", {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
     detail(service="eventbridge"), True),
    ("prefix ignore case no match", {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
     detail(service="sqs"), False),
    ("suffix", {"source": [{"suffix": "ec2"}]}, EC2, True),
    ("suffix no match", {"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="a.jpg"), False),
    ("suffix ignore case", {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
     detail(FileName="CAT.PNG"), True),
    ("suffix is case-sensitive", {"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="CAT.PNG"), False),
    # equals-ignore-case
    ("equals-ignore-case", {"source": [{"equals-ignore-case": "AWS.EC2"}]}, EC2, True),
    ("equals-ignore-case no match", {"detail": {"Name": [{"equals-ignore-case": "alice"}]}},
     detail(Name="Alicia"), False),
    # wildcard
    ("wildcard", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueueService"}, True),
    ("wildcard empty run", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleService"}, True),
    ("wildcard no match", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueue"}, False),
    ("wildcard path", {"detail": {"FilePath": [{"wildcard": "*/lib/*"}]}}, detail(FilePath="/usr/lib/x"), True),
    ("wildcard escaped star", {"k": [{"wildcard": "a\\*b"}]}, {"k": "a*b"}, True),
    ("wildcard escaped star is literal", {"k": [{"wildcard": "a\\*b"}]}, {"k": "axxb"}, False),
    ("wildcard escaped backslash", {"k": [{"wildcard": "a\\\\*"}]}, {"k": "a\\bc"}, True),
    # anything-but
    ("anything-but string", {"detail": {"state": [{"anything-but": "initializing"}]}}, EC2, True),
    ("anything-but string no match", {"detail": {"state": [{"anything-but": "running"}]}}, EC2, False),
    ("anything-but number", {"detail": {"x-limit": [{"anything-but": 123}]}}, EC2, True),
    ("anything-but number no match", {"detail": {"c-count": [{"anything-but": 5}]}}, EC2, False),
    ("anything-but list", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, EC2, True),
    ("anything-but list no match", {"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}, EC2, False),
    ("anything-but numbers", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, EC2, True),
    ("anything-but numbers no match", {"detail": {"d-count": [{"anything-but": [1, 2, 3]}]}}, EC2, False),
    ("anything-but prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2, True),
    ("anything-but prefix no match", {"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}, EC2, False),
    ("anything-but suffix", {"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}},
     detail(FileName="a.jpg"), True),
    ("anything-but suffix no match", {"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}},
     detail(FileName="a.png"), False),
    ("anything-but ignore case", {"detail": {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}},
     detail(state="INITIALIZING"), False),
    ("anything-but ignore case list", {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}},
     detail(state="C"), True),
    ("anything-but wildcard", {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}},
     detail(FilePath="/usr/bin/x"), True),
    ("anything-but wildcard no match", {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}},
     detail(FilePath="/usr/lib/x"), False),
    ("anything-but needs the field", {"detail": {"nope": [{"anything-but": "x"}]}}, EC2, False),
    # numeric
    ("numeric range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}],
                                  "d-count": [{"numeric": ["<", 10]}],
                                  "x-limit": [{"numeric": ["=", 3.018e2]}]}}, EC2, True),
    ("numeric upper bound excluded", {"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}, EC2, False),
    ("numeric >=", {"detail": {"c-count": [{"numeric": [">=", 5]}]}}, EC2, True),
    ("numeric on a string", {"detail": {"state": [{"numeric": [">", 0]}]}}, EC2, False),
    ("numeric on a numeric string", {"detail": {"n": [{"numeric": [">", 0]}]}}, detail(n="5"), False),
    ("numeric on a boolean", {"detail": {"n": [{"numeric": [">", 0]}]}}, detail(n=True), False),
    # exists
    ("exists true", {"detail": {"c-count": [{"exists": True}]}}, EC2, True),
    ("exists true, absent", {"detail": {"nope": [{"exists": True}]}}, EC2, False),
    ("exists false, absent", {"detail": {"nope": [{"exists": False}]}}, EC2, True),
    ("exists false, present", {"detail": {"c-count": [{"exists": False}]}}, EC2, False),
    ("exists false, not a leaf", {"detail": {"c-count": [{"exists": False}]}}, detail(**{"c-count": {"c1": 100}}),
     True),
    ("exists true, not a leaf", {"detail": {"c-count": [{"exists": True}]}}, detail(**{"c-count": {"c1": 100}}),
     False),
    ("exists false, parent absent", {"detail": {"c-count": [{"exists": False}]}}, {"source": "x"}, True),
    # cidr
    ("cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EC2, True),
    ("cidr no match", {"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, EC2, False),
    ("cidr ipv6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
    # $or
    ("$or first", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                                                         {"namespace": ["AWS/EC2", "AWS/ES"]}]},
     {"source": "aws.cloudwatch", "metricName": "ReadLatency"}, True),
    ("$or second", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]},
                                                          {"namespace": ["AWS/EC2", "AWS/ES"]}]},
     {"source": "aws.cloudwatch", "namespace": "AWS/ES"}, True),
    ("$or neither", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]},
                                                           {"namespace": ["AWS/EC2"]}]},
     {"source": "aws.cloudwatch", "namespace": "AWS/ES", "metricName": "ReadLatency"}, False),
    ("$or with and inside", {"$or": [{"metricName": ["X"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}]},
     {"metricType": "MetricType", "namespace": "AWS/EC2"}, True),
    ("$or with and inside, half", {"$or": [{"metricName": ["X"]},
                                           {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}]},
     {"metricType": "MetricType", "namespace": "AWS/ES"}, False),
    ("nested $or", {"detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]}},
     {"detail": {"detail-type": "Alarm"}}, True),
    # arrays in events
    ("array of values", {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000", "x"]},
     EC2, True),
    ("array of objects", {"employees": {"firstName": ["Anna"]}},
     {"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]}, True),
    ("array elements do not combine", {"employees": {"firstName": ["Anna"], "lastName": ["Doe"]}},
     {"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]}, False),
    ("nested arrays", {"employees": {"firstName": ["Peter"]}},
     {"employees": [[{"firstName": "John"}], [{"firstName": "Peter"}]]}, True),
    ("prefix over an array", {"resources": [{"prefix": "arn:aws:ec2:"}]}, EC2, True),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_examples(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_complex_example_and_its_non_matches() -> None:
    pattern = compile_pattern({
        "time": [{"prefix": "2017-10-02"}],
        "detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}],
                   "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"anything-but": [100, 200, 300]}],
                   "source-ip": [{"cidr": "10.0.0.0/8"}]}})
    assert pattern.matches(EC2)
    assert not pattern.matches(detail(state="initializing"))
    assert not pattern.matches(detail(**{"c-count": 0}))
    assert not pattern.matches(detail(**{"x-limit": 200}))
    assert not pattern.matches(detail(**{"source-ip": "192.168.0.1"}))
    assert not pattern.matches({**EC2, "time": "2017-10-03T00:00:00Z"})


@pytest.mark.parametrize("pattern", [
    "not json", "[]", "{}", '{"source": "aws.ec2"}', '{"source": []}', '{"source": [{"bogus": 1}]}',
    '{"source": [{"prefix": 1}]}', '{"n": [{"numeric": [">", "x"]}]}', '{"n": [{"numeric": ["~", 1]}]}',
    '{"n": [{"numeric": ["<", 1, ">", 0]}]}', '{"n": [{"numeric": [">", 5, "<", 1]}]}',
    '{"n": [{"exists": "yes"}]}', '{"s": [{"wildcard": "a**b"}]}', '{"s": [{"wildcard": "a\\\\b"}]}',
    '{"s": [{"anything-but": ["a", 1]}]}', '{"s": [{"anything-but": []}]}', '{"s": [{"cidr": "nope"}]}',
    '{"s": [{"prefix": "a", "suffix": "b"}]}', '{"s": {}}', '{"n": [{"numeric": [">", 1e10]}]}',
    '{"$or": [{"a": ["b"]}]}',
])
def test_invalid_patterns_raise_aws_error(pattern: str) -> None:
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern(pattern)
    assert info.value.code == "InvalidEventPatternException"
    assert info.value.message.startswith("Event pattern is not valid. Reason: ")
