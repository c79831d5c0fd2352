-- Deletes that are all-or-nothing whatever their size, and list totals that
-- cost nothing to read.
--
-- Deleting a client marks it deleted (deleted_at) in one small
-- transaction; from then on it and its photos are gone for every query.
-- Its photo records are removed afterwards in bounded batches, each queuing
-- the photos' image keys in purges in the same transaction; a key leaves
-- purges only once its bytes are destroyed. Deleting or redacting a single
-- photo queues its key the same way. So a crash, a cancelled request or an
-- image store that is down never leaves a listed photo without its bytes,
-- nor bytes that nothing will destroy.
--
-- photo_count (per client) and scope_counts (clients per account and mode)
-- are the totals of unfiltered lists, kept in the transactions that add
-- and remove photos and clients. Counting a photo on its client row also
-- serialises an upload with a concurrent delete of its client: whichever
-- commits first wins, and an upload never succeeds for a deleted client.

-- +goose Up
ALTER TABLE clients
	ADD COLUMN deleted_at timestamptz
		CHECK (deleted_at = date_trunc('milliseconds', deleted_at, 'UTC')),
	ADD COLUMN photo_count bigint NOT NULL DEFAULT 0 CHECK (photo_count >= 0);

UPDATE clients SET photo_count = (
	SELECT count(*) FROM live_photos p
	WHERE p.account_id = clients.account_id AND p.mode = clients.mode AND p.client_id = clients.id);

-- Every upload updates its client's row: leave room on each page so that
-- the new row version stays on it (a HOT update: no index changes).
ALTER TABLE clients SET (fillfactor = 85);

-- Lists see clients that are not deleted: the list index holds only those.
DROP INDEX clients_list;
CREATE INDEX clients_list ON clients (account_id, mode, created_at DESC, id DESC)
	INCLUDE (updated_at) WHERE deleted_at IS NULL;
-- The purge finds deleted clients through this one.
CREATE INDEX clients_deleted ON clients (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE scope_counts (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL CHECK (mode IN ('test', 'live')),
	clients    bigint           NOT NULL CHECK (clients >= 0),
	PRIMARY KEY (account_id, mode)
);

INSERT INTO scope_counts (account_id, mode, clients)
	SELECT account_id, mode, count(*) FROM clients GROUP BY account_id, mode;

-- key is an image key (a live photo id); not_before is when the next attempt
-- is due, attempts how many have failed, last_error why the last one did.
CREATE TABLE purges (
	key        text COLLATE "C" NOT NULL PRIMARY KEY,
	queued_at  timestamptz      NOT NULL,
	not_before timestamptz      NOT NULL,
	attempts   integer          NOT NULL DEFAULT 0,
	last_error text             NOT NULL DEFAULT ''
);

CREATE INDEX purges_due ON purges (not_before, key);

-- +goose Down
DROP TABLE purges;
DROP TABLE scope_counts;
DROP INDEX clients_deleted;
DROP INDEX clients_list;
CREATE INDEX clients_list ON clients (account_id, mode, created_at DESC, id DESC) INCLUDE (updated_at);
ALTER TABLE clients RESET (fillfactor);
ALTER TABLE clients DROP COLUMN photo_count, DROP COLUMN deleted_at;
