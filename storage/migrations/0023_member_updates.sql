-- Users whose memberships the server must still update in every room: 'profile'
-- (send joins carrying a changed display name or avatar) or 'part' (leave every
-- room, reject every invite and retract every knock of a deactivated account).
-- A row stays until the work is done, so a restart resumes it; `version` grows
-- with each new request, so work finished for an older one does not remove it.
CREATE TABLE member_updates (
    user_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    version BIGINT NOT NULL
);

-- Users erased on deactivation (`erase: true`), with the last events-stream position
-- before the erasure: their events are served redacted to users who could not see
-- them before (not joined when an event was sent, nor at or before that position).
CREATE TABLE erased_users (
    user_id TEXT PRIMARY KEY,
    stream_ordering BIGINT NOT NULL
);
