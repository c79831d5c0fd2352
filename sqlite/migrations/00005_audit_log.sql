-- The audit log: one row per access to personal data (or attempt at one),
-- appended, never changed. Rows are grouped in chains, one per account and
-- mode (and one, with account_id and mode empty, for failed
-- authentications with unknown keys); seq numbers a chain's entries from 1,
-- and hash is SHA-256 over the entry's fields and prev_hash, the hash of the
-- entry before it (facevault.AuditEntry.ComputeHash). audit_chains keeps each
-- chain's head (its last seq and hash), updated in the transaction that
-- appends: entries removed from the end of a chain show too. The triggers
-- refuse updates and deletes, so that no code path changes an entry by
-- mistake; 'facevault audit verify' finds what is changed behind them.
-- No column holds personal data values: ids, names of operations, statuses,
-- attribute paths.

-- +goose Up
CREATE TABLE audit_log (
	id            TEXT    NOT NULL PRIMARY KEY,
	account_id    TEXT    NOT NULL,
	mode          TEXT    NOT NULL CHECK (mode IN ('test', 'live', '')),
	seq           INTEGER NOT NULL CHECK (seq >= 1),
	key_id        TEXT    NOT NULL,
	trigger_name  TEXT    NOT NULL,
	action        TEXT    NOT NULL,
	resource_type TEXT    NOT NULL,
	resource_id   TEXT    NOT NULL,
	client_id     TEXT    NOT NULL,
	outcome       TEXT    NOT NULL,
	status        INTEGER NOT NULL,
	request_id    TEXT    NOT NULL,
	source        TEXT    NOT NULL,
	diff          TEXT    NOT NULL,
	count         INTEGER NOT NULL CHECK (count >= 1),
	created_at    INTEGER NOT NULL,
	prev_hash     TEXT    NOT NULL,
	hash          TEXT    NOT NULL,
	UNIQUE (account_id, mode, seq)
) STRICT;

-- The list, newest first, and its two selective filters.
CREATE INDEX audit_log_list ON audit_log (account_id, mode, created_at DESC, id DESC);
CREATE INDEX audit_log_resource ON audit_log (account_id, mode, resource_id, created_at DESC, id DESC);
CREATE INDEX audit_log_client ON audit_log (account_id, mode, client_id, created_at DESC, id DESC);

CREATE TABLE audit_chains (
	account_id TEXT    NOT NULL,
	mode       TEXT    NOT NULL CHECK (mode IN ('test', 'live', '')),
	seq        INTEGER NOT NULL,
	hash       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, mode)
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_chains;
DROP TABLE audit_log;
