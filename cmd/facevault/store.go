package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/metrics"
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
	// metrics, if set, is told of every call to the stores opened.
	metrics *metrics.Metrics
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

// postgres reports whether the record store is PostgreSQL.
func (f *storeFlags) postgres() bool {
	scheme, _, _ := strings.Cut(f.dbURL(), ":")
	return scheme == "postgres" || scheme == "postgresql"
}

func (f *storeFlags) blobsURL() string {
	if *f.blobs != "" {
		return *f.blobs
	}
	return "file://" + filepath.Join(*f.data, "blobs")
}

// narrowData takes group and other permissions away from the data
// directory, if it exists and the record store or the image store lies in
// it by default: it holds personal data. A directory with the sticky bit
// (such as /tmp) is shared, and left alone. The database and image files in
// it are narrowed by the stores that own them.
func (f *storeFlags) narrowData() error {
	if *f.db != "" && *f.blobs != "" {
		return nil
	}
	info, err := os.Lstat(*f.data)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("data directory %s: %w", *f.data, err)
	}
	mode := info.Mode()
	if !mode.IsDir() || mode&fs.ModeSticky != 0 || mode.Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(*f.data, mode.Perm()&^0o077); err != nil {
		return fmt.Errorf("data directory %s: narrow its permissions: %w", *f.data, err)
	}
	return nil
}

// openRecords opens the record store alone, for the commands that need no
// images.
func (f *storeFlags) openRecords(ctx context.Context, mode schemaMode) (facevault.Store, error) {
	if err := f.narrowData(); err != nil {
		return nil, err
	}
	return openStoreObserved(ctx, f.dbURL(), mode, f.metrics)
}

// openPair opens the image store and the record store, and checks with
// facevault.Bind that they belong to one FaceVault store, recording the
// store id where it is missing (force as facevault.Bind takes it). A SQLite
// database that does not exist is not created next to an image store in
// use (one with a store id or with images): that is a mistyped --db or
// --data, and the refusal leaves no file behind. It returns the store id.
func (f *storeFlags) openPair(ctx context.Context, mode schemaMode, force bool) (facevault.Store, *blobStore, string, error) {
	if err := f.narrowData(); err != nil {
		return nil, nil, "", err
	}
	dbURL, blobsURL := f.dbURL(), f.blobsURL()
	blobs, err := openBlobStoreObserved(ctx, blobsURL, f.metrics)
	if err != nil {
		return nil, nil, "", err
	}
	if path, ok := sqlitePath(dbURL); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			id, has, err := facevault.InUse(ctx, blobs)
			if err != nil {
				blobs.close()
				return nil, nil, "", fmt.Errorf("image store %s: %w", redact(blobsURL), err)
			}
			if id != "" || has {
				blobs.close()
				return nil, nil, "", &facevault.PairError{NoDatabase: true, RecordsAt: redact(dbURL), ImagesAt: redact(blobsURL), ImagesID: id}
			}
		}
	}
	db, err := openStoreObserved(ctx, dbURL, mode, f.metrics)
	if err != nil {
		blobs.close()
		return nil, nil, "", err
	}
	id, err := facevault.Bind(ctx, facevault.Pair{Records: db, RecordsAt: redact(dbURL), Images: blobs, ImagesAt: redact(blobsURL)}, force)
	if err != nil {
		db.Close()
		blobs.close()
		return nil, nil, "", err
	}
	return db, blobs, id, nil
}

// sqlitePath returns the file a sqlite: URL names.
func sqlitePath(rawURL string) (string, bool) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme != "sqlite" {
		return "", false
	}
	path := strings.TrimPrefix(rest, "//")
	return path, path != ""
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
	return openStoreObserved(ctx, rawURL, mode, nil)
}

// openStoreObserved is openStore telling m, if set, of every call.
func openStoreObserved(ctx context.Context, rawURL string, mode schemaMode, m *metrics.Metrics) (facevault.Store, error) {
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, fmt.Errorf("%w: --db %q is not a URL: want sqlite:///path or postgres://host/dbname", errUsage, rawURL)
	}
	switch scheme {
	case "sqlite":
		path, _ := sqlitePath(rawURL)
		if path == "" {
			return nil, fmt.Errorf("%w: --db %q names no file: want sqlite:///path/facevault.db", errUsage, rawURL)
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
		}
		if m != nil {
			db.SetObserver(m.StoreObserver("sqlite"))
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
		var opts []postgres.Option
		if m != nil {
			opts = append(opts, postgres.WithObserver(m.StoreObserver("postgres")))
		}
		db, err := postgres.Open(ctx, rawURL, opts...)
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

// imageStore is what the commands need of an image store: the blobs, the
// store id, and the quarantine.
type imageStore interface {
	facevault.BlobStore
	facevault.Identity
	facevault.Quarantine
}

// blobStore is an opened image store. exclusive is true when this process
// owns it alone (local files, locked), so that no upload of another process
// can be in flight in it.
type blobStore struct {
	imageStore
	exclusive bool
	close     func() error
}

// Ping reports whether the image store answers.
func (b *blobStore) Ping(ctx context.Context) error {
	if p, ok := b.imageStore.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// openBlobStore opens the image store a URL names.
func openBlobStore(ctx context.Context, rawURL string) (*blobStore, error) {
	return openBlobStoreObserved(ctx, rawURL, nil)
}

// openBlobStoreObserved is openBlobStore telling m, if set, of every
// request to an S3 server.
func openBlobStoreObserved(ctx context.Context, rawURL string, m *metrics.Metrics) (*blobStore, error) {
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
		return &blobStore{imageStore: b, exclusive: true, close: b.Close}, nil
	case "s3":
		if _, err := s3blob.ParseURL(rawURL); err != nil {
			return nil, fmt.Errorf("%w: --blobs: %v", errUsage, err)
		}
		var opts s3blob.Options
		if m != nil {
			opts.Observe = m.S3Request
		}
		b, err := s3blob.Open(ctx, rawURL, opts)
		if err != nil {
			return nil, fmt.Errorf("open S3 image store %s: %w", rawURL, err)
		}
		return &blobStore{imageStore: b, close: func() error { return nil }}, nil
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
