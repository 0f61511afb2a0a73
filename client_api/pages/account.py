"""Signing in to Hearth's pages (password, then a second factor or its enrolment) and the
account management page (spec: "Account management" of the OAuth 2.0 API: see and end
sessions, approve a cross-signing reset)."""

from __future__ import annotations

import datetime
from urllib.parse import quote

from aiohttp import web

from client_api.auth import Authenticator
from client_api.oauth import read_form
from client_api.pages.render import PageError, Pages, login_url, safe_next
from homeserver.errors import MatrixError
from homeserver.http import Route
from homeserver.services.devices import DeviceService
from homeserver.services.oauth.service import OAuthService
from homeserver.services.registration import RegistrationRequest, RegistrationService
from homeserver.services.second_factor import SecondFactorService
from homeserver.services.web_sessions import WebSession, WebSessionService

ACCOUNT = "/_hearth/account/"


class AccountPages:
    def __init__(
        self,
        *,
        pages: Pages,
        authenticator: Authenticator,
        sessions: WebSessionService,
        second_factor: SecondFactorService,
        devices: DeviceService,
        oauth: OAuthService,
        registration: RegistrationService,
        registration_enabled: bool,
        registration_open: bool,
        session_lifetime: int,
    ) -> None:
        self._registration = registration
        self._registration_enabled = registration_enabled
        self._registration_open = registration_open
        self._pages = pages
        self._authenticator = authenticator
        self._sessions = sessions
        self._second_factor = second_factor
        self._devices = devices
        self._oauth = oauth
        self._session_lifetime = session_lifetime

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/_hearth/account/login", self.login_page),
            Route("POST", "/_hearth/account/login", self.login),
            Route("GET", "/_hearth/account/login/code", self.code_page),
            Route("POST", "/_hearth/account/login/code", self.code),
            Route("GET", "/_hearth/account/login/enrol", self.enrol_page),
            Route("POST", "/_hearth/account/login/enrol", self.enrol),
            Route("POST", "/_hearth/account/logout", self.logout),
            Route("GET", "/_hearth/account/register", self.register_page),
            Route("POST", "/_hearth/account/register", self.register),
            Route("GET", ACCOUNT, self.account),
            Route("POST", "/_hearth/account/devices/delete", self.delete_device),
            Route("POST", "/_hearth/account/cross_signing_reset", self.cross_signing_reset),
        ]

    # -- signing in -------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/account/login?next=: the sign-in form."""
        return self._login_form(request, safe_next(request.query.get("next")))

    async def login(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/login: check the password; then the code, enrolment or ``next``."""
        form = await read_form(request)
        next_path = safe_next(_field(form, "next"))
        try:
            self._pages.check_form(request, form)
            session = await self._sessions.sign_in(
                _field(form, "username").strip(), _field(form, "password"), ip=self._authenticator.client_ip(request)
            )
        except PageError as e:
            return self._pages.error(request, e)
        except MatrixError as e:
            return self._login_form(request, next_path, status=e.status, message=_login_message(e),
                                    username=_field(form, "username"))
        response = self._pages.redirect(self._after_password(session, next_path))
        self._pages.set_session(response, session.token, self._session_lifetime)
        return response

    async def code_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/account/login/code: the second factor of a pending sign-in."""
        session = await self._pending(request)
        if isinstance(session, web.Response):
            return session
        return self._pages.render(request, "code.html", next=safe_next(request.query.get("next")),
                                  user_id=session.user_id)

    async def code(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/login/code: check the code."""
        form = await read_form(request)
        next_path = safe_next(_field(form, "next"))
        session = await self._pending(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
            await self._sessions.verify_second_factor(session, _field(form, "code"))
        except PageError as e:
            return self._pages.error(request, e)
        except MatrixError as e:
            return self._pages.render(request, "code.html", status=e.status, next=next_path, user_id=session.user_id,
                                      message=_code_message(e))
        return self._pages.redirect(next_path)

    async def enrol_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/account/login/enrol: set up the second factor the policy requires."""
        session = await self._pending(request)
        if isinstance(session, web.Response):
            return session
        try:
            enrolment = await self._sessions.begin_enrolment(session)
        except MatrixError as e:
            return self._pages.error(request, PageError(e.status, e.message))
        return self._pages.render(request, "enrol.html", next=safe_next(request.query.get("next")),
                                  secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)

    async def enrol(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/login/enrol: confirm with a first code; show the recovery codes."""
        form = await read_form(request)
        next_path = safe_next(_field(form, "next"))
        session = await self._pending(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
            codes = await self._sessions.confirm_enrolment(session, _field(form, "code"))
        except PageError as e:
            return self._pages.error(request, e)
        except MatrixError as e:
            return self._pages.error(request, PageError(e.status, f"{_code_message(e)} Start again."))
        return self._pages.render(request, "recovery.html", codes=codes, next=next_path)

    async def register_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/account/register?next=: create an account (OAuth ``prompt=create``)."""
        return self._register_form(request, safe_next(request.query.get("next")))

    async def register(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/register: the same rules as ``/register`` (open, or a
        registration token), then signed in."""
        form = await read_form(request)
        next_path = safe_next(_field(form, "next"))
        if not self._registration_enabled:
            return self._pages.error(request, PageError(403, "This server does not take new accounts."))
        auth = {"type": "m.login.dummy"} if self._registration_open else {
            "type": "m.login.registration_token", "token": _field(form, "token")}
        username, password = _field(form, "username").strip(), _field(form, "password")
        try:
            self._pages.check_form(request, form)
            registered = await self._registration.register(
                RegistrationRequest(
                    body={"username": username, "auth": auth}, username=username or None, password=password or None,
                    device_id=None, initial_device_display_name=None, inhibit_login=True, refresh_token=False,
                ),
                kind="user", ip=self._authenticator.client_ip(request),
            )
        except PageError as e:
            return self._pages.error(request, e)
        except MatrixError as e:
            return self._register_form(request, next_path, status=e.status, username=username,
                                       message=_registration_message(e))
        session = await self._sessions.start_registered(registered["user_id"])
        response = self._pages.redirect(self._after_password(session, next_path))
        self._pages.set_session(response, session.token, self._session_lifetime)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/logout: end the sign-in to these pages (not any session of a client)."""
        form = await read_form(request)
        try:
            self._pages.check_form(request, form)
        except PageError as e:
            return self._pages.error(request, e)
        await self._sessions.sign_out(self._pages.session_token(request))
        response = self._pages.redirect(login_url(ACCOUNT))
        self._pages.clear_session(response)
        return response

    # -- account management -----------------------------------------------------------

    async def account(self, request: web.Request) -> web.Response:
        """GET /_hearth/account/?action=&device_id= (spec: "Account management URL
        actions"): the sessions, one session, ending one, or a cross-signing reset."""
        session = await self.signed_in(request)
        if isinstance(session, web.Response):
            return session
        try:
            return await self._account_page(request, session)
        except PageError as e:
            return self._pages.error(request, e)

    async def _account_page(self, request: web.Request, session: WebSession) -> web.Response:
        action = request.query.get("action", "org.matrix.devices_list")
        device_id = request.query.get("device_id")
        if action == "org.matrix.cross_signing_reset":
            return self._pages.render(
                request, "confirm.html", title="Reset your cross-signing identity",
                text="Your Matrix client asks to replace your cross-signing keys. Other people and your other "
                     "sessions will need to verify you again. Allow this for the next ten minutes?",
                action="/_hearth/account/cross_signing_reset", hidden=[], button="Allow reset",
            )
        if action == "org.matrix.device_delete" and device_id:
            device = await self._device(session, device_id)
            return self._pages.render(
                request, "confirm.html", title="Sign out a session",
                text=f"Sign out {device.display_name or device.device_id}? It loses access to your account.",
                action="/_hearth/account/devices/delete", hidden=[("device_id", device.device_id)], button="Sign out",
            )
        devices = await self._devices.list_devices(session.user_id)
        if action == "org.matrix.device_view" and device_id:
            devices = [await self._device(session, device_id)]
        names = await self._oauth.client_names(session.user_id)
        return self._pages.render(
            request, "account.html", user_id=session.user_id, selected=device_id,
            two_factor=await self._second_factor.is_enrolled(session.user_id),
            devices=[
                {
                    "device_id": d.device_id,
                    "display_name": d.display_name,
                    "client": names.get(d.device_id),
                    "last_seen": _when(d.last_seen_ts),
                    "ip": d.last_seen_ip,
                }
                for d in devices
            ],
        )

    async def delete_device(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/devices/delete: end one session (its tokens and device)."""
        form = await read_form(request)
        session = await self.signed_in(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
            device = await self._device(session, _field(form, "device_id"))
        except PageError as e:
            return self._pages.error(request, e)
        await self._devices.remove_devices(session.user_id, [device.device_id])
        return self._pages.render(request, "done.html", title="Session signed out",
                                  text=f"{device.display_name or device.device_id} is signed out.",
                                  link=ACCOUNT, link_text="Back to your sessions")

    async def cross_signing_reset(self, request: web.Request) -> web.Response:
        """POST /_hearth/account/cross_signing_reset: approve a reset (UIA stage ``m.oauth``)."""
        form = await read_form(request)
        session = await self.signed_in(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
        except PageError as e:
            return self._pages.error(request, e)
        await self._oauth.approve_cross_signing_reset(session.user_id)
        return self._pages.render(request, "done.html", title="Reset allowed",
                                  text="Go back to your Matrix client to finish the reset.", link=None, link_text="")

    # -- shared with the OAuth pages ----------------------------------------------------

    async def signed_in(self, request: web.Request, *, register: bool = False) -> WebSession | web.Response:
        """The signed-in person, or a redirect to the step of signing in they are at
        (the registration form first when ``register`` and registration is on)."""
        session = await self._sessions.current(self._pages.session_token(request))
        if session is not None and session.authenticated:
            return session
        if session is not None:
            return self._pages.redirect(self._after_password(session, request.raw_path))
        page = "/_hearth/account/register" if register and self._registration_enabled else "/_hearth/account/login"
        return self._pages.redirect(login_url(request.raw_path, page))

    def _login_form(self, request: web.Request, next_path: str, *, status: int = 200, **context: object) -> web.Response:
        register_url = login_url(next_path, "/_hearth/account/register") if self._registration_enabled else None
        return self._pages.render(
            request, "login.html", status=status, next=next_path, providers=[], forgot_password_url=None,
            register_url=register_url, client_name=None, username=context.pop("username", None), **context,
        )

    def _register_form(self, request: web.Request, next_path: str, *, status: int = 200, **context: object) -> web.Response:
        if not self._registration_enabled:
            return self._pages.error(request, PageError(404, "This server does not take new accounts."))
        return self._pages.render(
            request, "register.html", status=status, next=next_path, token_required=not self._registration_open,
            login_url=login_url(next_path), username=context.pop("username", None), **context,
        )

    def _after_password(self, session: WebSession, next_path: str) -> str:
        if session.authenticated:
            return next_path
        step = "/_hearth/account/login/enrol" if session.must_enrol else "/_hearth/account/login/code"
        return f"{step}?next={quote(next_path, safe='')}"

    async def _pending(self, request: web.Request) -> WebSession | web.Response:
        session = await self._sessions.current(self._pages.session_token(request))
        if session is None:
            return self._pages.redirect(login_url(safe_next(request.query.get("next"))))
        if session.authenticated:
            return self._pages.redirect(safe_next(request.query.get("next")))
        return session

    async def _device(self, session: WebSession, device_id: str):  # type: ignore[no-untyped-def]
        try:
            return await self._devices.get_device(session.user_id, device_id)
        except MatrixError:
            raise PageError(404, "There is no such session.") from None


def _field(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _login_message(error: MatrixError) -> str:
    if error.errcode == "M_LIMIT_EXCEEDED":
        return "Too many attempts. Wait a minute and try again."
    if error.errcode == "M_USER_DEACTIVATED":
        return "This account has been deactivated."
    return "Wrong username or password."


def _registration_message(error: MatrixError) -> str:
    if error.status == 401:  # the UIA stage failed: the registration token
        return "That registration token is not valid."
    if error.errcode == "M_LIMIT_EXCEEDED":
        return "Too many attempts. Wait a minute and try again."
    return error.message


def _code_message(error: MatrixError) -> str:
    if error.errcode == "M_LIMIT_EXCEEDED":
        return "Too many wrong codes. Wait a few minutes and try again."
    return "That code is not right, or was used already."


def _when(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts / 1000, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
