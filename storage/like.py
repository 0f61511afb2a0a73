"""Substring search with ``LIKE`` that takes the searched text literally.

Patterns built with :func:`contains` go with ``LIKE $n ESCAPE '\\'`` (the same on
SQLite and PostgreSQL); a ``%`` or ``_`` typed by a caller matches only itself.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """``text`` as the literal part of a ``LIKE ... ESCAPE '\\'`` pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """The pattern of values that contain ``text``."""
    return f"%{escape(text)}%"
