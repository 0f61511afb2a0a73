"""Dynamic client registration (RFC 7591 with the spec's client metadata rules)."""

from __future__ import annotations

import pytest

from tests.support.oauth import CLIENT_METADATA

REGISTER = "/_hearth/oauth2/register"


@pytest.fixture
async def oauth_server(make_server):
    return await make_server(oauth={"enabled": True})


async def test_registration_echoes_metadata_and_ignores_unknown_values(oauth_server):
    body = {**CLIENT_METADATA, "grant_types": ["authorization_code", "refresh_token",
                                             "urn:ietf:params:oauth:grant-type:token-exchange"],
            "client_name#fr": "Appli", "logo_uri": "https://example.com/logo.png"}
    resp = await oauth_server.client.post(REGISTER, body)
    assert resp.status == 201, resp.body
    assert resp.body["client_id"]
    assert resp.body["grant_types"] == ["authorization_code", "refresh_token"]
    assert resp.body["redirect_uris"] == CLIENT_METADATA["redirect_uris"]
    assert resp.body["token_endpoint_auth_method"] == "none" and "client_secret" not in resp.body
    assert resp.body["application_type"] == "web"


async def test_identical_registrations_share_a_client_id(oauth_server):
    first = await oauth_server.client.post(REGISTER, CLIENT_METADATA)
    second = await oauth_server.client.post(REGISTER, CLIENT_METADATA)
    other = await oauth_server.client.post(REGISTER, {**CLIENT_METADATA, "client_name": "Other"})
    assert first.body["client_id"] == second.body["client_id"] != other.body["client_id"]


async def test_native_clients(oauth_server):
    body = {**CLIENT_METADATA, "application_type": "native",
            "redirect_uris": ["com.example.app:/callback", "http://127.0.0.1/callback"]}
    assert (await oauth_server.client.post(REGISTER, body)).status == 201


@pytest.mark.parametrize("change", [
    {"client_uri": None},
    {"client_uri": "http://example.com/"},
    {"client_uri": "https://user:pw@example.com/"},
    {"redirect_uris": ["https://evil.example.net/callback"]},
    {"redirect_uris": ["http://app.example.com/callback"]},
    {"redirect_uris": ["https://app.example.com/callback#frag"]},
    {"redirect_uris": []},
    {"redirect_uris": "https://app.example.com/callback"},
    {"application_type": "native", "redirect_uris": ["http://localhost:1234/callback"]},
    {"application_type": "native", "redirect_uris": ["example:/callback"]},
    {"application_type": "native", "redirect_uris": ["com.example.app://callback"]},
    {"application_type": "desktop"},
    {"logo_uri": "https://other.net/logo.png"},
    {"tos_uri": "http://example.com/tos"},
    {"token_endpoint_auth_method": "client_secret_basic"},
    {"grant_types": "authorization_code"},
    {"response_types": [5]},
])
async def test_bad_metadata_is_refused(oauth_server, change):
    body = {**CLIENT_METADATA, **change}
    body = {k: v for k, v in body.items() if v is not None}
    resp = await oauth_server.client.post(REGISTER, body)
    assert resp.status == 400, resp.body
    assert resp.body["error"] == "invalid_client_metadata", resp.body


async def test_not_json_or_not_an_object(oauth_server):
    for raw in (b"not json", b"[1, 2]", b'{"client_uri": "https://example.com/\\u0000"}'):
        resp = await oauth_server.client.post(REGISTER, data=raw, headers={"Content-Type": "application/json"})
        assert resp.status == 400 and resp.body["error"] == "invalid_client_metadata", raw


async def test_registrations_are_rate_limited_per_address(make_server):
    server = await make_server(oauth={"enabled": True},
                               rate_limits={"enabled": True, "oauth_client": {"per_second": 0.01, "burst": 2}})
    for _ in range(2):
        assert (await server.client.post(REGISTER, CLIENT_METADATA)).status == 201
    limited = await server.client.post(REGISTER, CLIENT_METADATA)
    assert limited.status == 429 and limited.errcode == "M_LIMIT_EXCEEDED"
