-- The initial schema.
--
-- Timestamps are timestamptz holding whole milliseconds (the service works at
-- millisecond precision; the store truncates before writing, and a CHECK
-- keeps anything else out, so that the strict list bounds computed in
-- milliseconds are exact). IDs are text in the "C" collation: they sort
-- byte by byte, as in SQLite, whatever the database's locale.
--
-- Tenant data is partitioned by (account_id, mode): every index on tenant
-- data starts with those two columns.

-- +goose Up
CREATE TABLE accounts (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	name       text             NOT NULL UNIQUE,
	created_at timestamptz      NOT NULL
		CHECK (created_at = date_trunc('milliseconds', created_at, 'UTC'))
);

CREATE TABLE api_keys (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id text COLLATE "C" NOT NULL REFERENCES accounts (id),
	mode       text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live')),
	hint       text             NOT NULL,
	hash       bytea            NOT NULL UNIQUE,
	created_at timestamptz      NOT NULL
		CHECK (created_at = date_trunc('milliseconds', created_at, 'UTC')),
	revoked_at timestamptz
		CHECK (revoked_at = date_trunc('milliseconds', revoked_at, 'UTC'))
);

CREATE INDEX api_keys_account ON api_keys (account_id);

-- doc holds every attribute of the client as a JSON object, spelled as on
-- the wire; type, email and external_id are copies of doc fields that lists
-- filter on through B-tree indexes. Other attribute filters are jsonb
-- containment (doc @> '{"personDetails":{"firstName":"Ada"}}'), which the
-- GIN index serves.
CREATE TABLE clients (
	id          text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id  text COLLATE "C" NOT NULL,
	mode        text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live')),
	type        text             NOT NULL,
	email       text             NOT NULL,
	external_id text             NOT NULL,
	doc         jsonb            NOT NULL CHECK (jsonb_typeof(doc) = 'object'),
	created_at  timestamptz      NOT NULL
		CHECK (created_at = date_trunc('milliseconds', created_at, 'UTC')),
	updated_at  timestamptz      NOT NULL
		CHECK (updated_at = date_trunc('milliseconds', updated_at, 'UTC')),
	UNIQUE (account_id, mode, id)
);

-- A scope's clients, newest first: an index scan, no sort. updated_at is
-- included for lists with updated bounds, as in live_photos_client.
CREATE INDEX clients_list ON clients (account_id, mode, created_at DESC, id DESC)
	INCLUDE (updated_at);
CREATE INDEX clients_email ON clients (account_id, mode, email);
CREATE INDEX clients_external_id ON clients (account_id, mode, external_id);
CREATE INDEX clients_doc ON clients USING gin (doc jsonb_path_ops);

-- A photo references its client within the same scope, so a photo can never
-- belong to a client of another account or mode. There is no ON DELETE
-- CASCADE: a client is deleted only after its photos (and their bytes).
-- liveness_check is NULL when no check was run.
CREATE TABLE live_photos (
	id                     text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id             text COLLATE "C" NOT NULL,
	mode                   text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live')),
	client_id              text COLLATE "C" NOT NULL,
	content_type           text             NOT NULL,
	size                   bigint           NOT NULL,
	width                  integer          NOT NULL,
	height                 integer          NOT NULL,
	sha256                 text             NOT NULL,
	perform_liveness_check boolean          NOT NULL,
	liveness_check         jsonb,
	redacted_at            timestamptz
		CHECK (redacted_at = date_trunc('milliseconds', redacted_at, 'UTC')),
	created_at             timestamptz      NOT NULL
		CHECK (created_at = date_trunc('milliseconds', created_at, 'UTC')),
	updated_at             timestamptz      NOT NULL
		CHECK (updated_at = date_trunc('milliseconds', updated_at, 'UTC')),
	FOREIGN KEY (account_id, mode, client_id) REFERENCES clients (account_id, mode, id)
);

-- A client's photos, newest first: an index scan, no sort, with the created
-- bounds as index conditions. updated_at is included so that a page, or a
-- count, with updated bounds is an index-only scan too. It also serves the
-- foreign key (deleting a client).
CREATE INDEX live_photos_client ON live_photos (account_id, mode, client_id, created_at DESC, id DESC)
	INCLUDE (updated_at);

-- A client belongs to one account and mode: without this the planner takes
-- the three equalities as independent and underestimates a client's photos.
CREATE STATISTICS live_photos_client_scope (dependencies) ON account_id, mode, client_id FROM live_photos;

-- Index-only scans skip the table only for pages the visibility map marks
-- all-visible, and the planner counts on it for deep pages. Photos are
-- mostly inserted, never updated in bulk: have autovacuum visit after 1% of
-- the table is new, rather than the default 20%.
ALTER TABLE live_photos SET (autovacuum_vacuum_insert_scale_factor = 0.01);

-- A lease names the one node allowed to run a periodic job (the orphan
-- sweep) until it expires.
CREATE TABLE leases (
	name       text        NOT NULL PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE live_photos;
DROP TABLE clients;
DROP TABLE api_keys;
DROP TABLE accounts;
