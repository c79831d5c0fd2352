package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/postgres"
	"github.com/facevault/facevault/s3blob"
	"github.com/facevault/facevault/sqlite"
)

// defaultDataDir is where the embedded default keeps its database and images.
const defaultDataDir = "./facevault-data"

// storeFlags choose the back ends. --db and --blobs name them by URL; each
// defaults to the embedded part under --data.
type storeFlags struct {
	data, db, blobs *string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	return &storeFlags{
		data: fs.String("data", defaultDataDir, "data directory of the embedded default: where --db and --blobs point unless set"),
		db: fs.String("db", "", "record store URL: sqlite:///path/facevault.db or postgres://user@host:5432/dbname "+
			"(default: the SQLite database in --data)"),
		blobs: fs.String("blobs", "", "image store URL: file:///path or s3://bucket[/prefix]?endpoint=URL&region=NAME, "+
			"with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (default: the blobs directory in --data)"),
	}
}

func (f *storeFlags) dbURL() string {
	if *f.db != "" {
		return *f.db
	}
	return "sqlite://" + filepath.Join(*f.data, "facevault.db")
}

func (f *storeFlags) blobsURL() string {
	if *f.blobs != "" {
		return *f.blobs
	}
	return "file://" + filepath.Join(*f.data, "blobs")
}

// schemaMode says what opening a record store does about its schema.
type schemaMode int

const (
	// checkSchema refuses a PostgreSQL schema that is not the one this
	// binary knows. The embedded SQLite database is always brought up to
	// date: it belongs to this process alone.
	checkSchema schemaMode = iota
	// migrateSchema applies pending migrations.
	migrateSchema
)

// openStore opens the record store a URL names.
func openStore(ctx context.Context, rawURL string, mode schemaMode) (facevault.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, fmt.Errorf("%w: --db %q is not a URL: want sqlite:///path or postgres://host/dbname", errUsage, rawURL)
	}
	switch scheme {
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("%w: --db %q names no file: want sqlite:///path/facevault.db", errUsage, rawURL)
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
		}
		return db, nil
	case "postgres", "postgresql":
		if _, err := url.Parse(rawURL); err != nil {
			// url.Error repeats the URL, password and all: say only what
			// is wrong with it.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("%w: --db %q: malformed URL: %v", errUsage, redact(rawURL), err)
		}
		db, err := postgres.Open(ctx, rawURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database %s: %w", redact(rawURL), err)
		}
		if mode == migrateSchema {
			err = db.Migrate(ctx)
		} else {
			err = db.CheckSchema(ctx)
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("PostgreSQL database %s: %w", redact(rawURL), err)
		}
		return db, nil
	}
	return nil, fmt.Errorf("%w: --db %q: unknown scheme %q: want sqlite or postgres", errUsage, redact(rawURL), scheme)
}

// blobStore is an opened image store. exclusive is true when this process
// owns it alone (local files, locked), so that no upload of another process
// can be in flight in it.
type blobStore struct {
	facevault.BlobStore
	exclusive bool
	close     func() error
}

// openBlobStore opens the image store a URL names.
func openBlobStore(ctx context.Context, rawURL string) (*blobStore, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, fmt.Errorf("%w: --blobs %q is not a URL: want file:///path or s3://bucket?endpoint=URL", errUsage, rawURL)
	}
	switch scheme {
	case "file":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("%w: --blobs %q names no directory: want file:///path", errUsage, rawURL)
		}
		b, err := fsblob.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open image directory %s: %w", path, err)
		}
		return &blobStore{BlobStore: b, exclusive: true, close: b.Close}, nil
	case "s3":
		if _, err := s3blob.ParseURL(rawURL); err != nil {
			return nil, fmt.Errorf("%w: --blobs: %v", errUsage, err)
		}
		b, err := s3blob.Open(ctx, rawURL, s3blob.Options{})
		if err != nil {
			return nil, fmt.Errorf("open S3 image store %s: %w", rawURL, err)
		}
		return &blobStore{BlobStore: b, close: func() error { return nil }}, nil
	}
	return nil, fmt.Errorf("%w: --blobs %q: unknown scheme %q: want file or s3", errUsage, redact(rawURL), scheme)
}

// redact hides the password of a URL for messages, also in a URL that does
// not parse.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return userinfoRE.ReplaceAllString(rawURL, "${1}xxxxx@")
	}
	return u.Redacted()
}

// userinfoRE matches the start of a URL up to the colon of its user
// information, then the password and its "@".
var userinfoRE = regexp.MustCompile(`^([^:/?#]+://[^/?#@:]*:)[^/?#]*@`)

// openDB opens (creating if needed) the SQLite database of a data directory.
// Tests use it to prepare a data directory before starting serve.
func openDB(ctx context.Context, dataDir string) (*sqlite.DB, error) {
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "facevault.db"))
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dataDir, err)
	}
	return db, nil
}
