package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/sqlite"
)

// defaultDataDir is where the embedded default keeps its database and images.
const defaultDataDir = "./facevault-data"

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory: SQLite database and image files")
}

// openDB opens (creating if needed) the SQLite database of a data directory.
func openDB(ctx context.Context, dataDir string) (*sqlite.DB, error) {
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "facevault.db"))
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dataDir, err)
	}
	return db, nil
}

// openBlobs opens the image directory of a data directory.
func openBlobs(dataDir string) (*fsblob.Store, error) {
	b, err := fsblob.Open(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("open image store in %s: %w", dataDir, err)
	}
	return b, nil
}
