-- Call state (seed 000 §6.1): the durable tier of the two-tier call store. Every write goes
-- here before the cache; at start the non-terminal rows are loaded back into the cache, so
-- the partial index over active calls keeps that recovery a scan of live calls only.
CREATE TABLE calls (
    call_id       TEXT PRIMARY KEY,
    user_id       UUID NOT NULL,
    session_id    UUID,
    provider      TEXT NOT NULL,
    direction     TEXT NOT NULL,
    status        TEXT NOT NULL,
    from_number   TEXT,
    to_number     TEXT,
    call_metadata JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ
);
CREATE INDEX calls_active ON calls (user_id, created_at) WHERE ended_at IS NULL;
CREATE INDEX calls_session ON calls (session_id);
