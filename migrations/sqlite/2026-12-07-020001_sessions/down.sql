DROP INDEX sessions_subject;
DROP TABLE sessions;
