"""Untrusted values from requests, parsed in one place.

Every route and service that takes an integer, a token, a boolean or a JSON
document from a request (or from another server) parses it here, so the rules
are the same everywhere and bad input is a 400 Matrix error, never a 500:

- An integer is ASCII digits with an optional leading ``-``, within the range
  Matrix gives JSON integers ([-(2**53)+1, 2**53-1], canonical JSON) unless the
  caller narrows it. ``int()`` and ``str.isdigit()`` are never used on request
  values: they take Unicode digits (``int("١٢")`` is 12, ``"²".isdigit()`` is true
  but ``int("²")`` fails).
- A token is a fixed prefix followed by such an integer (``t42``, ``p3``).
- A boolean is ``true`` or ``false``.
- JSON is strict RFC 8259 (valid UTF-8, no lone surrogates, no ``NaN``) and then
  follows the JSON policy of :mod:`homeserver.core.canonical_json`: nesting
  depth, no U+0000, integers within the safe range.
- No path or query parameter may hold U+0000 (:func:`check_request_strings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from homeserver.core.canonical_json import (
    MAX_SAFE_INTEGER,
    MIN_SAFE_INTEGER,
    InvalidJSON,
    check_json_value,
)
from homeserver.errors import MatrixError

#: How deep a federation request or response body may nest. A transaction wraps
#: its PDUs two levels down, and one PDU too deep (or holding U+0000) must get its
#: own rejection in the ``/send`` answer rather than fail the whole transaction, so
#: bodies from other servers are parsed deeper than an event may nest.
MAX_TRANSPORT_DEPTH = 512

_INTEGER = re.compile(r"-?[0-9]{1,16}")


def parse_int(
    raw: str,
    name: str,
    *,
    minimum: int = MIN_SAFE_INTEGER,
    maximum: int = MAX_SAFE_INTEGER,
    errcode: str = "M_INVALID_PARAM",
) -> int:
    """``raw`` as an integer in [``minimum``, ``maximum``]; ``errcode`` (400) otherwise."""
    if not _INTEGER.fullmatch(raw):
        raise MatrixError(errcode, f"{name} must be an integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise MatrixError(errcode, f"{name} must be between {minimum} and {maximum}")
    return value


def parse_token(
    raw: str, prefix: str, name: str, *, minimum: int = MIN_SAFE_INTEGER, errcode: str = "M_INVALID_PARAM"
) -> int:
    """The integer of a ``<prefix><integer>`` token (pagination and the like)."""
    if not raw.startswith(prefix):
        raise MatrixError(errcode, f"Invalid {name}")
    return parse_int(raw[len(prefix):], f"The {name}", minimum=minimum, errcode=errcode)


def parse_bool(raw: str, name: str) -> bool:
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise MatrixError("M_INVALID_PARAM", f"{name} must be true or false")


def parse_json(raw: bytes | str, what: str = "The request body") -> Any:
    """JSON a client sent: ``M_NOT_JSON`` unless it parses, ``M_BAD_JSON`` unless it
    follows the JSON policy."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MatrixError("M_NOT_JSON", f"{what} is not valid JSON") from None
    try:
        check_json_value(value)
    except InvalidJSON as e:
        raise MatrixError("M_BAD_JSON", f"{what} is not acceptable: {e}") from None
    return value


def parse_transport_json(raw: bytes) -> Any:
    """A federation body as it came (checked for signatures before anything else):
    strict JSON nested at most :data:`MAX_TRANSPORT_DEPTH` levels. The items in it
    are checked against the JSON policy by whoever takes them
    (:func:`check_server_json` for a whole body)."""
    try:
        value = orjson.loads(raw)
        check_json_value(value, max_depth=MAX_TRANSPORT_DEPTH, allow_nul=True, safe_integers=False)
    except (orjson.JSONDecodeError, InvalidJSON):
        raise MatrixError("M_NOT_JSON", "The request body is not valid JSON") from None
    return value


def check_server_json(value: Any, what: str = "The request body") -> None:
    """``M_BAD_JSON`` unless JSON from another server follows the JSON policy (its
    numbers are left to the room version of the events in it)."""
    try:
        check_json_value(value, safe_integers=False)
    except InvalidJSON as e:
        raise MatrixError("M_BAD_JSON", f"{what} is not acceptable: {e}") from None


def check_request_strings(values: Iterable[str]) -> None:
    """``M_INVALID_PARAM`` if a path or query parameter (name or value) holds U+0000."""
    if any("\x00" in value for value in values):
        raise MatrixError("M_INVALID_PARAM", "Request parameters may not contain U+0000")
