-- The store identity: which FaceVault store this database belongs to. The
-- same id is kept in the image store (a marker), and every command that
-- opens both compares them (facevault.Bind). One row at most; none until a
-- command that opens both binds the pair: 'facevault migrate', which opens
-- no image store, leaves it empty.

-- +goose Up
CREATE TABLE store_identity (
	singleton  boolean     NOT NULL PRIMARY KEY DEFAULT true CHECK (singleton),
	id         text        NOT NULL CHECK (length(id) = 32),
	created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE store_identity;
