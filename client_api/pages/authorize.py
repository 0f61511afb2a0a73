"""The OAuth 2.0 pages a person sees: the authorization endpoint's consent page and the
device sign-in page (RFC 8628's verification URI)."""

from __future__ import annotations

from urllib.parse import parse_qs

from aiohttp import web

from client_api.oauth import read_form
from client_api.pages.account import AccountPages, _field
from client_api.pages.render import PageError, Pages
from homeserver.http import Route
from homeserver.services.oauth.service import AuthorizationRefused, OAuthService, origin_of


class OAuthPages:
    def __init__(self, *, pages: Pages, account: AccountPages, oauth: OAuthService) -> None:
        self._pages = pages
        self._account = account
        self._oauth = oauth

    def routes(self) -> list[Route]:
        if not self._oauth.enabled:
            return []
        return [
            Route("GET", "/_hearth/oauth2/authorize", self.authorize_page),
            Route("POST", "/_hearth/oauth2/authorize", self.authorize),
            Route("GET", "/_hearth/oauth2/device", self.device_page),
            Route("POST", "/_hearth/oauth2/device", self.device),
        ]

    async def authorize_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/oauth2/authorize (RFC 6749 section 4.1.1): check the request, make
        sure the person is signed in, then ask for consent."""
        query = _query(request)
        try:
            check = await self._oauth.check_authorization(query)
        except AuthorizationRefused as refused:
            return self._refused(request, refused)
        wants_account = "create" in (check.prompt or "").split(" ")  # prompt=create (spec: "User registration")
        session = await self._account.signed_in(request, register=wants_account)
        if isinstance(session, web.Response):
            return session
        return self._pages.render(
            request, "consent.html", form_targets=[origin_of(check.redirect_uri)],
            client_name=check.client_name, client_uri=check.client_uri, user_id=session.user_id,
            device_id=check.scope.device_id, action=request.raw_path, hidden=[],
        )

    async def authorize(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/authorize: Allow or Deny; back to the client's redirect URI."""
        form = await read_form(request)
        session = await self._account.signed_in(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
            location = await self._oauth.authorize(
                _query(request), user_id=session.user_id, auth_time=session.auth_time,
                allow=_field(form, "decision") == "allow",
            )
        except PageError as e:
            return self._pages.error(request, e)
        except AuthorizationRefused as refused:
            return self._refused(request, refused)
        return self._pages.redirect(location)

    async def device_page(self, request: web.Request) -> web.Response:
        """GET /_hearth/oauth2/device?user_code= (RFC 8628 section 3.3): the code, then consent."""
        session = await self._account.signed_in(request)
        if isinstance(session, web.Response):
            return session
        user_code = request.query.get("user_code", "").strip()
        if not user_code:
            return self._pages.render(request, "device_code.html")
        prompt = await self._oauth.find_device_authorization(user_code)
        if prompt is None:
            return self._pages.render(request, "device_code.html", status=404,
                                      message="That code is not right, or has expired.")
        return self._pages.render(
            request, "consent.html", client_name=prompt.client_name, client_uri=prompt.client_uri,
            user_id=session.user_id, device_id=prompt.scope.device_id, action="/_hearth/oauth2/device",
            hidden=[("user_code", prompt.user_code)],
        )

    async def device(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/device: approve or deny the device's sign-in."""
        form = await read_form(request)
        session = await self._account.signed_in(request)
        if isinstance(session, web.Response):
            return session
        try:
            self._pages.check_form(request, form)
        except PageError as e:
            return self._pages.error(request, e)
        allow = _field(form, "decision") == "allow"
        decided = await self._oauth.decide_device_authorization(
            _field(form, "user_code"), user_id=session.user_id, auth_time=session.auth_time, allow=allow
        )
        if not decided:
            return self._pages.render(request, "device_code.html", status=404,
                                      message="That code is not right, or has expired.")
        text = "You can go back to your device now." if allow else "The device was not signed in."
        return self._pages.render(request, "done.html", title="Device signed in" if allow else "Sign-in denied",
                                  text=text, link=None, link_text="")

    def _refused(self, request: web.Request, refused: AuthorizationRefused) -> web.Response:
        if refused.redirect is not None:
            return web.Response(status=302, headers={"Location": refused.redirect, "Cache-Control": "no-store"})
        return self._pages.error(request, PageError(400, f"The app sent an invalid sign-in request: {refused.description}"))


def _query(request: web.Request) -> dict[str, list[str]]:
    return parse_qs(request.query_string, keep_blank_values=True)
