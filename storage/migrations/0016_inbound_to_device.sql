-- To-device messages from other servers already delivered, by the sender and
-- the EDU's message_id: a sending server may retry an EDU in a new transaction,
-- and its messages must still arrive once. Rows are forgotten after a while.
CREATE TABLE inbound_to_device (
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (sender, message_id)
);
CREATE INDEX inbound_to_device_received ON inbound_to_device (received_ts);
