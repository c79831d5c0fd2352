-- The face search index (docs/contract.md sections 8 and 9).
--
-- face_index holds one row per enrolled face that the background indexer
-- has indexed: the photo's embedding sealed under its scope's face index
-- key of epoch (kept in the key store, not here), and cell, its
-- inverted-file list: the nearest centroid of the epoch's partition (0 when
-- the epoch has none). A row is deleted in the same transaction as
-- whatever ends the face's enrolment: deleting or redacting the photo,
-- deleting its client. The index on cells includes the sealed vector, so
-- that a search reads a cell's rows from adjacent index pages
-- (an index-only scan), not one heap page per row.
--
-- face_index_epochs holds a scope's epochs: the current one (the highest)
-- and, while a rekey moves rows to it, the one before. centroids is the
-- epoch's partition, sealed under the epoch's key (NULL: no partition).
-- The foreign key keeps an epoch's row while rows sealed under it remain.
--
-- live_photos.face_indexed is set in the transaction that indexes a
-- photo; the partial index finds a scope's enrolled faces not indexed yet
-- without reading the indexed ones.

-- +goose Up
ALTER TABLE live_photos ADD COLUMN face_indexed boolean NOT NULL DEFAULT false;
CREATE INDEX live_photos_unindexed ON live_photos (account_id, mode, id)
	WHERE enrolled AND face_embedding IS NOT NULL AND redacted_at IS NULL AND NOT face_indexed;

CREATE TABLE face_index_epochs (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL,
	epoch      bigint           NOT NULL,
	cells      integer          NOT NULL,
	centroids  bytea,
	size       bigint           NOT NULL,
	created_at timestamptz      NOT NULL,
	PRIMARY KEY (account_id, mode, epoch)
);

CREATE TABLE face_index (
	photo_id   text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL,
	client_id  text COLLATE "C" NOT NULL,
	epoch      bigint           NOT NULL,
	cell       integer          NOT NULL,
	vec        bytea            NOT NULL,
	FOREIGN KEY (account_id, mode, epoch) REFERENCES face_index_epochs (account_id, mode, epoch)
);
CREATE INDEX face_index_cells ON face_index (account_id, mode, epoch, cell) INCLUDE (photo_id, client_id, vec);
CREATE INDEX face_index_client ON face_index (account_id, mode, client_id);
ALTER TABLE face_index SET (autovacuum_vacuum_insert_scale_factor = 0.01);

-- +goose Down
DROP TABLE face_index;
DROP TABLE face_index_epochs;
DROP INDEX live_photos_unindexed;
ALTER TABLE live_photos DROP COLUMN face_indexed;
