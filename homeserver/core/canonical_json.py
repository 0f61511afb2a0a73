"""Canonical JSON (spec: Appendices, "Canonical JSON") and the value limits that
room versions 6 and later enforce on events."""

from __future__ import annotations

from typing import Any

import orjson
from canonicaljson import encode_canonical_json as _reference_encode

#: The largest and smallest integers canonical JSON may carry (v6+).
MAX_SAFE_INTEGER = 2**53 - 1
MIN_SAFE_INTEGER = -(2**53) + 1

#: A PDU's canonical JSON must fit in this many bytes.
MAX_PDU_BYTES = 65536


class InvalidJSON(ValueError):
    """A value cannot be represented in canonical JSON."""


def encode_canonical_json(value: Any) -> bytes:
    """UTF-8 canonical JSON: sorted keys, no insignificant whitespace.

    orjson produces the same bytes as the ``canonicaljson`` reference (a test
    compares them on generated values) many times faster; values it cannot
    encode (integers beyond 64 bits, floats like NaN) go to the reference.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return _reference_encode(value)
    except (TypeError, ValueError) as e:
        raise InvalidJSON(str(e)) from None


def check_canonical_json(value: Any, *, strict: bool, _path: str = "") -> None:
    """Raise :class:`InvalidJSON` if ``value`` breaks the canonical JSON rules.

    With ``strict`` (room versions 6+), floats and integers outside
    [-(2**53)+1, 2**53-1] are refused; otherwise only non-finite numbers are.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if strict and not MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise InvalidJSON(f"{_path or 'value'}: integer out of range")
        return
    if isinstance(value, float):
        if strict:
            raise InvalidJSON(f"{_path or 'value'}: floats are not allowed")
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidJSON(f"{_path or 'value'}: not a finite number")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidJSON(f"{_path or 'value'}: object keys must be strings")
            check_canonical_json(item, strict=strict, _path=f"{_path}.{key}" if _path else key)
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_canonical_json(item, strict=strict, _path=f"{_path}[{i}]")
        return
    raise InvalidJSON(f"{_path or 'value'}: {type(value).__name__} is not JSON")
