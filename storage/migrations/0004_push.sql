-- Push rules, per-user notification actions of events, and pushers.

-- A user's changes to the predefined push rules, and their own rules (JSON).
CREATE TABLE push_rules (
    user_id TEXT PRIMARY KEY,
    rules TEXT NOT NULL
);

-- Events that notify a user, written in the same transaction as the event.
CREATE TABLE event_push_actions (
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    -- 'main' or the thread root's event ID.
    thread_id TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    actions TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_push_actions_user_room ON event_push_actions (user_id, room_id, stream_ordering);

CREATE TABLE pushers (
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    device_id TEXT,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (app_id, pushkey, user_id)
);
