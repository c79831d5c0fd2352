-- The audit log: one row per access to personal data (or attempt at one),
-- appended, never changed. Rows are grouped in chains, one per account and
-- mode (and one, with account_id and mode empty, for failed
-- authentications with unknown keys); seq numbers a chain's entries from 1,
-- and hash is SHA-256 over the entry's fields and prev_hash, the hash of the
-- entry before it (facevault.AuditEntry.ComputeHash).
--
-- audit_chains keeps each chain's head (its last seq and hash). Appending
-- locks the chain's head row first (an upsert), so that appends to one chain
-- from any number of nodes take turns, while appends to other chains do not
-- wait; the head is updated in the same transaction, so entries removed from
-- the end of a chain show too. The trigger refuses updates, deletes and
-- truncation, so that no code path changes an entry by mistake;
-- 'facevault audit verify' finds what is changed behind it. No column holds
-- personal data values: ids, names of operations, statuses, attribute paths.

-- +goose Up
CREATE TABLE audit_log (
	id            text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id    text COLLATE "C" NOT NULL,
	mode          text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live', '')),
	seq           bigint           NOT NULL CHECK (seq >= 1),
	key_id        text COLLATE "C" NOT NULL,
	trigger_name  text             NOT NULL,
	action        text             NOT NULL,
	resource_type text             NOT NULL,
	resource_id   text COLLATE "C" NOT NULL,
	client_id     text COLLATE "C" NOT NULL,
	outcome       text             NOT NULL,
	status        integer          NOT NULL,
	request_id    text             NOT NULL,
	source        text             NOT NULL,
	diff          text             NOT NULL,
	count         integer          NOT NULL CHECK (count >= 1),
	created_at    timestamptz      NOT NULL
		CHECK (created_at = date_trunc('milliseconds', created_at, 'UTC')),
	prev_hash     text             NOT NULL,
	hash          text             NOT NULL,
	UNIQUE (account_id, mode, seq)
);

-- The list, newest first, and its two selective filters.
CREATE INDEX audit_log_list ON audit_log (account_id, mode, created_at DESC, id DESC);
CREATE INDEX audit_log_resource ON audit_log (account_id, mode, resource_id, created_at DESC, id DESC);
CREATE INDEX audit_log_client ON audit_log (account_id, mode, client_id, created_at DESC, id DESC);

-- Rows are only ever inserted.
ALTER TABLE audit_log SET (autovacuum_vacuum_insert_scale_factor = 0.01);

CREATE TABLE audit_chains (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live', '')),
	seq        bigint           NOT NULL,
	hash       text             NOT NULL,
	created_at timestamptz      NOT NULL,
	PRIMARY KEY (account_id, mode)
);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_chains;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
