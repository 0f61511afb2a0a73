"""``media.user_quota`` holds under concurrent uploads: each upload reserves its
bytes in the database before writing, so uploads racing each other cannot pass
the quota together; failed uploads give their reservation back."""

from __future__ import annotations

import asyncio

UPLOAD = "/_matrix/media/v3/upload"
CREATE = "/_matrix/media/v1/create"
QUOTA = 1000


async def _upload(user, data: bytes, *, chunked: bool = False):
    async def chunks():
        yield data[: len(data) // 2]
        await asyncio.sleep(0)
        yield data[len(data) // 2:]

    return await user.post(UPLOAD, data=chunks() if chunked else data, headers={"Content-Type": "text/plain"})


async def _stored(server, user) -> int:
    return sum(m.size or 0 for m in await server.hearth.media.media_of(user.user_id))


async def test_concurrent_uploads_cannot_pass_the_quota(make_server):
    server = await make_server(media={"user_quota": QUOTA})
    alice = await server.client.register("alice")
    answers = await asyncio.gather(*(_upload(alice, bytes([65 + i]) * 300) for i in range(12)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [200] * 3 + [403] * 9, statuses
    assert all(a.errcode == "M_FORBIDDEN" for a in answers if a.status == 403)
    assert await _stored(server, alice) == 900
    # Refused uploads gave their reservations back: exactly what is left still fits.
    assert (await _upload(alice, b"x" * 101)).status == 403
    assert (await _upload(alice, b"x" * 100)).status == 200
    assert (await _upload(alice, b"y")).status == 403


async def test_concurrent_uploads_without_a_length_cannot_pass_the_quota(make_server):
    server = await make_server(media={"user_quota": QUOTA})
    alice = await server.client.register("alice")
    answers = await asyncio.gather(*(_upload(alice, bytes([65 + i]) * 400, chunked=True) for i in range(8)))
    assert sorted(a.status for a in answers) == [200] * 2 + [403] * 6
    assert await _stored(server, alice) == 800


async def test_concurrent_uploads_to_created_ids_cannot_pass_the_quota(make_server):
    server = await make_server(media={"user_quota": QUOTA, "max_pending_uploads": 10})
    alice = await server.client.register("alice")
    uris = [(await alice.post(CREATE)).body["content_uri"][len("mxc://"):] for _ in range(6)]
    answers = await asyncio.gather(*(
        alice.put(f"/_matrix/media/v3/upload/{uri}", data=bytes([65 + i]) * 450, headers={"Content-Type": "text/plain"})
        for i, uri in enumerate(uris)
    ))
    assert sorted(a.status for a in answers) == [200] * 2 + [403] * 4
    assert await _stored(server, alice) == 900


async def test_quota_is_per_user_and_deleting_media_frees_it(make_server):
    server = await make_server(media={"user_quota": QUOTA})
    admin = await server.client.register("root")
    await server.hearth.accounts.set_admin(admin.user_id, True)
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    first = (await _upload(alice, b"a" * 600)).body["content_uri"][len("mxc://"):]
    assert (await _upload(alice, b"b" * 600)).status == 403
    assert (await _upload(bob, b"b" * 600)).status == 200
    assert (await admin.delete(f"/_synapse/admin/v1/media/{first}")).status == 200
    assert (await _upload(alice, b"b" * 600)).status == 200


async def test_reservations_of_uploads_a_stopped_server_never_finished_expire(make_server):
    from homeserver.clock import FakeClock
    from homeserver.services.media.service import RESERVATION_LIFETIME_MS
    from storage.media import MediaStore

    clock = FakeClock()
    server = await make_server(clock=clock, media={"user_quota": QUOTA})
    alice = await server.client.register("alice")
    # What an upload cut short by a crash leaves: a reservation nobody settles or releases.
    store = MediaStore(server.hearth.db)
    assert await store.reserve("lost", alice.user_id, 900, QUOTA, clock.time_ms() + RESERVATION_LIFETIME_MS)
    assert (await _upload(alice, b"x" * 200)).status == 403
    await server.hearth.media.release_expired_reservations()
    assert (await _upload(alice, b"x" * 200)).status == 403  # not expired yet
    clock.advance(RESERVATION_LIFETIME_MS / 1000 + 1)
    await server.hearth.media.release_expired_reservations()
    assert (await _upload(alice, b"x" * 200)).status == 200


async def test_concurrent_creates_cannot_pass_the_pending_limit(make_server):
    server = await make_server(media={"max_pending_uploads": 3})
    alice = await server.client.register("alice")
    answers = await asyncio.gather(*(alice.post(CREATE) for _ in range(10)))
    assert sorted(a.status for a in answers) == [200] * 3 + [429] * 7
