-- Rooms, the event DAG, room state and the events stream.

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    -- The state group of the room's current state.
    current_state_group BIGINT,
    -- Listed in this server's public room directory.
    is_public BOOLEAN NOT NULL DEFAULT FALSE
);

-- Every event this server holds, local or remote. `stream_ordering` is the event's
-- position on the events stream (sync tokens); backfilled history gets negative
-- positions. `json` is the PDU as it is now (redacted once a redaction applies).
CREATE TABLE events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL UNIQUE,
    depth BIGINT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    received_ts BIGINT NOT NULL,
    json TEXT NOT NULL,
    -- An event known only as part of an auth chain or state: not in the timeline.
    outlier BOOLEAN NOT NULL DEFAULT FALSE,
    -- Allowed by its auth events but not by the current state: kept, never shown.
    soft_failed BOOLEAN NOT NULL DEFAULT FALSE,
    -- Why the event failed its auth checks, if it did.
    rejected TEXT,
    -- The redaction event that redacted this one.
    redacted_by TEXT,
    -- For state events: the event this one replaced in the room state, if any.
    replaces_state TEXT
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topological ON events (room_id, depth, stream_ordering);

CREATE TABLE event_edges (
    event_id TEXT NOT NULL,
    prev_event_id TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev ON event_edges (prev_event_id);

CREATE TABLE event_auth (
    event_id TEXT NOT NULL,
    auth_event_id TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_event_id)
);

-- The events of a room that no other event references yet (the next prev_events).
CREATE TABLE room_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- Room state as immutable snapshots stored as deltas: a group's state is its
-- prev_group's state overlaid with its own entries. Chains are cut short by
-- writing a full snapshot (prev_group NULL) every so often.
CREATE TABLE state_groups (
    id BIGSERIAL PRIMARY KEY,
    room_id TEXT NOT NULL,
    prev_group BIGINT,
    chain_length INTEGER NOT NULL
);

CREATE TABLE state_group_entries (
    state_group BIGINT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
);

-- The state after each event (equal to the state before it for non-state events).
CREATE TABLE event_state_groups (
    event_id TEXT PRIMARY KEY,
    state_group BIGINT NOT NULL
);

-- The current state of each room, for fast reads.
CREATE TABLE current_state (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);

-- Membership changes of every user, in stream order (sync, joined rooms, invites).
CREATE TABLE room_memberships (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    membership TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, stream_ordering);

-- Each user's current membership per room (mirrors current_state for m.room.member).
CREATE TABLE current_memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX current_memberships_user ON current_memberships (user_id, membership);

-- Client transaction IDs: the same (user, device, txn_id) always yields the same event.
CREATE TABLE event_txn_ids (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_id);

-- Rooms a user has forgotten (hidden from sync even with include_leave).
CREATE TABLE forgotten_rooms (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);
