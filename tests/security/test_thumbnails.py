"""Thumbnails cannot exhaust the server: sizes are bounded, huge images are
refused before decoding, animations are capped, identical requests share
their work, and image work has its own bounded pool, apart from password
hashing, so logins go on while thumbnails queue."""

from __future__ import annotations

import asyncio
import io
import threading

from PIL import Image

from homeserver.services.media import service as media_service

CLIENT = "/_matrix/client/v1/media"


def _png(width: int, height: int, mode: str = "L") -> bytes:
    """A one-colour image: a few kilobytes that decode to ``width * height`` pixels."""
    out = io.BytesIO()
    Image.new(mode, (width, height), 128).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _gif(side: int, frames: int) -> bytes:
    images = [Image.new("RGB", (side, side), (i % 250, 0, 0)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=50, loop=0)
    return out.getvalue()


async def _upload(user, data: bytes, content_type: str) -> str:
    resp = await user.post("/_matrix/media/v3/upload", data=data, headers={"Content-Type": content_type})
    assert resp.status == 200, resp.body
    return resp.body["content_uri"][len("mxc://"):]


async def _thumbnail(user, path: str, width: int, height: int, method: str = "scale", animated: bool = False):
    params = {"width": str(width), "height": str(height), "method": method, "animated": str(animated).lower()}
    headers = {"Authorization": f"Bearer {user.token}"}
    async with user.session.get(f"{user.base_url}{CLIENT}/thumbnail/{path}", params=params, headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type"), await resp.read()


async def _thumbnail_rows(server) -> int:
    return int(await server.hearth.db.fetchval("SELECT COUNT(*) FROM media_thumbnails"))


async def test_bomb_png_over_the_pixel_cap_is_refused(client):
    alice = await client.register("alice")
    bomb = _png(6000, 6000, "1")  # 36 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    path = await _upload(alice, bomb, "image/png")
    for width, height in ((32, 32), (800, 600)):
        status, _, body = await _thumbnail(alice, path, width, height)
        assert status == 413, body


async def test_large_requests_get_the_original_and_sizes_are_few(server):
    alice = await server.client.register("alice")
    source = _png(4000, 4000)  # under the pixel cap, highly compressible
    path = await _upload(alice, source, "image/png")
    # Requests bigger than any thumbnail are answered with the original: nothing decoded.
    for side in (4000, 3000, 2500, 1200, 801):
        status, _, body = await _thumbnail(alice, path, side, side)
        assert status == 200 and body == source
    assert await _thumbnail_rows(server) == 0
    # Sizes between the standard ones round up to a few steps: one thumbnail for all of these.
    answers = {(await _thumbnail(alice, path, side, side))[2] for side in (650, 700, 750, 799, 800)}
    assert len(answers) == 1
    assert Image.open(io.BytesIO(answers.pop())).size == (800, 800)
    assert await _thumbnail_rows(server) == 1


async def test_animations_beyond_the_caps_become_stills(make_server):
    server = await make_server(media={"max_thumbnail_source_pixels": 100_000})
    alice = await server.client.register("alice")
    many_frames = await _upload(alice, _gif(64, 300), "image/gif")
    status, content_type, _ = await _thumbnail(alice, many_frames, 32, 32, "crop", animated=True)
    assert (status, content_type) == (200, "image/png")
    # Frames times pixels over the decode cap: a still as well.
    big_frames = await _upload(alice, _gif(200, 5), "image/gif")
    status, content_type, _ = await _thumbnail(alice, big_frames, 32, 32, "crop", animated=True)
    assert (status, content_type) == (200, "image/png")
    # Within both caps it stays animated.
    small = await _upload(alice, _gif(100, 3), "image/gif")
    status, content_type, _ = await _thumbnail(alice, small, 32, 32, "crop", animated=True)
    assert (status, content_type) == (200, "image/webp")


async def test_identical_requests_at_once_are_made_once(server, monkeypatch):
    calls = []
    real = media_service.make_thumbnail

    def counted(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(media_service, "make_thumbnail", counted)
    alice = await server.client.register("alice")
    path = await _upload(alice, _png(3000, 3000), "image/png")
    answers = await asyncio.gather(*(_thumbnail(alice, path, 640, 480) for _ in range(8)))
    assert {status for status, _, _ in answers} == {200}
    assert len({body for _, _, body in answers}) == 1
    assert calls == [(640, 480)]


async def test_logins_go_on_while_the_media_pool_is_saturated(make_server):
    server = await make_server(media={"thumbnail_workers": 2}, auth={"password_hashing": {"workers": 1}})
    hearth = server.hearth
    # Two bounded pools, one for each kind of work.
    assert hearth.media_pool is not hearth.password_pool
    assert hearth.media_pool._max_workers == 2 and hearth.password_pool._max_workers == 1
    alice = await server.client.register("alice")
    path = await _upload(alice, _png(2000, 2000), "image/png")

    # Occupy every media worker with a job that waits for our signal.
    release = threading.Event()
    started = threading.Semaphore(0)

    def occupy() -> None:
        started.release()
        release.wait(60)

    loop = asyncio.get_running_loop()
    blockers = [loop.run_in_executor(hearth.media_pool, occupy) for _ in range(2)]
    try:
        for _ in range(2):
            while not started.acquire(blocking=False):
                await asyncio.sleep(0.01)
        # Thumbnail requests queue behind the saturated pool...
        thumbnails = [asyncio.ensure_future(_thumbnail(alice, path, side, side)) for side in (96, 320, 640)]
        # ...while a login (a real password hash) completes.
        logged_in = await asyncio.wait_for(server.client.login("alice"), 60)
        assert logged_in.user_id == alice.user_id
        assert not any(t.done() for t in thumbnails)
    finally:
        release.set()
        await asyncio.gather(*blockers)
    assert [status for status, _, _ in await asyncio.gather(*thumbnails)] == [200, 200, 200]
