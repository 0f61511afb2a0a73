-- Redactions from other servers that arrived before the event they redact: kept
-- (withheld from clients) until that event arrives, then applied if they may be.
CREATE TABLE pending_redactions (
    event_id TEXT PRIMARY KEY,
    redacts TEXT NOT NULL,
    room_id TEXT NOT NULL
);
CREATE INDEX pending_redactions_redacts ON pending_redactions (redacts);
