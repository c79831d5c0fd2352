-- The store identity: which FaceVault store this database belongs to. The
-- same id is kept in the image store (a marker), and every command that
-- opens both compares them (facevault.Bind). One row at most; none until a
-- command that opens both binds the pair, so a database created before this
-- migration (or by a command that opens no image store) has none.

-- +goose Up
CREATE TABLE store_identity (
	singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
	id         TEXT    NOT NULL CHECK (length(id) = 32),
	created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE store_identity;
