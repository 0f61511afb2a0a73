"""Two-factor sign-in (TOTP) for signed-in clients: Hearth's own API under
``/_hearth/client/v1/totp`` (documented in the README), and the admin reset."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.services.second_factor import DIGITS, PERIOD_S, SecondFactorService
from homeserver.services.uia import UIAService

V1 = "/_hearth/client/v1"
ADMIN_V1 = "/_hearth/admin/v1"


class SecondFactorRoutes:
    def __init__(self, authenticator: Authenticator, second_factor: SecondFactorService, uia: UIAService) -> None:
        self._authenticator = authenticator
        self._second_factor = second_factor
        self._uia = uia

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V1}/totp", self.status),
            Route("POST", f"{V1}/totp/enrol", self.enrol),
            Route("POST", f"{V1}/totp/confirm", self.confirm),
            Route("POST", f"{V1}/totp/recovery_codes", self.recovery_codes),
            Route("DELETE", f"{V1}/totp", self.remove),
            Route("DELETE", f"{ADMIN_V1}/users/{{user_id}}/totp", self.admin_reset),
        ]

    async def status(self, request: web.Request) -> web.Response:
        """GET /_hearth/client/v1/totp: whether the account has (or must have) a second factor."""
        requester = await self._authenticator.requester(request)
        status = await self._second_factor.status(requester.user_id, is_admin=requester.is_admin)
        return json_response(
            {
                "enrolled": status.enrolled,
                "required": status.required,
                "recovery_codes_left": status.recovery_codes_left,
            }
        )

    async def enrol(self, request: web.Request) -> web.Response:
        """POST /_hearth/client/v1/totp/enrol (UIA): a new secret and its otpauth:// URI."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._second_factor.check_can_enrol(requester.user_id)  # before the UIA session is spent
        await self._uia.confirm_identity(body, user_id=requester.user_id, operation="POST /totp/enrol")
        enrolment = await self._second_factor.begin_enrolment(requester.user_id)
        return json_response(
            {
                "secret": enrolment.secret,
                "otpauth_uri": enrolment.otpauth_uri,
                "algorithm": "SHA1",
                "digits": DIGITS,
                "period": PERIOD_S,
            }
        )

    async def confirm(self, request: web.Request) -> web.Response:
        """POST /_hearth/client/v1/totp/confirm ``{"code"}``: finish enrolling; the
        one-time recovery codes are in the response (and nowhere else)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        codes = await self._second_factor.confirm_enrolment(requester.user_id, field(body, "code", str))
        return json_response({"recovery_codes": codes})

    async def recovery_codes(self, request: web.Request) -> web.Response:
        """POST /_hearth/client/v1/totp/recovery_codes (UIA): replace the recovery codes."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._uia.confirm_identity(body, user_id=requester.user_id, operation="POST /totp/recovery_codes")
        return json_response({"recovery_codes": await self._second_factor.new_recovery_codes(requester.user_id)})

    async def remove(self, request: web.Request) -> web.Response:
        """DELETE /_hearth/client/v1/totp (UIA): turn two-factor sign-in off."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=True)
        self._second_factor.check_removable(is_admin=requester.is_admin)  # before the UIA session is spent
        await self._uia.confirm_identity(body, user_id=requester.user_id, operation="DELETE /totp")
        await self._second_factor.remove(requester.user_id, is_admin=requester.is_admin)
        return json_response({})

    async def admin_reset(self, request: web.Request) -> web.Response:
        """DELETE /_hearth/admin/v1/users/{userId}/totp (admin): remove someone's enrolment."""
        await self._authenticator.admin(request)
        removed = await self._second_factor.reset(request.match_info["user_id"])
        return json_response({"removed": removed})
