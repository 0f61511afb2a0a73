"""Bad input gets a 400 Matrix error, never a 500 (issue 12, point 13): deep JSON, lone
surrogates, integers beyond 64 bits in tokens, Unicode digits where an integer is
parsed, wrong types, and NUL in IDs, transaction IDs, event types, state keys and
display names (PostgreSQL cannot store NUL in text)."""

from __future__ import annotations

from urllib.parse import quote

V3 = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"
HUGE = "9" * 30
DEEP = b'{"a":' * 300 + b"1" + b"}" * 300


async def _room(server):
    alice = await server.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    event_id = (await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/t1",
                                {"msgtype": "m.text", "body": "hello"})).body["event_id"]
    return alice, room_id, event_id


def _assert_client_error(resp, what):
    assert 400 <= resp.status < 500, (what, resp.status, resp.body)
    assert isinstance(resp.body, dict) and resp.body.get("errcode", "").startswith("M_"), (what, resp.body)


async def test_bad_json_bodies_are_400(server):
    alice, room_id, _ = await _room(server)
    room = f"{V3}/rooms/{quote(room_id)}"
    headers = {"Content-Type": "application/json"}
    for what, method, path, data in (
        ("deep message", "PUT", f"{room}/send/m.room.message/deep", DEEP),
        ("deep account data", "PUT", f"{V3}/user/{quote(alice.user_id)}/account_data/m.deep", DEEP),
        ("very deep", "PUT", f"{room}/send/m.room.message/deeper", b"[" * 5000 + b"]" * 5000),
        ("lone surrogate", "PUT", f"{room}/send/m.room.message/sur", b'{"body": "\\ud800"}'),
        ("lone surrogate key", "PUT", f"{V3}/profile/{quote(alice.user_id)}/displayname", b'{"displayname": "\\udc00x"}'),
        ("NaN", "PUT", f"{room}/send/m.room.message/nan", b'{"body": NaN}'),
        ("huge int", "PUT", f"{V3}/user/{quote(alice.user_id)}/account_data/m.big", b'{"n": 9223372036854775807}'),
        ("nul message", "PUT", f"{room}/send/m.room.message/nul", b'{"msgtype": "m.text", "body": "a\\u0000b"}'),
        ("nul display name", "PUT", f"{V3}/profile/{quote(alice.user_id)}/displayname", b'{"displayname": "a\\u0000b"}'),
        ("nul state key in body", "PUT", f"{room}/state/m.room.name", b'{"name": "x\\u0000"}'),
        ("nul in key", "PUT", f"{V3}/user/{quote(alice.user_id)}/account_data/m.k", b'{"a\\u0000": 1}'),
        ("event_context type", "POST", f"{V3}/search", b'{"search_categories": {"room_events": {"search_term": "hello", "event_context": {"before_limit": "x"}}}}'),
        ("event_context object", "POST", f"{V3}/search", b'{"search_categories": {"room_events": {"search_term": "hello", "event_context": 5}}}'),
        ("event_context huge", "POST", f"{V3}/search", b'{"search_categories": {"room_events": {"search_term": "hello", "event_context": {"after_limit": 1e300}}}}'),
        ("additional_creators", "POST", f"{V3}/createRoom", b'{"creation_content": {"additional_creators": 5}}'),
        ("additional_creators items", "POST", f"{V3}/createRoom", b'{"creation_content": {"additional_creators": [5, {}]}}'),
    ):
        resp = await alice.request(method, path, data=data, headers=headers)
        _assert_client_error(resp, what)


