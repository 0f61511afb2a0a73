-- Federation delivery: what waits to go to each server, how each server is
-- doing, and which inbound transactions were already handled.

-- PDUs and EDUs waiting for their destination, in order (rows go once delivered).
CREATE TABLE federation_outbox (
    id BIGSERIAL PRIMARY KEY,
    destination TEXT NOT NULL,
    -- 'pdu' or 'edu'
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX federation_outbox_destination ON federation_outbox (destination, id);

-- Failed deliveries back off exponentially, per destination.
CREATE TABLE federation_destinations (
    destination TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    retry_at_ts BIGINT NOT NULL,
    last_success_ts BIGINT
);

-- Inbound transactions already processed, with the answer given (a retry gets it again).
CREATE TABLE federation_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
