-- Console users and their sessions, for the review console. A user's
-- password is kept only as an Argon2id PHC string; failed_sign_ins and
-- locked_until (epoch milliseconds) hold the lock-out, here so that it
-- holds across every node of a shared store. A session is kept by the
-- SHA-256 of its token (the token lives only in the browser's cookie), with
-- the account and mode chosen in it ('' until chosen); deleting a user
-- deletes its sessions.

-- +goose Up
CREATE TABLE console_users (
	id              TEXT    NOT NULL PRIMARY KEY,
	name            TEXT    NOT NULL UNIQUE,
	role            TEXT    NOT NULL CHECK (role IN ('reviewer', 'admin')),
	password_hash   TEXT    NOT NULL,
	disabled        INTEGER NOT NULL DEFAULT 0,
	failed_sign_ins INTEGER NOT NULL DEFAULT 0,
	locked_until    INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE console_sessions (
	hash         BLOB    NOT NULL PRIMARY KEY,
	user_id      TEXT    NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	account_id   TEXT    NOT NULL DEFAULT '',
	mode         TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE console_users;