async def test_bad_tokens_and_integers_are_400(server):
    alice, room_id, event_id = await _room(server)
    room = f"{V3}/rooms/{quote(room_id)}"
    cases = [
        (f"{room}/messages", {"dir": "b", "from": "t" + HUGE}),
        (f"{room}/messages", {"dir": "b", "from": "s" + HUGE}),
        (f"{room}/messages", {"dir": "b", "to": "t-" + HUGE}),
        (f"{room}/messages", {"dir": "b", "limit": HUGE}),
        (f"{room}/messages", {"dir": "b", "limit": "²"}),
        (f"{room}/members", {"at": "t" + HUGE}),
        (f"{room}/members", {"at": "s1_" + HUGE}),
        (f"{room}/context/{quote(event_id)}", {"limit": "١٢"}),
        (f"{V1}/rooms/{quote(room_id)}/timestamp_to_event", {"ts": HUGE, "dir": "f"}),
        (f"{V1}/rooms/{quote(room_id)}/timestamp_to_event", {"ts": "²", "dir": "f"}),
        (f"{V1}/rooms/{quote(room_id)}/relations/{quote(event_id)}", {"from": "r" + HUGE}),
        (f"{V1}/rooms/{quote(room_id)}/relations/{quote(event_id)}", {"from": "r--5"}),
        (f"{V1}/rooms/{quote(room_id)}/threads", {"from": "r" + HUGE}),
        (f"{V3}/notifications", {"from": HUGE}),
        (f"{V3}/notifications", {"from": "²"}),
        (f"{V3}/sync", {"since": "s" + HUGE}),
        (f"{V3}/sync", {"filter": "²"}),
        (f"{V3}/sync", {"timeout": HUGE}),
        (f"{V3}/user/{quote(alice.user_id)}/filter/²", None),
        (f"{V3}/publicRooms", {"since": "p²"}),
        (f"{V3}/publicRooms", {"since": "p" + HUGE}),
        (f"{V1}/rooms/{quote(room_id)}/hierarchy", {"from": "h²"}),
        (f"{V1}/rooms/{quote(room_id)}/hierarchy", {"from": "h" + HUGE}),
        (f"{V3}/room_keys/version/²", None),
        (f"{V3}/room_keys/keys", {"version": "²"}),
        (f"{V3}/room_keys/keys", {"version": HUGE}),
        (f"{V1}/media/thumbnail/test.local/x", {"width": HUGE, "height": "1"}),
    ]
    for path, params in cases:
        resp = await alice.get(path, params=params)
        _assert_client_error(resp, (path, params))
    search = {"search_categories": {"room_events": {"search_term": "hello"}}}
    for token in ("t" + HUGE, "o" + HUGE, "t²"):
        resp = await alice.post(f"{V3}/search", search, params={"next_batch": token})
        _assert_client_error(resp, token)


async def test_nul_in_ids_and_path_parameters_is_400(server):
    alice, room_id, event_id = await _room(server)
    room = f"{V3}/rooms/{quote(room_id)}"
    nul = quote("a\x00b")
    for what, method, path, body in (
        ("room ID", "GET", f"{V3}/rooms/{nul}/state", None),
        ("event ID", "GET", f"{room}/event/{nul}", None),
        ("txn ID", "PUT", f"{room}/send/m.room.message/{nul}", {"body": "x"}),
        ("event type", "PUT", f"{room}/send/{nul}/t", {"body": "x"}),
        ("state event type", "PUT", f"{room}/state/{nul}", {}),
        ("state key", "PUT", f"{room}/state/m.custom/{nul}", {}),
        ("state key read", "GET", f"{room}/state/m.custom/{nul}", None),
        ("user ID", "GET", f"{V3}/profile/{nul}", None),
        ("alias", "GET", f"{V3}/directory/room/{quote('#a' + chr(0) + ':test.local')}", None),
        ("join", "POST", f"{V3}/join/{nul}", {}),
        ("to-device txn", "PUT", f"{V3}/sendToDevice/m.test/{nul}", {"messages": {}}),
        ("account data type", "PUT", f"{V3}/user/{quote(alice.user_id)}/account_data/{nul}", {}),
    ):
        resp = await alice.request(method, path, body)
        _assert_client_error(resp, what)
    resp = await alice.get(f"{room}/messages", params={"dir": "b", "from": "t1\x00"})
    _assert_client_error(resp, "query NUL")
    resp = await alice.post(f"{V3}/createRoom", {"invite": ["@bob\x00:test.local"]})
    _assert_client_error(resp, "invite NUL")


async def test_state_with_an_empty_state_key_and_a_trailing_slash(server):
    alice, room_id, _ = await _room(server)
    room = f"{V3}/rooms/{quote(room_id)}"
    put = await alice.put(f"{room}/state/m.room.topic/", {"topic": "with a slash"})
    assert put.status == 200, put.body
    for path in (f"{room}/state/m.room.topic/", f"{room}/state/m.room.topic"):
        got = await alice.get(path)
        assert got.status == 200 and got.body == {"topic": "with a slash"}, (path, got.body)
    put = await alice.put(f"{room}/state/m.room.topic", {"topic": "without"})
    assert put.status == 200
    assert (await alice.get(f"{room}/state/m.room.topic/")).body == {"topic": "without"}
