package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/seal"
	"github.com/facevault/facevault/sqlite"
)

// backupFormat and backupVersion identify the layout of a backup in its
// manifest.
const (
	backupFormat  = "facevault-backup"
	backupVersion = 1
)

// backupBatch is how many images backup copies before it checks, in the
// live database, that their photos still exist.
const backupBatch = 256

// manifest describes a complete backup. It is written last: a backup
// without one is incomplete, and restore refuses it.
type manifest struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	CreatedAt     time.Time `json:"createdAt"`
	StoreID       string    `json:"storeId"`
	SchemaVersion int64     `json:"schemaVersion"`
	// Database is the SQLite snapshot.
	Database manifestFile `json:"database"`
	// Photos counts the live photo records in the database; Images those
	// of them whose image is in the backup (the others are redacted, or
	// of deleted clients awaiting the purge).
	Photos int `json:"photos"`
	Images struct {
		Count int   `json:"count"`
		Bytes int64 `json:"bytes"`
		// List names the file listing every image with its SHA-256, in
		// the format of sha256sum, sorted; its own SHA-256 follows.
		List   string `json:"list"`
		SHA256 string `json:"sha256"`
		// InClear counts the images stored in the clear by a release
		// before encryption at rest, not sealed yet: destroying their
		// keys does not make their copies here unreadable.
		InClear int `json:"inClear"`
	} `json:"images"`
	// DeletedDuringBackup counts the photos deleted between the snapshot
	// and the copy of their image: their records were removed from the
	// snapshot. RedactedDuringBackup counts those redacted meanwhile:
	// they are redacted in the snapshot too.
	DeletedDuringBackup  int `json:"deletedDuringBackup"`
	RedactedDuringBackup int `json:"redactedDuringBackup"`
}

// manifestFile is a file of the backup: its name, size and SHA-256 (hex).
type manifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupCommand writes a consistent backup of the embedded default (the
// SQLite database and the image directory) while serve runs: a snapshot of
// the database at one instant, exactly the images its records reference,
// as stored (sealed), and a manifest. Keys are not in it: the key store and
// master key are backed up on their own.
type BackupCommand struct {
	Stdout, Stderr io.Writer
	// afterSnapshot, if set, is called once the database snapshot is
	// taken, before any image is copied: tests change the store there.
	afterSnapshot func()
}

// Run executes the command.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("backup", c.Stderr)
	stores := addStoreFlags(fs)
	to := fs.String("to", "", "where to write the backup: an empty or new directory, or an empty "+
		"s3://bucket[/prefix]?endpoint=URL&region=NAME, with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *to == "" {
		return fmt.Errorf("%w: --to is required: a directory or s3://bucket[/prefix]?endpoint=URL", errUsage)
	}
	dbPath, blobDir, err := embeddedSource(stores)
	if err != nil {
		return err
	}
	if !isS3URL(*to) {
		dirs := []string{blobDir}
		if *stores.db == "" {
			dirs = append(dirs, *stores.data)
		}
		for _, d := range dirs {
			if within(*to, d) {
				return fmt.Errorf("%w: --to %s is inside %s: a backup there would be lost with what it backs up", errUsage, *to, d)
			}
		}
	}
	sink, err := openBackupSink(ctx, *to)
	if err != nil {
		return err
	}
	m, err := writeBackup(ctx, dbPath, blobDir, sink, c.afterSnapshot)
	if err != nil {
		if aerr := sink.abort(context.WithoutCancel(ctx)); aerr != nil {
			err = fmt.Errorf("%w (and removing what was written failed: %v)", err, aerr)
		}
		sink.close()
		return err
	}
	if err := sink.close(); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Backed up store %s to %s: %d photos, %d images (%d bytes).\n",
		m.StoreID, redact(*to), m.Photos, m.Images.Count, m.Images.Bytes)
	if m.DeletedDuringBackup+m.RedactedDuringBackup > 0 {
		fmt.Fprintf(c.Stdout, "Photos deleted (%d) or redacted (%d) while the backup ran are left out of it.\n",
			m.DeletedDuringBackup, m.RedactedDuringBackup)
	}
	if m.Images.InClear > 0 {
		fmt.Fprintf(c.Stdout, "Warning: %d images were stored in the clear by an earlier release and are in the backup so; "+
			"deleting them later will not make this copy unreadable. Run 'facevault sweep' (or let serve's sweep run) to seal them, "+
			"then back up again and destroy this backup.\n", m.Images.InClear)
	}
	fmt.Fprintln(c.Stdout, "The backup holds no key: back up the key store and master key on their own.")
	return nil
}

