"""Canonical JSON (spec: Appendices, "Canonical JSON"), the value limits that room
versions 6 and later enforce on events, and the limits Hearth puts on every JSON
value it accepts.

Hearth's JSON policy, the same for clients and other servers and on both
databases (README "Limits on what Hearth accepts"):

- at most :data:`MAX_JSON_DEPTH` levels of nesting in an event or a request body
  (deeper values cannot be re-encoded inside responses, and cost recursion);
- no U+0000 in any string or key: PostgreSQL cannot store it in text, so an event
  or a request holding one is refused everywhere rather than stored on one
  backend and not the other;
- no lone surrogates (they have no UTF-8 encoding, so no canonical JSON);
- numbers as canonical JSON allows them: finite, and from room version 6 (and in
  every client request body) integers within [-(2**53)+1, 2**53-1].
"""

from __future__ import annotations

from typing import Any

import orjson
from canonicaljson import encode_canonical_json as _reference_encode

#: The largest and smallest integers canonical JSON may carry (v6+).
MAX_SAFE_INTEGER = 2**53 - 1
MIN_SAFE_INTEGER = -(2**53) + 1

#: A PDU's canonical JSON must fit in this many bytes.
MAX_PDU_BYTES = 65536

#: The deepest nesting of objects and arrays accepted in an event or a request body
#: (``{}`` is one level, ``{"a": []}`` two). Responses embed events a dozen levels
#: down, which keeps them within what the JSON encoders handle.
MAX_JSON_DEPTH = 100


class InvalidJSON(ValueError):
    """A value cannot be represented in canonical JSON, or breaks Hearth's limits."""


def encode_canonical_json(value: Any) -> bytes:
    """UTF-8 canonical JSON: sorted keys, no insignificant whitespace.

    orjson produces the same bytes as the ``canonicaljson`` reference (a test
    compares them on generated values) many times faster; values it cannot
    encode (integers beyond 64 bits, floats like NaN, nesting beyond 254 levels)
    go to the reference.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return _reference_encode(value)
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidJSON(str(e)) from None


def check_json_value(
    value: Any,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    allow_nul: bool = False,
    safe_integers: bool = True,
    floats: bool = True,
) -> None:
    """Raise :class:`InvalidJSON` (naming where) unless ``value`` is JSON within the limits.

    ``safe_integers`` limits integers to [-(2**53)+1, 2**53-1]; ``floats=False``
    refuses floats (canonical JSON in room versions 6+); non-finite floats are
    always refused. The walk is iterative: a value's depth never costs recursion.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path, allow_nul)
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if safe_integers and not MIN_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise InvalidJSON(f"{path or 'value'}: integer out of range")
        elif isinstance(item, float):
            if not floats:
                raise InvalidJSON(f"{path or 'value'}: floats are not allowed")
            if item != item or item in (float("inf"), float("-inf")):
                raise InvalidJSON(f"{path or 'value'}: not a finite number")
        elif isinstance(item, (dict, list, tuple)):
            if depth > max_depth:
                raise InvalidJSON(f"{path or 'value'}: nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InvalidJSON(f"{path or 'value'}: object keys must be strings")
                    child_path = f"{path}.{key}" if path else key
                    _check_string(key, child_path, allow_nul)
                    stack.append((child, depth + 1, child_path))
            else:
                stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
        else:
            raise InvalidJSON(f"{path or 'value'}: {type(item).__name__} is not JSON")


def _check_string(value: str, path: str, allow_nul: bool) -> None:
    if not allow_nul and "\x00" in value:
        raise InvalidJSON(f"{path or 'value'}: U+0000 is not allowed in strings")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJSON(f"{path or 'value'}: lone surrogates are not allowed in strings") from None
