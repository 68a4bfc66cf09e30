-- Server-side sessions. The cookie carries a random secret; a row keeps only its SHA-256
-- (`token_hash`), so a leaked row signs nobody in. `kind` and `subject_id` say who is signed
-- in (`account` and an account's id; other kinds of login reuse the table); `data` is the
-- kind's own (a shopper's cart id). Times are Unix milliseconds: `seen_ms` is the last use
-- written back (idle expiry), `ended_ms` is set by a logout.
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL,
  data TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  seen_ms BIGINT NOT NULL,
  ended_ms BIGINT
);
CREATE INDEX sessions_subject ON sessions (kind, subject_id);