// embeddedSource returns the database file and image directory of the
// embedded default, or refuses the other back ends.
func embeddedSource(stores *storeFlags) (dbPath, blobDir string, err error) {
	dbURL, blobsURL := stores.dbURL(), stores.blobsURL()
	dbPath, ok := sqlitePath(dbURL)
	if !ok {
		if strings.HasPrefix(dbURL, "postgres:") || strings.HasPrefix(dbURL, "postgresql:") {
			return "", "", fmt.Errorf("%w: facevault backup is for the embedded SQLite database, not PostgreSQL (--db %s): "+
				"back PostgreSQL up with its own tools (pg_dump, or base backups with WAL archiving for point-in-time recovery), "+
				"and the key store with it", errUsage, redact(dbURL))
		}
		return "", "", fmt.Errorf("%w: --db %q: facevault backup wants a sqlite:///path database", errUsage, redact(dbURL))
	}
	blobDir, ok = strings.CutPrefix(blobsURL, "file://")
	if !ok || blobDir == "" {
		if strings.HasPrefix(blobsURL, "s3:") {
			return "", "", fmt.Errorf("%w: facevault backup is for the embedded image directory, not an S3 bucket (--blobs %s): "+
				"protect a bucket with the object store's own means (versioning, replication to another bucket)", errUsage, redact(blobsURL))
		}
		return "", "", fmt.Errorf("%w: --blobs %q: facevault backup wants a file:///path image directory", errUsage, redact(blobsURL))
	}
	return dbPath, blobDir, nil
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// writeBackup writes the backup of the database at dbPath and the image
// directory blobDir to sink: the images first, then the database, then the
// manifest. It neither locks nor changes the source: serve goes on.
// afterSnapshot, if not nil, is called once the snapshot is taken.
func writeBackup(ctx context.Context, dbPath, blobDir string, sink backupSink, afterSnapshot func()) (*manifest, error) {
	live, err := sqlite.OpenFile(ctx, dbPath, true)
	if err != nil {
		return nil, fmt.Errorf("backup: the database: %w", err)
	}
	defer live.Close()
	images, err := fsblob.NewReader(blobDir)
	if err != nil {
		return nil, fmt.Errorf("backup: the image directory: %w", err)
	}
	id, err := live.StoreID(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if !facevault.ValidStoreID(id) {
		return nil, fmt.Errorf("backup: the database %s has no store id: start serve on it once, then back it up", dbPath)
	}
	if imagesID, err := images.StoreID(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	} else if imagesID != id {
		return nil, fmt.Errorf("backup: the image directory %s belongs to store %q, the database %s to store %s: "+
			"they are not one store (is --blobs or --data right?)", blobDir, imagesID, dbPath, id)
	}

	m := &manifest{Format: backupFormat, Version: backupVersion, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), StoreID: id}
	snapPath := filepath.Join(sink.scratch(), ".facevault.db.snapshot")
	if err := live.SnapshotTo(ctx, snapPath); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer destroyFile(snapPath)
	snap, err := sqlite.OpenFile(ctx, snapPath, false)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer snap.Close()
	if afterSnapshot != nil {
		afterSnapshot()
	}
	if m.SchemaVersion, err = snap.SchemaVersion(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	keys, err := snap.ImageKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}

	sums := make(map[string]digest, len(keys))
	var dropped []string
	redacted := map[string]time.Time{}
	for start := 0; start < len(keys); start += backupBatch {
		batch := keys[start:min(start+backupBatch, len(keys))]
		copied := map[string]digest{}
		for _, key := range batch {
			f, err := images.Open(ctx, key)
			if errors.Is(err, facevault.ErrNotFound) {
				continue // decided below, from the live database
			} else if err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
			head := make([]byte, seal.HeaderSize)
			n, err := io.ReadFull(f, head)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				f.Close()
				return nil, fmt.Errorf("backup: read image %s: %w", key, err)
			}
			d, err := sink.write(ctx, backupImageName(key), io.MultiReader(bytes.NewReader(head[:n]), f))
			f.Close()
			if err != nil {
				return nil, err
			}
			d.clear = !seal.IsSealed(head[:n])
			copied[key] = d
		}
		// A photo deleted or redacted since the snapshot may have had its
		// bytes destroyed (or overwritten while they were read): its
		// record says so now. One still kept now was not being destroyed
		// while its bytes were read, as the record changes first.
		states, err := live.PhotoStates(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		for _, key := range batch {
			st := states[key]
			d, ok := copied[key]
			switch {
			case st.Kept && ok:
				sums[key] = d
				continue
			case st.Kept:
				return nil, fmt.Errorf("backup: live photo %s has a record but no image in %s: the store is damaged "+
					"(see 'facevault quarantine list'); nothing was backed up", key, blobDir)
			case !st.RedactedAt.IsZero():
				redacted[key] = st.RedactedAt
			default:
				dropped = append(dropped, key)
			}
			if ok {
				if err := sink.remove(ctx, backupImageName(key)); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := snap.DropPhotos(ctx, dropped); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := snap.RedactPhotos(ctx, redacted); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m.DeletedDuringBackup, m.RedactedDuringBackup = len(dropped), len(redacted)
	if m.Photos, err = snap.PhotoCount(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := snap.CheckIntegrity(ctx); err != nil {
		return nil, fmt.Errorf("backup: the snapshot: %w", err)
	}
	if err := snap.Close(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}

	// The list of images, in id order.
	listPath := filepath.Join(sink.scratch(), ".images.sha256")
	list, err := os.OpenFile(listPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer destroyFile(listPath)
	w := bufio.NewWriter(list)
	for _, key := range keys {
		d, ok := sums[key]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%s  %s\n", d.sha256, backupImageName(key))
		m.Images.Count++
		m.Images.Bytes += d.size
		if d.clear {
			m.Images.InClear++
		}
	}
	err = w.Flush()
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ld, err := fileDigest(listPath)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m.Images.List, m.Images.SHA256 = backupImageSum, ld.sha256
	if err := sink.put(ctx, backupImageSum, listPath); err != nil {
		return nil, err
	}

	dd, err := fileDigest(snapPath)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m.Database = manifestFile{Name: backupDatabase, Size: dd.size, SHA256: dd.sha256}
	if err := sink.put(ctx, backupDatabase, snapPath); err != nil {
		return nil, err
	}

	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backup: manifest: %w", err)
	}
	manPath := filepath.Join(sink.scratch(), ".manifest.json")
	if err := os.WriteFile(manPath, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("backup: manifest: %w", err)
	}
	defer destroyFile(manPath)
	if err := sink.put(ctx, backupManifest, manPath); err != nil {
		return nil, err
	}
	return m, nil
}

// RestoreCommand brings a backup back into an empty (or new) data
// directory, in the layout serve expects, after checking every checksum.
type RestoreCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *RestoreCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("restore", c.Stderr)
	from := fs.String("from", "", "the backup: a directory, or s3://bucket[/prefix]?endpoint=URL&region=NAME, "+
		"with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	data := fs.String("data", "", "the data directory to restore into: it must be empty or not exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *from == "" {
		return fmt.Errorf("%w: --from is required: a backup directory or s3://bucket[/prefix]?endpoint=URL", errUsage)
	}
	if *data == "" {
		return fmt.Errorf("%w: --data is required: the new data directory", errUsage)
	}
	target := filepath.Clean(*data)
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		return fmt.Errorf("refusing to restore into %s: it is not empty (restore writes into an empty or new data directory); nothing was changed", target)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	src, err := openBackupSource(ctx, *from)
	if err != nil {
		return err
	}
	defer src.close()
	m, err := readManifest(ctx, src)
	if err != nil {
		return fmt.Errorf("restore from %s: %w; nothing was changed", redact(*from), err)
	}

	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(target)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(stage)
		}
	}()
	if err := os.Chmod(stage, 0o700); err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	if err := restoreInto(ctx, src, m, stage); err != nil {
		return fmt.Errorf("restore from %s: %w; nothing was restored into %s", redact(*from), err, target)
	}
	// An empty directory in the way goes first (os.Remove refuses one that
	// has filled up meanwhile).
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	if err := os.Rename(stage, target); err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	done = true
	if err := syncPath(parent); err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	fmt.Fprintf(c.Stdout, "Restored store %s into %s: %d photos, %d images (%d bytes), backed up at %s.\n",
		m.StoreID, target, m.Photos, m.Images.Count, m.Images.Bytes, m.CreatedAt.Format(time.RFC3339))
	fmt.Fprintln(c.Stdout, "Start serve on it with the key store and master key of that store (--keys, --master-key-file): "+
		"without them no image can be read. If the original still runs, give it a copy of the key store instead: "+
		"the sweep destroys the keys of photos the restored database has no record of.")
	return nil
}

// readManifest reads and checks the manifest of a backup.
func readManifest(ctx context.Context, src backupSource) (*manifest, error) {
	r, err := src.open(ctx, backupManifest)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no %s: not a FaceVault backup, or an incomplete one (a backup writes its manifest last)", backupManifest)
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", backupManifest, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", backupManifest, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", backupManifest, err)
	}
	switch {
	case m.Format != backupFormat:
		return nil, fmt.Errorf("%s is damaged or not a FaceVault backup's: format %q, want %q", backupManifest, m.Format, backupFormat)
	case m.Version != backupVersion:
		return nil, fmt.Errorf("%s: backup format version %d; this binary reads version %d", backupManifest, m.Version, backupVersion)
	case !facevault.ValidStoreID(m.StoreID):
		return nil, fmt.Errorf("%s is damaged: store id %q", backupManifest, m.StoreID)
	case m.Database.Name != backupDatabase || !isHexSHA256(m.Database.SHA256) ||
		m.Images.List != backupImageSum || !isHexSHA256(m.Images.SHA256) || m.Images.Count < 0 || m.Photos < m.Images.Count:
		return nil, fmt.Errorf("%s is damaged: its files are not described as a backup's are", backupManifest)
	}
	return &m, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// restoreInto writes the backup described by m into the empty directory
// dir as a data directory (facevault.db and blobs/, the image directory
// with its store marker), checking every file against the manifest and
// that every record's image is there.
func restoreInto(ctx context.Context, src backupSource, m *manifest, dir string) error {
	// The list of images.
	r, err := src.open(ctx, backupImageSum)
	if err != nil {
		return fmt.Errorf("read %s: %w", backupImageSum, err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", backupImageSum, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != m.Images.SHA256 {
		return fmt.Errorf("checksum mismatch: %s has SHA-256 %x, the manifest says %s: the backup is damaged", backupImageSum, sum, m.Images.SHA256)
	}
	want := map[string]string{}
	var order []string
	for line := range strings.Lines(string(b)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		key := name[strings.LastIndexByte(name, '/')+1:]
		if !ok || !isHexSHA256(sum) || !facevault.ValidID(key) || name != backupImageName(key) {
			return fmt.Errorf("%s is damaged: line %q", backupImageSum, strings.TrimSpace(line))
		}
		want[key] = sum
		order = append(order, key)
	}
	if len(want) != m.Images.Count {
		return fmt.Errorf("%s lists %d images, the manifest says %d", backupImageSum, len(want), m.Images.Count)
	}

	// The database.
	dbPath := filepath.Join(dir, "facevault.db")
	if err := restoreFile(ctx, src, backupDatabase, dbPath, m.Database.SHA256); err != nil {
		return err
	}

	// The images, through the image store itself: its layout, its marker.
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	defer blobs.Close()
	if _, err := blobs.BindStoreID(ctx, m.StoreID); err != nil {
		return err
	}
	var total int64
	for _, key := range order {
		n, err := restoreImage(ctx, src, blobs, key, want[key])
		if err != nil {
			return err
		}
		total += n
	}
	if total != m.Images.Bytes {
		return fmt.Errorf("the images hold %d bytes, the manifest says %d", total, m.Images.Bytes)
	}
	if err := blobs.Close(); err != nil {
		return err
	}

	// The database against the manifest and the images.
	db, err := sqlite.OpenFile(ctx, dbPath, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckIntegrity(ctx); err != nil {
		return err
	}
	if id, err := db.StoreID(ctx); err != nil {
		return err
	} else if id != m.StoreID {
		return fmt.Errorf("the database belongs to store %q, the manifest says %s", id, m.StoreID)
	}
	if v, err := db.SchemaVersion(ctx); err != nil {
		return err
	} else if v != m.SchemaVersion {
		return fmt.Errorf("the database has schema version %d, the manifest says %d", v, m.SchemaVersion)
	}
	if n, err := db.PhotoCount(ctx); err != nil {
		return err
	} else if n != m.Photos {
		return fmt.Errorf("the database has %d photos, the manifest says %d", n, m.Photos)
	}
	keys, err := db.ImageKeys(ctx)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if _, ok := want[key]; !ok {
			return fmt.Errorf("live photo %s has a record but its image is not in the backup", key)
		}
	}
	if len(keys) != len(want) {
		slices.Sort(keys)
		for _, key := range order {
			if _, ok := slices.BinarySearch(keys, key); !ok {
				return fmt.Errorf("image %s is in the backup but no record of the database has it", key)
			}
		}
	}
	return db.Close()
}

// restoreFile copies the backup's file name to path (0600, synced),
// checking its SHA-256.
func restoreFile(ctx context.Context, src backupSource, name, path, sum string) error {
	r, err := src.open(ctx, name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	d, err := copyHashed(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if d.sha256 != sum {
		return fmt.Errorf("checksum mismatch: %s has SHA-256 %s, the manifest says %s: the backup is damaged", name, d.sha256, sum)
	}
	return nil
}

// restoreImage writes the backup's image of key into the image store,
// committing it only if its SHA-256 is sum. It returns its size.
func restoreImage(ctx context.Context, src backupSource, blobs *fsblob.Store, key, sum string) (int64, error) {
	name := backupImageName(key)
	r, err := src.open(ctx, name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("image %s is listed in %s but missing from the backup", name, backupImageSum)
	} else if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	defer r.Close()
	w, err := blobs.Create(ctx, key)
	if err != nil {
		return 0, err
	}
	d, err := copyHashed(w, r)
	if err != nil {
		w.Abort()
		return 0, fmt.Errorf("restore %s: %w", name, err)
	}
	if d.sha256 != sum {
		w.Abort()
		return 0, fmt.Errorf("checksum mismatch: %s has SHA-256 %s, %s says %s: the backup is damaged", name, d.sha256, backupImageSum, sum)
	}
	if err := w.Commit(ctx); err != nil {
		return 0, err
	}
	return d.size, nil
}
