// Package backendtest opens, for tests, the pairs of back ends FaceVault
// runs on: SQLite with image files, and PostgreSQL with S3 (on the servers
// scripts/test starts), each with a key store of its own beside it, as
// serve has. Every store is fresh and is closed when the test ends.
package backendtest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/internal/pgtest"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/postgres"
	"github.com/facevault/facevault/s3blob"
	"github.com/facevault/facevault/sqlite"
)

// Backend opens a fresh record store, image store and key store.
type Backend struct {
	Name string
	Open func(t testing.TB) (facevault.Store, facevault.BlobStore, *keyring.Keyring)
}

// All is every pair, the embedded default first.
func All() []Backend {
	return []Backend{
		{"sqlite+fsblob", OpenSQLiteFS},
		{"postgres+s3", OpenPostgresS3},
	}
}

// MasterKey is the master key of the key stores OpenKeyring opens.
func MasterKey() []byte { return bytes.Repeat([]byte{0x5a}, keyring.MasterKeySize) }

// OpenSQLiteFS opens a SQLite database and an image directory in
// temporary directories of t, and a SQLite key store beside them.
func OpenSQLiteFS(t testing.TB) (facevault.Store, facevault.BlobStore, *keyring.Keyring) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "facevault.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("fsblob.Open: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	return db, blobs, OpenKeyring(t, "sqlite://"+filepath.Join(t.TempDir(), "keys.db"))
}

// OpenPostgresS3 opens a fresh PostgreSQL database, migrated, an S3
// bucket, and a key store in another fresh database.
func OpenPostgresS3(t testing.TB) (facevault.Store, facevault.BlobStore, *keyring.Keyring) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	endpoint, bucket := s3test.Bucket(t)
	blobs, err := s3blob.Open(ctx, "s3://"+bucket+"?endpoint="+endpoint, s3blob.Options{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatalf("s3blob.Open: %v", err)
	}
	return db, blobs, OpenKeyring(t, pgtest.URL(t))
}

// OpenKeyring opens the key store at url under MasterKey.
func OpenKeyring(t testing.TB, url string) *keyring.Keyring {
	t.Helper()
	ctx := context.Background()
	db, err := keyring.Open(ctx, url)
	if err != nil {
		t.Fatalf("keyring.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := keyring.NewLocalMaster(MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.New(ctx, db, []keyring.Master{m})
	if err != nil {
		t.Fatalf("keyring.New: %v", err)
	}
	return k
}
