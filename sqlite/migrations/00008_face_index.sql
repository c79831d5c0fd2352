-- The face search index (docs/contract.md sections 8 and 9): as in the
-- PostgreSQL store. face_index holds one row per indexed enrolled face, its
-- embedding sealed under the scope's face index key of epoch (kept in the
-- key store), in the inverted-file list cell of the epoch's partition (0:
-- none); a row is deleted in the same transaction as whatever ends the
-- face's enrolment. face_index_epochs holds a scope's epochs, their
-- partition sealed under their key (NULL: none); the foreign key keeps an
-- epoch's row while rows sealed under it remain. live_photos.face_indexed
-- is set in the transaction that indexes a photo.

-- +goose Up
ALTER TABLE live_photos ADD COLUMN face_indexed INTEGER NOT NULL DEFAULT 0 CHECK (face_indexed IN (0, 1));
CREATE INDEX live_photos_unindexed ON live_photos (account_id, mode, id)
	WHERE enrolled = 1 AND face_embedding IS NOT NULL AND redacted_at IS NULL AND face_indexed = 0;

CREATE TABLE face_index_epochs (
	account_id TEXT    NOT NULL,
	mode       TEXT    NOT NULL,
	epoch      INTEGER NOT NULL,
	cells      INTEGER NOT NULL,
	centroids  BLOB,
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, mode, epoch)
);

CREATE TABLE face_index (
	photo_id   TEXT    NOT NULL PRIMARY KEY,
	account_id TEXT    NOT NULL,
	mode       TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	epoch      INTEGER NOT NULL,
	cell       INTEGER NOT NULL,
	vec        BLOB    NOT NULL,
	FOREIGN KEY (account_id, mode, epoch) REFERENCES face_index_epochs (account_id, mode, epoch)
);
CREATE INDEX face_index_cells ON face_index (account_id, mode, epoch, cell);
CREATE INDEX face_index_client ON face_index (account_id, mode, client_id);

-- +goose Down
DROP TABLE face_index;
DROP TABLE face_index_epochs;
DROP INDEX live_photos_unindexed;
ALTER TABLE live_photos DROP COLUMN face_indexed;
