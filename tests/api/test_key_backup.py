"""Server-side key backups: versions, the three granularities, replacement rules, errors."""

from __future__ import annotations

V3 = "/_matrix/client/v3"
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:test.local"


def _key(first: int = 0, forwarded: int = 0, verified: bool = False, tag: str = "x") -> dict:
    return {
        "first_message_index": first, "forwarded_count": forwarded, "is_verified": verified,
        "session_data": {"ciphertext": tag, "mac": "m", "ephemeral": "e"},
    }


async def _new_version(user) -> str:
    resp = await user.post(f"{V3}/room_keys/version", {"algorithm": ALGORITHM, "auth_data": {"public_key": "abc"}})
    assert resp.status == 200, resp.body
    return resp.body["version"]


async def test_version_lifecycle(client):
    alice = await client.register("alice")
    none = await alice.get(f"{V3}/room_keys/version")
    assert (none.status, none.errcode) == (404, "M_NOT_FOUND")
    first = await _new_version(alice)
    second = await _new_version(alice)
    assert int(second) > int(first)
    current = await alice.get(f"{V3}/room_keys/version")
    assert current.body == {"algorithm": ALGORITHM, "auth_data": {"public_key": "abc"}, "count": 0,
                            "etag": current.body["etag"], "version": second}
    resp = await alice.put(f"{V3}/room_keys/version/{second}", {"algorithm": ALGORITHM, "auth_data": {"public_key": "new"}})
    assert resp.status == 200
    assert (await alice.get(f"{V3}/room_keys/version/{second}")).body["auth_data"] == {"public_key": "new"}
    wrong = await alice.put(f"{V3}/room_keys/version/{second}", {"algorithm": "other", "auth_data": {}})
    assert (wrong.status, wrong.errcode) == (400, "M_INVALID_PARAM")
    mismatch = await alice.put(f"{V3}/room_keys/version/{second}", {"algorithm": ALGORITHM, "auth_data": {}, "version": first})
    assert mismatch.errcode == "M_INVALID_PARAM"
    assert (await alice.delete(f"{V3}/room_keys/version/{second}")).status == 200
    assert (await alice.delete(f"{V3}/room_keys/version/{second}")).status == 200  # already deleted: still fine
    assert (await alice.get(f"{V3}/room_keys/version")).body["version"] == first
    assert (await alice.get(f"{V3}/room_keys/version/{second}")).errcode == "M_NOT_FOUND"
    assert (await alice.delete(f"{V3}/room_keys/version/999")).errcode == "M_NOT_FOUND"
    assert (await alice.get(f"{V3}/room_keys/version/bogus")).errcode == "M_NOT_FOUND"
    assert (await alice.post(f"{V3}/room_keys/version", {"algorithm": ALGORITHM})).errcode == "M_MISSING_PARAM"


async def test_keys_at_three_granularities(client):
    alice = await client.register("alice")
    version = await _new_version(alice)
    q = {"version": version}
    resp = await alice.put(f"{V3}/room_keys/keys", {"rooms": {ROOM: {"sessions": {"s1": _key(), "s2": _key()}}}}, params=q)
    assert resp.body["count"] == 2
    etag = resp.body["etag"]
    resp = await alice.put(f"{V3}/room_keys/keys/{ROOM}", {"sessions": {"s3": _key()}}, params=q)
    assert resp.body["count"] == 3 and resp.body["etag"] != etag
    resp = await alice.put(f"{V3}/room_keys/keys/{ROOM}/s4", _key(), params=q)
    assert resp.body["count"] == 4
    everything = await alice.get(f"{V3}/room_keys/keys", params=q)
    assert sorted(everything.body["rooms"][ROOM]["sessions"]) == ["s1", "s2", "s3", "s4"]
    room = await alice.get(f"{V3}/room_keys/keys/{ROOM}", params=q)
    assert sorted(room.body["sessions"]) == ["s1", "s2", "s3", "s4"]
    assert (await alice.get(f"{V3}/room_keys/keys/!other:test.local", params=q)).body == {"sessions": {}}
    assert (await alice.get(f"{V3}/room_keys/keys/{ROOM}/s1", params=q)).body == _key()
    assert (await alice.get(f"{V3}/room_keys/keys/{ROOM}/nope", params=q)).errcode == "M_NOT_FOUND"
    assert (await alice.delete(f"{V3}/room_keys/keys/{ROOM}/s1", params=q)).body["count"] == 3
    assert (await alice.delete(f"{V3}/room_keys/keys/{ROOM}", params=q)).body["count"] == 0
    assert (await alice.get(f"{V3}/room_keys/version")).body["count"] == 0


async def test_the_better_key_wins(client):
    alice = await client.register("alice")
    version = await _new_version(alice)
    path, q = f"{V3}/room_keys/keys/{ROOM}/s", {"version": version}
    await alice.put(path, _key(first=5, forwarded=1, tag="a"), params=q)
    await alice.put(path, _key(first=7, tag="worse-index"), params=q)
    assert (await alice.get(path, params=q)).body["session_data"]["ciphertext"] == "a"
    await alice.put(path, _key(first=5, forwarded=0, tag="fewer-forwards"), params=q)
    assert (await alice.get(path, params=q)).body["session_data"]["ciphertext"] == "fewer-forwards"
    await alice.put(path, _key(first=9, forwarded=3, verified=True, tag="verified"), params=q)
    assert (await alice.get(path, params=q)).body["session_data"]["ciphertext"] == "verified"
    await alice.put(path, _key(first=0, tag="unverified"), params=q)
    assert (await alice.get(path, params=q)).body["session_data"]["ciphertext"] == "verified"


async def test_errors_and_other_users(client):
    alice = await client.register("alice")
    old = await _new_version(alice)
    current = await _new_version(alice)
    stale = await alice.put(f"{V3}/room_keys/keys/{ROOM}/s", _key(), params={"version": old})
    assert (stale.status, stale.errcode, stale.body["current_version"]) == (403, "M_WRONG_ROOM_KEYS_VERSION", current)
    assert (await alice.put(f"{V3}/room_keys/keys/{ROOM}/s", _key(), params={"version": "77"})).errcode == "M_NOT_FOUND"
    assert (await alice.put(f"{V3}/room_keys/keys/{ROOM}/s", _key())).errcode == "M_MISSING_PARAM"
    bad = await alice.put(f"{V3}/room_keys/keys/{ROOM}/s", {"first_message_index": "0"}, params={"version": current})
    assert bad.errcode == "M_BAD_JSON"
    assert (await alice.put(f"{V3}/room_keys/keys", {"rooms": {ROOM: []}}, params={"version": current})).errcode == "M_BAD_JSON"
    await alice.put(f"{V3}/room_keys/keys/{ROOM}/s", _key(tag="secret"), params={"version": current})
    # Another user cannot see or touch Alice's backup, even knowing its version.
    bob = await client.register("bob")
    assert (await bob.get(f"{V3}/room_keys/version/{current}")).errcode == "M_NOT_FOUND"
    assert (await bob.get(f"{V3}/room_keys/keys", params={"version": current})).errcode == "M_NOT_FOUND"
    assert (await bob.delete(f"{V3}/room_keys/version/{current}")).errcode == "M_NOT_FOUND"
    assert (await bob.put(f"{V3}/room_keys/keys/{ROOM}/s", _key(), params={"version": current})).errcode == "M_NOT_FOUND"
    assert (await alice.get(f"{V3}/room_keys/keys/{ROOM}/s", params={"version": current})).body["session_data"]["ciphertext"] == "secret"
    assert (await client.get(f"{V3}/room_keys/version")).status == 401
