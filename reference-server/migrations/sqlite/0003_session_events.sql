-- Durable session events: every frame the hub publishes, so that `resume` works after a
-- restart and beyond the in-memory replay buffer. The primary key is the guard that keeps a
-- session's seq unique; WITHOUT ROWID clusters a session's events by seq for range reads.
-- No foreign key to sessions: the log is append-only and the hub publishes only for
-- sessions it has loaded, so the extra lookup per event would buy nothing.
CREATE TABLE session_events (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    frame      TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
