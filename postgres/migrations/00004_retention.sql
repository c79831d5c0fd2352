-- Retention: a default per account and mode, in days, for clients whose
-- own retention (in their doc: retention.days, retention.retainUntil,
-- retention.legalHold) does not say otherwise. The retention pass reads
-- photos oldest first.

-- +goose Up
CREATE TABLE retention_defaults (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live')),
	days       integer          NOT NULL CHECK (days > 0),
	PRIMARY KEY (account_id, mode)
);
CREATE INDEX live_photos_created ON live_photos (created_at, id);

-- +goose Down
DROP INDEX live_photos_created;
DROP TABLE retention_defaults;
