"""RFC 3339 timestamps as AWS accepts them (Choice ``Timestamp*``/``IsTimestamp``, Wait ``Timestamp``).

The accepted form is ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)``: an uppercase ``T``, seconds
present, a fraction of 1 to 9 digits (AWS records nanosecond timestamps), and a zone that is either
``Z`` or a numeric offset. A string without a zone, with a space instead of ``T``, or with an
out-of-range field (month 13, hour 25, 30 February) is not a timestamp [AWS-rec: Wait cases
``INVALID_TIME`` / ``NO_T`` / ``NO_Z``].
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

# [0-9], not \d: \d would also accept non-ASCII digits.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: The widest offset AWS's (Java ``ZoneOffset``) parser accepts: ±18:00.
_MAX_OFFSET_SECONDS = 18 * 3600
#: Length of the longest accepted form, ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+HH:MM``.
_MAX_LENGTH = 35


def _fields(text: str) -> tuple[date, int, int, int, int, int] | None:
    """Validated (date, hour, minute, second, nanosecond, offset seconds), or None."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    try:
        day_value = date(int(year), int(month), int(day))
    except ValueError:  # month 13, 30 February, year 0000
        return None
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 59:
        return None
    offset = 0
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if om > 59:
            return None
        offset = oh * 3600 + om * 60
        if offset > _MAX_OFFSET_SECONDS:
            return None
        if sign == "-":
            offset = -offset
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return day_value, h, mi, s, nanos, offset


def parse_timestamp(text: str) -> datetime | None:
    """Parse an RFC 3339 timestamp into an aware datetime; None when ``text`` is not one.

    Digits of the fraction beyond microseconds are dropped; use :func:`timestamp_nanos` to compare
    instants exactly.
    """
    if type(text) is not str:
        return None
    fields = _fields(text)
    if fields is None:
        return None
    day_value, h, mi, s, nanos, offset = fields
    return datetime(day_value.year, day_value.month, day_value.day, h, mi, s, nanos // 1000,
                    tzinfo=timezone(timedelta(seconds=offset)))


def timestamp_nanos(text: str) -> int | None:
    """The instant of an RFC 3339 timestamp as integer nanoseconds since the Unix epoch, or None.

    Exact (no float rounding), so two timestamps compare as instants whatever their offsets and
    fraction lengths.
    """
    if type(text) is not str or len(text) > _MAX_LENGTH:
        return None
    return _nanos(text)


# Cached because Choice rules see the same input strings again and again; the length guard above
# keeps large payload strings out of the cache.
@lru_cache(maxsize=4096)
def _nanos(text: str) -> int | None:
    fields = _fields(text)
    if fields is None:
        return None
    day_value, h, mi, s, nanos, offset = fields
    seconds = (day_value.toordinal() - _EPOCH_ORDINAL) * 86400 + h * 3600 + mi * 60 + s - offset
    return seconds * 1_000_000_000 + nanos


def is_timestamp(value: object) -> bool:
    """Whether ``value`` is a string holding an RFC 3339 timestamp (Choice ``IsTimestamp``)."""
    return timestamp_nanos(value) is not None  # type: ignore[arg-type]
