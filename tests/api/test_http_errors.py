"""Matrix JSON errors everywhere, CORS, discovery documents and the health check."""

from __future__ import annotations

import pytest


async def test_unknown_endpoint(client):
    resp = await client.get("/_matrix/client/v3/no/such/thing")
    assert resp.status == 404
    assert resp.body == {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}


async def test_wrong_method(client):
    resp = await client.request("DELETE", "/_matrix/client/versions")
    assert resp.status == 405
    assert resp.errcode == "M_UNRECOGNIZED"


async def test_invalid_json(client):
    resp = await client.post("/_matrix/client/v3/login", data=b"{not json")
    assert resp.status == 400
    assert resp.errcode == "M_NOT_JSON"


async def test_empty_body_where_json_required(client):
    resp = await client.post("/_matrix/client/v3/login", data=b"")
    assert resp.status == 400
    assert resp.errcode == "M_NOT_JSON"


async def test_json_that_is_not_an_object(client):
    resp = await client.post("/_matrix/client/v3/login", data=b"[1, 2]")
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"


async def test_wrong_field_type(client):
    resp = await client.post("/_matrix/client/v3/login", {"type": 7})
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"


async def test_oversize_body(make_server):
    server = await make_server(listen={"max_request_size": 2048})
    resp = await server.client.post("/_matrix/client/v3/login", {"type": "x" * 5000})
    assert resp.status == 413
    assert resp.errcode == "M_TOO_LARGE"


async def test_cors_on_responses_and_preflight(client):
    resp = await client.get("/_matrix/client/versions")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    preflight = await client.request("OPTIONS", "/_matrix/client/v3/anything/at/all")
    assert preflight.status in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    error = await client.get("/_matrix/client/v3/nope")
    assert error.headers["Access-Control-Allow-Origin"] == "*"


async def test_versions(client):
    resp = await client.get("/_matrix/client/versions")
    assert resp.status == 200
    assert "v1.19" in resp.body["versions"]


async def test_well_known_client(client):
    resp = await client.get("/.well-known/matrix/client")
    assert resp.body == {"m.homeserver": {"base_url": "http://localhost:8008/"}}


async def test_well_known_server_without_federation(client):
    resp = await client.get("/.well-known/matrix/server")
    assert resp.status == 404
    assert resp.errcode == "M_NOT_FOUND"


async def test_well_known_server_delegation(make_server):
    server = await make_server(well_known={"server": "matrix.example.org:443"})
    resp = await server.client.get("/.well-known/matrix/server")
    assert resp.body == {"m.server": "matrix.example.org:443"}


async def test_health(client):
    resp = await client.get("/health")
    assert resp.status == 200
    assert resp.body == "OK"


async def test_unhandled_error_is_matrix_json(server, client):
    alice = await client.register("alice")
    await server.hearth.db.close()  # every query now fails
    resp = await alice.get("/_matrix/client/v3/account/whoami")
    assert resp.status == 500
    assert resp.errcode == "M_UNKNOWN"
    assert "Traceback" not in str(resp.body)
    health = await client.get("/health")
    assert health.status == 503


async def test_web_client_root_is_served(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert "Hearth" in resp.body
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"])
async def test_static_files_never_escape(client, path):
    resp = await client.get(path)
    assert resp.status == 404
