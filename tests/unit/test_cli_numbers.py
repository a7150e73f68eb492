"""The CLI's number arguments refuse what is not a finite number >= 0, with argparse's usage error."""

from __future__ import annotations

import pytest

from express_engine.cli import build_parser


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "fast"])
@pytest.mark.parametrize(("argv", "message"), [
    (["execute", "m.json", "--time-scale"], "argument --time-scale: must be a finite number >= 0 (0 skips waits), "),
    (["worker", "--restart-healthy-after"], "argument --restart-healthy-after: must be a number of seconds >= 0, "),
])
def test_a_number_argument_is_finite_and_not_negative(argv: list[str], message: str, value: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*argv, value])
    assert info.value.code == 2
    assert f"{message}not {value!r}" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "field"), [(["execute", "m.json", "--time-scale"], "time_scale"),
                                             (["worker", "--restart-healthy-after"], "restart_healthy_after")])
def test_a_number_argument_takes_zero_and_fractions(argv: list[str], field: str) -> None:
    assert getattr(build_parser().parse_args([*argv, "0"]), field) == 0.0
    assert getattr(build_parser().parse_args([*argv, "2.5"]), field) == 2.5
