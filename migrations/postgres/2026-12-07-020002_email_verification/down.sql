DROP INDEX mail_outbox_due;
DROP TABLE mail_outbox;
DROP INDEX email_tokens_email_key;
DROP TABLE email_tokens;
DROP INDEX accounts_canonical_email;
ALTER TABLE accounts DROP COLUMN verified_ms;
ALTER TABLE accounts DROP COLUMN email_key;
