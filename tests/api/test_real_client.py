"""A real third-party Matrix client library (matrix-nio) against Hearth."""

from __future__ import annotations

from nio import AsyncClient, LoginResponse, LogoutResponse, RegisterResponse, WhoamiResponse


async def test_matrix_nio_account_lifecycle(server, client, tmp_path):
    nio = AsyncClient(server.url, "nio-user", store_path=str(tmp_path))
    try:
        registered = await nio.register("nio-user", "a strong password")
        assert isinstance(registered, RegisterResponse), registered
        assert registered.user_id == "@nio-user:test.local"

        login = await nio.login("a strong password", device_name="nio test")
        assert isinstance(login, LoginResponse), login
        assert login.user_id == "@nio-user:test.local"

        who = await nio.whoami()
        assert isinstance(who, WhoamiResponse), who
        assert who.user_id == "@nio-user:test.local"
        assert who.device_id == login.device_id

        token = nio.access_token
        assert isinstance(await nio.logout(), LogoutResponse)
        after = await client.get("/_matrix/client/v3/account/whoami", token=token)
        assert after.errcode == "M_UNKNOWN_TOKEN"
    finally:
        await nio.close()
