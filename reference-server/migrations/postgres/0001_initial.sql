-- Schema of the reference server on PostgreSQL: the same tables as the SQLite history
-- (0001..0003 there) in native types. `sessions.ord` gives listings their insertion order
-- (SQLite uses its rowid). `session_events.frame` is `json`, not `jsonb`: `json` keeps the
-- frame's text exactly as published, so a replayed frame is byte-identical to the live one.
CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    ord           BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id       UUID NOT NULL REFERENCES users(id),
    provider      TEXT NOT NULL,
    status        TEXT NOT NULL,
    metadata      JSONB NOT NULL,
    config        JSONB NOT NULL,
    message_count BIGINT NOT NULL DEFAULT 0,
    sentiment     TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions(user_id, ord DESC);
CREATE INDEX sessions_ord ON sessions(ord DESC);

CREATE TABLE session_messages (
    session_id UUID NOT NULL REFERENCES sessions(id),
    position   BIGINT NOT NULL,
    speaker    TEXT NOT NULL,
    text       TEXT NOT NULL,
    provider   TEXT NOT NULL,
    message_id TEXT,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, position)
);

CREATE TABLE session_insights (
    session_id   UUID NOT NULL REFERENCES sessions(id),
    position     BIGINT NOT NULL,
    insight_type TEXT NOT NULL,
    content      TEXT NOT NULL,
    confidence   DOUBLE PRECISION NOT NULL,
    provider     TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);

CREATE TABLE switch_history (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id        UUID NOT NULL REFERENCES sessions(id),
    from_provider     TEXT NOT NULL,
    to_provider       TEXT NOT NULL,
    context_preserved BIGINT NOT NULL,
    success           BOOLEAN NOT NULL,
    error_message     TEXT,
    reason            TEXT,
    switched_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX switch_history_session ON switch_history(session_id, id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    user_id    UUID NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE user_revocations (
    user_id           UUID PRIMARY KEY,
    revoked_before_ms BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users(id),
    family        TEXT NOT NULL,
    used          BOOLEAN NOT NULL DEFAULT FALSE,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE session_events (
    session_id UUID NOT NULL,
    seq        BIGINT NOT NULL,
    frame      JSON NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, seq)
);
