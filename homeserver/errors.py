"""The one error type the HTTP edges render: a Matrix JSON error.

Services and routes raise :class:`MatrixError`; one middleware turns it into
``{"errcode": ..., "error": ...}`` with the status from :data:`STATUS_BY_ERRCODE`
(or an explicit ``status=`` where the spec ties an errcode to several statuses).
"""

from __future__ import annotations

from typing import Any

#: The usual HTTP status of each errcode. An explicit ``status`` wins.
STATUS_BY_ERRCODE: dict[str, int] = {
    "M_BAD_JSON": 400,
    "M_NOT_JSON": 400,
    "M_INVALID_PARAM": 400,
    "M_MISSING_PARAM": 400,
    "M_INVALID_USERNAME": 400,
    "M_USER_IN_USE": 400,
    "M_EXCLUSIVE": 400,
    "M_ROOM_IN_USE": 400,
    "M_INVALID_ROOM_STATE": 400,
    "M_UNSUPPORTED_ROOM_VERSION": 400,
    "M_INCOMPATIBLE_ROOM_VERSION": 400,
    "M_BAD_STATE": 400,
    "M_WEAK_PASSWORD": 400,
    "M_UNKNOWN": 400,
    "M_THREEPID_IN_USE": 400,
    "M_THREEPID_NOT_FOUND": 400,
    "M_THREEPID_MEDIUM_NOT_SUPPORTED": 400,
    "M_SERVER_NOT_TRUSTED": 400,
    "M_MISSING_TOKEN": 401,
    "M_UNKNOWN_TOKEN": 401,
    "M_UNAUTHORIZED": 401,
    "M_USER_LOCKED": 401,
    "M_FORBIDDEN": 403,
    "M_USER_DEACTIVATED": 403,
    "M_GUEST_ACCESS_FORBIDDEN": 403,
    "M_THREEPID_DENIED": 403,
    "M_USER_SUSPENDED": 403,
    "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM": 403,
    "M_NOT_FOUND": 404,
    "M_UNRECOGNIZED": 404,
    "M_TOO_LARGE": 413,
    "M_LIMIT_EXCEEDED": 429,
    "M_RESOURCE_LIMIT_EXCEEDED": 403,
}


class MatrixError(Exception):
    """An error the client sees as ``{"errcode", "error", **extra}``.

    ``headers`` are added to the HTTP response (``Retry-After`` on a 429).
    """

    def __init__(
        self,
        errcode: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{errcode}: {message}")
        self.errcode = errcode
        self.message = message
        self.status = status if status is not None else STATUS_BY_ERRCODE.get(errcode, 400)
        self.headers = headers or {}
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        """The response body."""
        return {"errcode": self.errcode, "error": self.message, **self.extra}


class AuthRequired(MatrixError):
    """A user-interactive-auth ``401``: the flows, session and completed stages,
    plus ``errcode``/``error`` only when an attempt at a stage failed."""

    def __init__(self, state: dict[str, Any], failure: MatrixError | None = None) -> None:
        super().__init__(
            failure.errcode if failure else "M_FORBIDDEN",
            failure.message if failure else "Additional authentication is required",
            status=401,
        )
        self.state = state
        self.failure = failure

    def to_json(self) -> dict[str, Any]:
        if self.failure is None:
            return dict(self.state)
        return {"errcode": self.errcode, "error": self.message, **self.state}


def bad_json(message: str) -> MatrixError:
    return MatrixError("M_BAD_JSON", message)


def forbidden(message: str) -> MatrixError:
    return MatrixError("M_FORBIDDEN", message)


def not_found(message: str) -> MatrixError:
    return MatrixError("M_NOT_FOUND", message)
