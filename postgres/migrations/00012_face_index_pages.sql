-- Packed pages of the face search index (docs/contract.md sections 8 and 9).
--
-- face_index_pages holds, per cell of an epoch's partition, the cell's
-- faces packed into pages: each page is one AES-GCM box, sealed under the
-- epoch's face index key and bound to its scope, epoch, cell, page and
-- version, holding up to a few hundred faces as photo id, client id and an
-- 8-bit code of the embedding. A search reads a probed cell's pages (a few
-- rows) instead of its rows, opens each page once, scores the codes and
-- re-reads the few candidates' face_index rows to score them exactly;
-- version changes whenever the page is rewritten (a new value of the
-- sequence each time, never reused, even for a page removed and made
-- again), so that a node may keep pages it has opened and read again only
-- those that changed.
--
-- face_index.page is the page of its epoch's cell a row is packed in; NULL
-- while it is not packed yet (a search reads such rows of the cells it
-- probes directly), -1 when a rekey moved it into this epoch and it is
-- still packed in a page of the epoch before (which a search reads too,
-- until the rekey has packed the new epoch and removed the old one).
--
-- face_index_dead lists the faces deleted from face_index while packed in
-- a page: the transaction that deletes the row (photo delete, redaction,
-- client deletion, retention) inserts it. A search never returns them (the
-- exact re-scoring finds no row); the indexer re-packs the pages listed
-- here every --face-index-interval and removes their entries, which
-- destroys the deleted faces' codes. Pages and entries go with their
-- epoch.

-- +goose Up
CREATE SEQUENCE face_index_page_versions;
ALTER TABLE face_index ADD COLUMN page integer;
CREATE INDEX face_index_unpacked ON face_index (account_id, mode, epoch, cell)
	WHERE page IS NULL OR page < 0;
CREATE INDEX face_index_packed ON face_index (account_id, mode, epoch, cell, page)
	WHERE page >= 0;

CREATE TABLE face_index_pages (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL,
	epoch      bigint           NOT NULL,
	cell       integer          NOT NULL,
	page       integer          NOT NULL,
	version    bigint           NOT NULL,
	faces      integer          NOT NULL,
	data       bytea            NOT NULL,
	PRIMARY KEY (account_id, mode, epoch, cell, page),
	FOREIGN KEY (account_id, mode, epoch) REFERENCES face_index_epochs (account_id, mode, epoch) ON DELETE CASCADE
);
-- Sealed data does not compress: keep it out of line without trying.
ALTER TABLE face_index_pages ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE face_index_dead (
	account_id text COLLATE "C" NOT NULL,
	mode       text COLLATE "C" NOT NULL,
	epoch      bigint           NOT NULL,
	cell       integer          NOT NULL,
	page       integer          NOT NULL,
	photo_id   text COLLATE "C" NOT NULL,
	PRIMARY KEY (account_id, mode, epoch, cell, page, photo_id),
	FOREIGN KEY (account_id, mode, epoch) REFERENCES face_index_epochs (account_id, mode, epoch) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE face_index_dead;
DROP TABLE face_index_pages;
DROP INDEX face_index_packed;
DROP INDEX face_index_unpacked;
ALTER TABLE face_index DROP COLUMN page;
DROP SEQUENCE face_index_page_versions;
