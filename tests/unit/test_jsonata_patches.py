"""The patches of jsonata-python internals (express_engine.asl.jsonata_patches): applied only when the first JSONata
expression is compiled, each needed (its probe goes wrong without it) and each checking its target."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from express_engine import errors
from express_engine.asl import jsonata as ej
from express_engine.asl import jsonata_patches as jp

#: patch -> (expression, $states.input, what the engine answers with the patch: ("ok", value) or ("cause", text))
PROBES: dict[str, tuple[str, Any, tuple[str, Any]]] = {
    "silent-evaluator": ("$states.input.arr()", {"arr": [1]}, ("cause", ". T1006: Attempted to invoke a non-function")),
    "null-signature-type": ("$each(null, function($v){$v})", {},
                            ("cause", '. T0410: Argument 1 of function "each" does not match function signature')),
    "picture-error-codes": ("$fromMillis(0, '[Y')", {},
                            ("cause", ". D3135: No matching closing bracket ']' in date/time picture string")),
    "unknown-component": ("$fromMillis(0, '[q]')", {},
                          ("cause", '. D3132: Unknown component specifier "q" in date/time picture string')),
    # ($formatInteger reads its picture with the patched function itself; $parseInteger goes through jsonata-python)
    "integer-picture": ("$parseInteger('5', '1;')", {}, ("ok", 5)),
    "datetime-picture": ("$fromMillis(0, '[MNn,3]')", {}, ("ok", "January")),
    "sequence-picture": ("$parseInteger('1', '#')", {},
                         ("cause", '. D3130: Formatting or parsing an integer as a sequence starting with "#" is not '
                                   "supported by this implementation")),
    "picture-literals": ("$toMillis('2018(10)', '[Y]([M])')", {}, ("ok", 1538352000000)),
    "picture-width": ("$fromMillis(0, '[Y,x]')", {}, ("ok", "1970")),
    "parse-decimal": ("$parseInteger('1 234', '# ##0')", {}, ("ok", 1)),
    "parse-name": ("$toMillis('Foo 2018', '[MNn] [Y]')", {}, ("ok", 1514764800000)),
    "date-years": ("$fromMillis(-70000000000000, '[Y]')", {}, ("ok", "-249")),
}


def _answer(expression: str, value: Any) -> tuple[str, Any]:
    template = ej.compile_template("{% " + expression + " %}", "Output", "/States/S/Output")
    try:
        return "ok", template.evaluate({"input": value}, {})
    except errors.QueryEvaluationError as exc:
        return "cause", (exc.cause or "").rpartition("during evaluation")[2]


def test_every_patch_has_a_probe():
    assert set(PROBES) == set(jp.PATCH_NAMES) == {patch.name for patch in jp.patches()}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_patch_is_needed(name, capsys):
    expression, value, expected = PROBES[name]
    assert _answer(expression, value) == expected  # compiling applied every patch
    assert capsys.readouterr().out == ""
    reapply = jp.revert(name)
    try:
        without = _answer(expression, value)
        printed = capsys.readouterr().out
    finally:
        reapply()
    assert without != expected or printed, f"{name}: the probe gives the same answer without the patch"
    assert _answer(expression, value) == expected


def test_a_missing_target_is_a_clear_error():
    class Owner:
        pass

    patch = jp.Patch("example", "an example", ((Owner, "gone", lambda original: original),))
    with pytest.raises(jp.PatchTargetMissing, match=r"Owner\.gone is gone.*'example'"):
        patch.check()


def test_importing_the_package_and_the_plugin_patches_nothing():
    code = (
        "import sys\n"
        "import express_engine, express_engine.testing\n"
        "assert 'jsonata' not in sys.modules, 'jsonata-python imported'\n"
        "from express_engine.asl import jsonata_patches, jsonata\n"
        "from jsonata.signature import Signature\n"
        "before = Signature.get_symbol\n"
        "assert not jsonata_patches.applied()\n"
        "jsonata.compile_template('{% 1 %}', 'Output', '/x')\n"
        "assert jsonata_patches.applied() and Signature.get_symbol is not before\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
