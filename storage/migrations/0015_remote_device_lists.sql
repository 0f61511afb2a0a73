-- Device lists of users on other servers, kept while they share a room with a
-- user of this server (their server then sends m.device_list_update EDUs).

-- One row per cached user: the origin's stream_id the copy is at (an update
-- naming an unknown earlier stream_id means one was lost: the copy is dropped
-- and fetched again), the user's cross-signing keys, and the events-stream
-- position when the copy was fetched (sharing rooms must predate it).
CREATE TABLE remote_device_lists (
    user_id TEXT PRIMARY KEY,
    stream_id BIGINT NOT NULL,
    master_key TEXT,
    self_signing_key TEXT,
    cached_at_stream BIGINT NOT NULL
);

-- The cached devices: display name and device keys (NULL: a device without keys).
CREATE TABLE remote_devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    keys TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Which changes on the device_lists stream were device updates sent to other
-- servers (their stream_id and prev_id chain skips cross-signing changes).
ALTER TABLE device_list_changes ADD COLUMN device_id TEXT;
