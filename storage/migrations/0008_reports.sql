-- Reports of events, rooms and users to the server's admins; timestamp lookups.

CREATE TABLE reports (
    id BIGSERIAL PRIMARY KEY,
    reporter TEXT NOT NULL,
    -- 'event', 'room' or 'user'.
    target_kind TEXT NOT NULL,
    room_id TEXT,
    event_id TEXT,
    user_id TEXT,
    reason TEXT,
    score INTEGER,
    received_ts BIGINT NOT NULL
);

CREATE INDEX events_room_timestamp ON events (room_id, origin_server_ts);
