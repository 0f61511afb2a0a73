"""How Hearth serves the built web client: CSP, caching and content types."""

from __future__ import annotations

from pathlib import Path

import pytest

import client_api.webclient as webclient


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small stand-in for ``webclient/dist``."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script type="module" src="./assets/index-abc123.js"></script>')
    (root / "assets" / "index-abc123.js").write_text("console.log('hi')")
    (root / "assets" / "crypto-abc123.wasm").write_bytes(b"\0asm\1\0\0\0")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside dist")
    monkeypatch.setattr(webclient, "DIST", root)
    return root


def _csp(headers) -> dict[str, str]:
    directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in directives}


async def test_index_has_a_strict_csp_and_is_never_cached(dist: Path, make_server) -> None:
    server = await make_server()
    response = await server.client.get("/")
    assert response.status == 200
    assert "index-abc123.js" in response.body
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Type"].startswith("text/html")
    csp = _csp(response.headers)
    assert csp["default-src"] == "'self'"
    # Scripts only from this origin: no inline script, no eval; wasm for the Rust crypto.
    assert csp["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    # A general Matrix client reaches other homeservers over https.
    assert csp["connect-src"].split()[:2] == ["'self'", "https:"]
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_hashed_assets_are_immutable_and_wasm_has_its_type(dist: Path, make_server) -> None:
    server = await make_server()
    script = await server.client.get("/assets/index-abc123.js")
    assert script.status == 200
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "Content-Security-Policy" in script.headers
    wasm = await server.client.get("/assets/crypto-abc123.wasm")
    assert wasm.status == 200
    assert wasm.headers["Content-Type"] == "application/wasm"
    assert wasm.headers["Cache-Control"].endswith("immutable")
    # Files outside assets/ have no hash in their name: revalidated.
    icon = await server.client.get("/favicon.svg")
    assert icon.status == 200
    assert icon.headers["Cache-Control"] == "no-cache"
    assert icon.headers["Content-Type"].startswith("image/svg+xml")


async def test_nothing_outside_dist_is_served(dist: Path, make_server) -> None:
    server = await make_server()
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/missing.js"):
        response = await server.client.get(path)
        assert response.status == 404, path


async def test_placeholder_page_until_the_client_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_server) -> None:
    monkeypatch.setattr(webclient, "DIST", tmp_path / "not-built")
    server = await make_server()
    response = await server.client.get("/")
    assert response.status == 200
    assert "Hearth is running" in response.body
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-cache"
    # The API routes are never shadowed by the static files.
    versions = await server.client.get("/_matrix/client/versions")
    assert versions.status == 200


async def test_a_path_too_long_for_the_file_system_is_not_found(dist: Path, make_server) -> None:
    server = await make_server()
    response = await server.client.get("/" + "x" * 5000)
    assert response.status == 404
