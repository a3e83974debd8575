-- The conversation moves out of `sessions.context` into append-only tables, so that an
-- utterance costs one INSERT per row and a small UPDATE of the session's counters instead of
-- rewriting a JSON document that grows with the conversation.
CREATE TABLE session_messages (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    position   INTEGER NOT NULL,
    speaker    TEXT NOT NULL,
    text       TEXT NOT NULL,
    provider   TEXT NOT NULL,
    message_id TEXT,
    at         TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);

CREATE TABLE session_insights (
    session_id   TEXT NOT NULL REFERENCES sessions(id),
    position     INTEGER NOT NULL,
    insight_type TEXT NOT NULL,
    content      TEXT NOT NULL,
    confidence   REAL NOT NULL,
    provider     TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);

-- The latest sentiment, formerly `context.sentiment`.
ALTER TABLE sessions ADD COLUMN sentiment TEXT;

-- Carry existing conversations over (array index = position), then retire the JSON.
INSERT INTO session_messages (session_id, position, speaker, text, provider, message_id, at)
SELECT s.id, CAST(m.key AS INTEGER),
       json_extract(m.value, '$.speaker'), json_extract(m.value, '$.text'),
       json_extract(m.value, '$.provider'), json_extract(m.value, '$.message_id'),
       json_extract(m.value, '$.at')
FROM sessions AS s, json_each(s.context, '$.messages') AS m
WHERE json_valid(s.context);

INSERT INTO session_insights (session_id, position, insight_type, content, confidence, provider)
SELECT s.id, CAST(i.key AS INTEGER),
       json_extract(i.value, '$.insight_type'), json_extract(i.value, '$.content'),
       json_extract(i.value, '$.confidence'), json_extract(i.value, '$.provider')
FROM sessions AS s, json_each(s.context, '$.insights') AS i
WHERE json_valid(s.context);

UPDATE sessions SET
    sentiment = CASE WHEN json_valid(context) THEN json_extract(context, '$.sentiment') END,
    message_count = (SELECT COUNT(*) FROM session_messages AS m WHERE m.session_id = sessions.id),
    context = '{}';
