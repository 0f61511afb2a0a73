"""Rendering Hearth's HTML pages: Jinja2 templates (autoescaped), one stylesheet, a
strict Content-Security-Policy (no script at all), and the two cookies.

Design note: forms are protected by a double-submit token: a random ``hearth_csrf``
cookie (``SameSite=Strict``, HttpOnly) whose value every form repeats; a POST whose
field differs (compared in constant time), or whose ``Origin`` is another site, is
refused. The sign-in cookie ``hearth_session`` is ``SameSite=Lax`` so that a client
sending the browser to the authorization endpoint finds the person signed in; both
are ``Secure`` when ``public_baseurl`` is https, and scoped to ``/_hearth/``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from homeserver.http import Route

CSRF_COOKIE = "hearth_csrf"
SESSION_COOKIE = "hearth_session"
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_STATIC = Path(__file__).resolve().parent.parent / "static"
_COOKIE_PATH = "/_hearth/"


class PageError(Exception):
    """A request a page cannot serve: shown as an error page with this status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class Pages:
    def __init__(self, *, public_baseurl: str, server_name: str) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
        )
        parts = urlsplit(public_baseurl)
        self._secure = parts.scheme == "https"
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._server_name = server_name

    def render(
        self, request: web.Request, template: str, *, status: int = 200, form_targets: Iterable[str] = (), **context: Any
    ) -> web.Response:
        """A page; ``form_targets`` are origins its forms may end up at besides this one
        (the client a consent form redirects to)."""
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        defaults = {"message": None, "server_name": self._server_name}
        html = self._env.get_template(template).render(**{**defaults, **context, "csrf": csrf})
        form_action = " ".join(["'self'", *form_targets])
        response = web.Response(text=html, status=status, content_type="text/html", headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                f"form-action {form_action}; frame-ancestors 'none'"
            ),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on POST.
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        })
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(
                CSRF_COOKIE, csrf, path=_COOKIE_PATH, httponly=True, secure=self._secure, samesite="Strict"
            )
        return response

    def error(self, request: web.Request, error: PageError) -> web.Response:
        return self.render(request, "error.html", status=error.status, text=error.text)

    def check_form(self, request: web.Request, form: dict[str, list[str]]) -> None:
        """Refuse a cross-site POST: wrong or missing CSRF token, or a foreign ``Origin``."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != self._origin:
            raise PageError(403, "This form was sent from another site.")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = (form.get("csrf") or [""])[0]
        if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
            raise PageError(403, "This form has expired. Go back, reload the page and try again.")

    def session_token(self, request: web.Request) -> str | None:
        return request.cookies.get(SESSION_COOKIE)

    def set_session(self, response: web.StreamResponse, token: str, max_age: int) -> None:
        response.set_cookie(
            SESSION_COOKIE, token, path=_COOKIE_PATH, max_age=max_age, httponly=True, secure=self._secure,
            samesite="Lax",
        )

    def clear_session(self, response: web.StreamResponse) -> None:
        response.del_cookie(SESSION_COOKIE, path=_COOKIE_PATH)

    @staticmethod
    def redirect(location: str) -> web.Response:
        return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def login_url(next_path: str, page: str = "/_hearth/account/login") -> str:
    return f"{page}?next={quote(next_path, safe='')}"


def safe_next(value: str | None, default: str = "/_hearth/account/") -> str:
    """Where to go after signing in: only one of Hearth's own pages (no open redirect)."""
    if value and value.startswith("/_hearth/") and not any(c in value for c in "\\\r\n"):
        return value
    return default


class StaticRoutes:
    def routes(self) -> list[Route]:
        return [Route("GET", "/_hearth/static/hearth.css", self.stylesheet)]

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        """GET /_hearth/static/hearth.css: the pages' one stylesheet."""
        return web.FileResponse(
            _STATIC / "hearth.css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )
