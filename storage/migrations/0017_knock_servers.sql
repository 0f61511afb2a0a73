-- The server a local user's knock on a room of another server went through:
-- the first one asked when the user retracts the knock.
ALTER TABLE remote_invite_state ADD COLUMN knocked_via TEXT;
