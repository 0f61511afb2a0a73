-- The membership events each device was sent by lazy-loading syncs (spec: "Lazy-loading
-- room members"), so later syncs leave out the redundant ones. `sent_at` is the events
-- position (next_batch) of the response that carried the event: a sync from an earlier
-- token (a retry after a response the client never got) does not count it as known.
CREATE TABLE lazy_members_sent (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, room_id, member_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
