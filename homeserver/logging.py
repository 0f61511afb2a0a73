"""Structured logging (structlog) with per-request context and secret scrubbing.

Handlers bind ``request_id``, ``user_id`` and friends through
:func:`structlog.contextvars.bind_contextvars`; every log line then carries them.
Values under keys that look like secrets are replaced before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_KEY = re.compile(
    r"(password|passphrase|secret|token|authorization|signing_key|mac|nonce)", re.I
)
_QUERY_TOKEN = re.compile(r"(access_token=)[^&\s]+", re.I)


def _scrub(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event_dict.items()):
        if key == "event":
            continue
        if _SECRET_KEY.search(key) and value is not None:
            event_dict[key] = "<redacted>"
        elif isinstance(value, str) and "access_token=" in value:
            event_dict[key] = _QUERY_TOKEN.sub(r"\1<redacted>", value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog (and the standard library's logging) to stderr."""
    numeric = getattr(logging, level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
    # aiohttp's own access log would print raw query strings; Hearth logs requests itself.
    logging.getLogger("aiohttp.access").disabled = True
