-- Notification actions a room's members share: one row for user_id '' stands for
-- every local member joined when the event was sent but its sender; a member's
-- own row replaces it for them (notify = FALSE: not notified).
ALTER TABLE event_push_actions ADD COLUMN notify BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE event_push_actions ADD COLUMN sender TEXT;
