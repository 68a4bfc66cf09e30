-- Emails are unique in their canonical form (`email_key`: lower case, without a `+tag`), so
-- `ada+1@x` is not a second account of `ada@x`. Existing accounts get their key; of accounts
-- that share one, the oldest keeps it and the others get a key no address can have (it holds
-- a space): they still sign in with their own address, but cannot verify it.
ALTER TABLE accounts ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
-- When the account proved it reads its mail (Unix ms); NULL: not yet.
ALTER TABLE accounts ADD COLUMN verified_ms BIGINT;
UPDATE accounts SET email_key = regexp_replace(lower(btrim(email)), '^([^@+]+)\+[^@]*@', '\1@');
UPDATE accounts SET email_key = email_key || ' duplicate ' || id
  WHERE id NOT IN (SELECT min(id) FROM accounts GROUP BY email_key);
CREATE UNIQUE INDEX accounts_canonical_email ON accounts (email_key);

-- A verification token: made by a signup (then `password_hash` is the password the account
-- gets once its link is followed, and no account exists yet) or by an existing account asking
-- to verify (`account_id`). Only the SHA-256 of the mailed secret is kept.
CREATE TABLE email_tokens (
  id SERIAL PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL,
  password_hash TEXT,
  account_id INTEGER REFERENCES accounts (id),
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  used_ms BIGINT
);
CREATE INDEX email_tokens_email_key ON email_tokens (email_key);

-- Mail to send, written in the transaction that decides to send it: a crash or an SMTP outage
-- delays a mail, never loses it. A sender claims a row until `claimed_until_ms` (another node
-- takes it over after that), then marks it sent, or sets `due_ms` for its next attempt, or
-- gives up on a permanent refusal (`failed_ms`).
CREATE TABLE mail_outbox (
  id SERIAL PRIMARY KEY,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  due_ms BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_until_ms BIGINT,
  sent_ms BIGINT,
  failed_ms BIGINT,
  last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (due_ms) WHERE sent_ms IS NULL AND failed_ms IS NULL;
