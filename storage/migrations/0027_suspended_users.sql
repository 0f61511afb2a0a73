-- Suspended accounts (spec: "Account suspension"): they can still sign in, read and
-- leave, but not join, invite, knock, send or change their profile.
ALTER TABLE users ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;
