-- The initial schema. Timestamps are INTEGER Unix milliseconds (UTC).
-- Tenant data is partitioned by (account_id, mode): every index on tenant
-- data starts with those two columns.

-- +goose Up
CREATE TABLE accounts (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
	id         TEXT    NOT NULL PRIMARY KEY,
	account_id TEXT    NOT NULL REFERENCES accounts (id),
	mode       TEXT    NOT NULL CHECK (mode IN ('test', 'live')),
	hint       TEXT    NOT NULL,
	hash       BLOB    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;

CREATE INDEX api_keys_account ON api_keys (account_id);

-- doc holds every attribute of the client as JSON, spelled as on the wire;
-- type, email and external_id are copies of doc fields that lists filter on.
CREATE TABLE clients (
	id          TEXT    NOT NULL PRIMARY KEY,
	account_id  TEXT    NOT NULL,
	mode        TEXT    NOT NULL CHECK (mode IN ('test', 'live')),
	type        TEXT    NOT NULL,
	email       TEXT    NOT NULL,
	external_id TEXT    NOT NULL,
	doc         TEXT    NOT NULL CHECK (json_valid(doc)),
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (account_id, mode, id)
) STRICT;

CREATE INDEX clients_list ON clients (account_id, mode, created_at DESC, id DESC);
CREATE INDEX clients_email ON clients (account_id, mode, email);
CREATE INDEX clients_external_id ON clients (account_id, mode, external_id);

-- A photo references its client within the same scope, so a photo can never
-- belong to a client of another account or mode. There is no ON DELETE
-- CASCADE: a client is deleted only after its photos (and their bytes).
CREATE TABLE live_photos (
	id                     TEXT    NOT NULL PRIMARY KEY,
	account_id             TEXT    NOT NULL,
	mode                   TEXT    NOT NULL CHECK (mode IN ('test', 'live')),
	client_id              TEXT    NOT NULL,
	content_type           TEXT    NOT NULL,
	size                   INTEGER NOT NULL,
	width                  INTEGER NOT NULL,
	height                 INTEGER NOT NULL,
	sha256                 TEXT    NOT NULL,
	perform_liveness_check INTEGER NOT NULL CHECK (perform_liveness_check IN (0, 1)),
	liveness_check         TEXT    CHECK (liveness_check IS NULL OR json_valid(liveness_check)),
	redacted_at            INTEGER,
	created_at             INTEGER NOT NULL,
	updated_at             INTEGER NOT NULL,
	FOREIGN KEY (account_id, mode, client_id) REFERENCES clients (account_id, mode, id)
) STRICT;

-- A client's photos, newest first: an index scan, no sort. It also serves
-- the foreign key.
CREATE INDEX live_photos_client ON live_photos (account_id, mode, client_id, created_at DESC, id DESC);

-- A lease names the one node allowed to run a periodic job (the orphan
-- sweep) until it expires.
CREATE TABLE leases (
	name       TEXT    NOT NULL PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
DROP TABLE live_photos;
DROP TABLE clients;
DROP TABLE api_keys;
DROP TABLE accounts;
