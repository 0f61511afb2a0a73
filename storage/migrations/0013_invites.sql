-- Invites from other servers to rooms this server is not in: the preview
-- state the inviting server sent along, shown with the invite in /sync.
CREATE TABLE remote_invite_state (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
