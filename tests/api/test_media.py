"""The media repository: uploads, downloads, thumbnails, limits, safety headers, moderation."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

CLIENT = "/_matrix/client/v1/media"
MEDIA = "/_matrix/media/v3"
CREATE = "/_matrix/media/v1/create"


def _png(width: int, height: int, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def _gif(width: int, height: int, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (width, height), (i * 80, 0, 0)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


async def _upload(user, data: bytes, content_type: str = "application/octet-stream", filename: str | None = None):
    params = {"filename": filename} if filename else None
    return await user.post(f"{MEDIA}/upload", data=data, params=params, headers={"Content-Type": content_type})


def _path(uri: str) -> str:
    assert uri.startswith("mxc://")
    return uri[len("mxc://"):]


async def test_upload_and_authenticated_download(client, server):
    alice = await client.register("alice")
    resp = await _upload(alice, b"hello world", "text/plain", filename="greeting.txt")
    assert resp.status == 200, resp.body
    uri = resp.body["content_uri"]
    assert uri.startswith("mxc://test.local/")
    bob = await client.register("bob")
    got = await bob.get(f"{CLIENT}/download/{_path(uri)}")
    assert got.status == 200
    assert got.body == "hello world"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["Content-Disposition"] == "inline; filename*=utf-8''greeting.txt"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"].startswith("sandbox;")
    named = await bob.get(f"{CLIENT}/download/{_path(uri)}/other name.txt")
    assert named.headers["Content-Disposition"] == "inline; filename*=utf-8''other%20name.txt"
    # No token, no media; the deprecated unauthenticated endpoints are off.
    assert (await client.get(f"{CLIENT}/download/{_path(uri)}")).status == 401
    legacy = await client.get(f"{MEDIA}/download/{_path(uri)}")
    assert (legacy.status, legacy.errcode) == (404, "M_NOT_FOUND")
    config = await alice.get(f"{CLIENT}/config")
    assert config.body == {"m.upload.size": server.hearth.config.media.max_upload_size}


async def test_active_content_is_never_served_inline(client):
    alice = await client.register("alice")
    for content_type, data in (
        ("text/html", b"<script>alert(document.cookie)</script>"),
        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
        ("application/javascript", b"alert(1)"),
    ):
        uri = (await _upload(alice, data, content_type)).body["content_uri"]
        got = await alice.get(f"{CLIENT}/download/{_path(uri)}")
        assert got.headers["Content-Disposition"].startswith("attachment"), content_type
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'none'" in got.headers["Content-Security-Policy"]


async def test_identical_uploads_share_one_file(client, server):
    alice = await client.register("alice")
    first = (await _upload(alice, b"same bytes")).body["content_uri"]
    second = (await _upload(alice, b"same bytes")).body["content_uri"]
    assert first != second
    root = server.hearth.config.path(server.hearth.config.media.store_path)
    files = [p for p in root.rglob("*") if p.is_file() and "incoming" not in p.parts]
    assert len(files) == 1


async def test_asynchronous_upload(client):
    alice = await client.register("alice")
    created = await alice.post(CREATE)
    assert created.status == 200
    uri, expires = created.body["content_uri"], created.body["unused_expires_at"]
    assert expires > 0
    # Nothing yet: a download that will not wait says so.
    early = await alice.get(f"{CLIENT}/download/{_path(uri)}", params={"timeout_ms": "0"})
    assert (early.status, early.errcode) == (504, "M_NOT_YET_UPLOADED")
    # A download that waits gets the content as soon as it arrives.
    waiting = asyncio.create_task(alice.get(f"{CLIENT}/download/{_path(uri)}", params={"timeout_ms": "10000"}))
    await asyncio.sleep(0.3)
    bob = await client.register("bob")
    stolen = await bob.put(f"{MEDIA}/upload/{_path(uri)}", data=b"bob's", headers={"Content-Type": "text/plain"})
    assert (stolen.status, stolen.errcode) == (403, "M_FORBIDDEN")
    put = await alice.put(f"{MEDIA}/upload/{_path(uri)}", data=b"later", headers={"Content-Type": "text/plain"})
    assert put.status == 200, put.body
    assert (await asyncio.wait_for(waiting, 10)).body == "later"
    again = await alice.put(f"{MEDIA}/upload/{_path(uri)}", data=b"again", headers={"Content-Type": "text/plain"})
    assert (again.status, again.errcode) == (409, "M_CANNOT_OVERWRITE_MEDIA")
    unknown = await alice.put(f"{MEDIA}/upload/test.local/NoSuchMediaId", data=b"x")
    assert (unknown.status, unknown.errcode) == (404, "M_NOT_FOUND")


async def test_pending_upload_limit(make_server):
    server = await make_server(media={"max_pending_uploads": 2})
    alice = await server.client.register("alice")
    assert (await alice.post(CREATE)).status == 200
    assert (await alice.post(CREATE)).status == 200
    third = await alice.post(CREATE)
    assert (third.status, third.errcode) == (429, "M_LIMIT_EXCEEDED")


async def test_size_quota_and_type_limits(make_server):
    server = await make_server(media={
        "max_upload_size": 1000, "user_quota": 1500, "allowed_content_types": ["image/*", "text/plain"],
    })
    alice = await server.client.register("alice")
    big = await _upload(alice, b"x" * 1001, "text/plain")
    assert (big.status, big.errcode) == (413, "M_TOO_LARGE")
    assert (await _upload(alice, b"x" * 1000, "text/plain")).status == 200
    over = await _upload(alice, b"y" * 600, "text/plain")
    assert (over.status, over.errcode) == (403, "M_FORBIDDEN")
    html = await _upload(alice, b"<p>", "text/html")
    assert (html.status, html.errcode) == (403, "M_FORBIDDEN")
    assert (await _upload(alice, b"z" * 10, "image/png")).status == 200
    # Refused uploads left nothing behind.
    media = await server.hearth.media.media_of(alice.user_id)
    assert sorted(m.size for m in media) == [10, 1000]


async def test_bad_media_ids_and_remote_media(client):
    alice = await client.register("alice")
    for path in ("test.local/..%2F..%2Fetc%2Fpasswd", "test.local/has.dot", "not a server/abc", "elsewhere.example/abc"):
        resp = await alice.get(f"{CLIENT}/download/{path}")
        assert (resp.status, resp.errcode) == (404, "M_NOT_FOUND"), path
    assert (await alice.get(f"{CLIENT}/download/test.local/NoSuchMedia")).status == 404


async def test_thumbnails(client):
    alice = await client.register("alice")
    uri = (await _upload(alice, _png(1000, 500), "image/png")).body["content_uri"]
    scaled = await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "300", "height": "200", "method": "scale"})
    assert scaled.status == 200
    image = Image.open(io.BytesIO(await _raw(alice, f"{CLIENT}/thumbnail/{_path(uri)}?width=300&height=200&method=scale")))
    assert image.size == (320, 160)  # the 320x240 standard size, aspect ratio kept
    crop = Image.open(io.BytesIO(await _raw(alice, f"{CLIENT}/thumbnail/{_path(uri)}?width=96&height=96&method=crop")))
    assert crop.size == (96, 96)
    # Never upscaled: a small image comes back as it is.
    small = (await _upload(alice, _png(20, 20), "image/png")).body["content_uri"]
    original = Image.open(io.BytesIO(await _raw(alice, f"{CLIENT}/thumbnail/{_path(small)}?width=96&height=96&method=crop")))
    assert original.size == (20, 20)
    text = (await _upload(alice, b"not an image", "text/plain")).body["content_uri"]
    resp = await alice.get(f"{CLIENT}/thumbnail/{_path(text)}", params={"width": "32", "height": "32"})
    assert (resp.status, resp.errcode) == (400, "M_UNKNOWN")
    broken = (await _upload(alice, b"\x89PNG garbage", "image/png")).body["content_uri"]
    assert (await alice.get(f"{CLIENT}/thumbnail/{_path(broken)}", params={"width": "32", "height": "32"})).status == 400
    assert (await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "32"})).errcode == "M_MISSING_PARAM"
    assert (await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "32", "height": "32", "method": "zoom"})).errcode == "M_INVALID_PARAM"


async def test_animated_thumbnails(client):
    alice = await client.register("alice")
    uri = (await _upload(alice, _gif(400, 400), "image/gif")).body["content_uri"]
    animated = await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "96", "height": "96", "method": "crop", "animated": "true"})
    assert animated.headers["Content-Type"] == "image/webp"
    image = Image.open(io.BytesIO(await _raw(alice, f"{CLIENT}/thumbnail/{_path(uri)}?width=96&height=96&method=crop&animated=true")))
    assert image.is_animated and image.n_frames == 3
    still = await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "96", "height": "96", "method": "crop"})
    assert still.headers["Content-Type"] == "image/png"


async def test_too_large_image_is_not_thumbnailed(make_server):
    server = await make_server(media={"max_thumbnail_source_pixels": 10_000})
    alice = await server.client.register("alice")
    uri = (await _upload(alice, _png(200, 200), "image/png")).body["content_uri"]
    resp = await alice.get(f"{CLIENT}/thumbnail/{_path(uri)}", params={"width": "32", "height": "32"})
    assert (resp.status, resp.errcode) == (413, "M_TOO_LARGE")


async def test_legacy_endpoints_when_switched_on(make_server):
    server = await make_server(media={"legacy_unauthenticated": True})
    alice = await server.client.register("alice")
    uri = (await _upload(alice, _png(100, 100), "image/png")).body["content_uri"]
    assert (await server.client.get(f"{MEDIA}/download/{_path(uri)}")).status == 200
    assert (await server.client.get(f"{MEDIA}/thumbnail/{_path(uri)}", params={"width": "32", "height": "32"})).status == 200


async def test_admin_quarantine_and_delete(client, server):
    admin = await client.register("root")
    await server.hearth.accounts.set_admin(admin.user_id, True)
    alice = await client.register("alice")
    one = _path((await _upload(alice, b"one")).body["content_uri"])
    two = _path((await _upload(alice, b"two")).body["content_uri"])
    media_id = one.split("/")[1]
    assert (await alice.post(f"/_synapse/admin/v1/media/quarantine/{one}")).status == 403
    assert (await admin.post(f"/_synapse/admin/v1/media/quarantine/{one}")).status == 200
    assert (await alice.get(f"{CLIENT}/download/{one}")).status == 404
    assert (await admin.post(f"/_synapse/admin/v1/media/unquarantine/{one}")).status == 200
    assert (await alice.get(f"{CLIENT}/download/{one}")).status == 200
    listed = await admin.get(f"/_synapse/admin/v1/users/{alice.user_id}/media")
    assert listed.body["total"] == 2
    quarantined = await admin.post(f"/_synapse/admin/v1/user/{alice.user_id}/media/quarantine")
    assert quarantined.body == {"num_quarantined": 2}
    deleted = await admin.delete(f"/_synapse/admin/v1/media/{one}")
    assert deleted.body == {"deleted_media": [media_id], "total": 1}
    assert (await admin.delete(f"/_synapse/admin/v1/media/{one}")).status == 404
    rest = await admin.delete(f"/_synapse/admin/v1/users/{alice.user_id}/media")
    assert rest.body["total"] == 1 and two.endswith(rest.body["deleted_media"][0])
    root = server.hearth.config.path(server.hearth.config.media.store_path)
    assert not [p for p in root.rglob("*") if p.is_file() and "incoming" not in p.parts]


async def _raw(user, path: str) -> bytes:
    async with user.session.get(user.base_url + path, headers={"Authorization": f"Bearer {user.token}"}) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_expired_pending_uploads_are_forgotten(make_server):
    from homeserver.clock import FakeClock

    clock = FakeClock()
    server = await make_server(clock=clock, media={"pending_upload_lifetime_s": 60, "max_pending_uploads": 1})
    alice = await server.client.register("alice")
    uri = (await alice.post(CREATE)).body["content_uri"]
    assert (await alice.post(CREATE)).status == 429
    clock.advance(61)
    late = await alice.put(f"{MEDIA}/upload/{_path(uri)}", data=b"late", headers={"Content-Type": "text/plain"})
    assert (late.status, late.errcode) == (404, "M_NOT_FOUND")
    await server.hearth.media.expire_pending()
    assert await server.hearth.media.media_of(alice.user_id) == []
    assert (await alice.post(CREATE)).status == 200
