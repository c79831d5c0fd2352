-- Console users and their sessions, for the review console. A user's
-- password is kept only as an Argon2id PHC string; failed_sign_ins and
-- locked_until hold the lock-out, here so that it holds across every node
-- of the store. A session is kept by the SHA-256 of its token (the token
-- lives only in the browser's cookie), with the account and mode chosen in
-- it ('' until chosen); deleting a user deletes its sessions.

-- +goose Up
CREATE TABLE console_users (
	id              text COLLATE "C" NOT NULL PRIMARY KEY,
	name            text COLLATE "C" NOT NULL UNIQUE,
	role            text             NOT NULL CHECK (role IN ('reviewer', 'admin')),
	password_hash   text             NOT NULL,
	disabled        boolean          NOT NULL DEFAULT false,
	failed_sign_ins integer          NOT NULL DEFAULT 0,
	locked_until    timestamptz,
	created_at      timestamptz      NOT NULL,
	updated_at      timestamptz      NOT NULL
);

CREATE TABLE console_sessions (
	hash         bytea            NOT NULL PRIMARY KEY,
	user_id      text COLLATE "C" NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	account_id   text COLLATE "C" NOT NULL DEFAULT '',
	mode         text COLLATE "C" NOT NULL DEFAULT '',
	created_at   timestamptz      NOT NULL,
	last_seen_at timestamptz      NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE console_users;
