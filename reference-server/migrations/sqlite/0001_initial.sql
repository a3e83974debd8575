-- Initial schema of the reference server (SQLite).
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id),
    provider      TEXT NOT NULL,
    status        TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    config        TEXT NOT NULL,
    context       TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    ended_at      TEXT
);
CREATE INDEX sessions_user ON sessions(user_id, status, provider);

CREATE TABLE switch_history (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id        TEXT NOT NULL REFERENCES sessions(id),
    from_provider     TEXT NOT NULL,
    to_provider       TEXT NOT NULL,
    context_preserved INTEGER NOT NULL,
    success           INTEGER NOT NULL,
    error_message     TEXT,
    reason            TEXT,
    switched_at       TEXT NOT NULL
);
CREATE INDEX switch_history_session ON switch_history(session_id, id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE user_revocations (
    user_id           TEXT PRIMARY KEY NOT NULL,
    revoked_before_ms INTEGER NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id),
    family        TEXT NOT NULL,
    used          INTEGER NOT NULL DEFAULT 0,
    revoked       INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
