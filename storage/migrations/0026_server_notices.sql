-- Each user's server notices room (spec: "Server Notices": exactly one per user),
-- created by the notices account when the user's first notice is sent.
CREATE TABLE server_notice_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL
);
