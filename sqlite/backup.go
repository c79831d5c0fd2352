package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is a database file opened as it is, without the store around it: no
// migration is applied and it is opened on one connection. Backup and
// restore use it, to read a database that a running service owns (beside
// the service's own connections, which SQLite's WAL lets write meanwhile)
// and to prepare a copy of it.
type File struct {
	db   *sql.DB
	path string
}

// OpenFile opens the existing database file at path. readOnly opens it
// read-only: nothing this connection does changes the file (SnapshotTo
// still works).
func OpenFile(ctx context.Context, path string, readOnly bool) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: open %s: not a file", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "synchronous(FULL)")
		// What this connection deletes or clears is overwritten, not
		// left in free pages of the file.
		q.Add("_pragma", "secure_delete(1)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &File{db: db, path: path}, nil
}

// Close closes the file.
func (f *File) Close() error {
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", f.path, err)
	}
	return nil
}

// SnapshotTo writes a copy of the database, as it is at one instant, to a
// new file at dst (VACUUM INTO: one read transaction, so writers of other
// connections and processes go on meanwhile and none of their later
// commits is in the copy). The copy is made 0600.
func (f *File) SnapshotTo(ctx context.Context, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("sqlite: snapshot to %s: %w", dst, err)
	}
	// VACUUM INTO refuses an existing file unless it is empty: creating
	// it first gives it its mode.
	out, err := os.OpenFile(abs, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: snapshot to %s: %w", dst, err)
	}
	out.Close()
	if _, err := f.db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("sqlite: snapshot %s to %s: %w", f.path, dst, err)
	}
	if err := syncFile(abs); err != nil {
		return fmt.Errorf("sqlite: snapshot to %s: %w", dst, err)
	}
	return nil
}

func syncFile(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	err = fh.Sync()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// StoreID returns the id of the FaceVault store the database belongs to, or
// "" if none is recorded.
func (f *File) StoreID(ctx context.Context) (string, error) {
	var id string
	err := f.db.QueryRowContext(ctx, `SELECT id FROM store_identity WHERE singleton = 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("sqlite: %s: store id: %w", f.path, err)
	}
	return id, nil
}

// SchemaVersion returns the version of the latest migration applied to the
// database.
func (f *File) SchemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := f.db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: schema version: %w", f.path, err)
	}
	return v.Int64, nil
}

// CheckIntegrity runs SQLite's integrity check and its foreign key check.
func (f *File) CheckIntegrity(ctx context.Context) error {
	var res string
	if err := f.db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return fmt.Errorf("sqlite: %s: integrity check: %w", f.path, err)
	}
	if res != "ok" {
		return fmt.Errorf("sqlite: %s: integrity check: %s", f.path, res)
	}
	rows, err := f.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("sqlite: %s: foreign key check: %w", f.path, err)
	}
	defer rows.Close()
	if rows.Next() {
		return fmt.Errorf("sqlite: %s: foreign key check: a row refers to one that does not exist", f.path)
	}
	return rows.Err()
}

// withImage is the condition on a live photo p, joined with its client c,
// that it has image bytes the store keeps: it is not redacted, its client
// is not deleted, and its key is not queued for purging.
const withImage = `p.redacted_at IS NULL AND c.deleted_at IS NULL
	AND NOT EXISTS (SELECT 1 FROM purges q WHERE q.key = p.id)`

// ImageKeys returns, in order, the ids of the live photos whose image bytes
// the store keeps: each has a blob under its id.
func (f *File) ImageKeys(ctx context.Context) ([]string, error) {
	rows, err := f.db.QueryContext(ctx, `
		SELECT p.id FROM live_photos p
		JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
		WHERE `+withImage+` ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: list images: %w", f.path, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: %s: list images: %w", f.path, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: list images: %w", f.path, err)
	}
	return ids, nil
}

// PhotoState is what a database says of a live photo's image.
type PhotoState struct {
	// Kept: the photo exists and the store keeps its image bytes.
	Kept bool
	// RedactedAt is when the photo was redacted: its record stays, its
	// bytes are destroyed. Zero if it is not.
	RedactedAt time.Time
	// Otherwise the photo is gone, or its client is deleted, or its bytes
	// are queued for destruction.
}

// PhotoStates returns the state of each of the live photos ids.
func (f *File) PhotoStates(ctx context.Context, ids []string) (map[string]PhotoState, error) {
	states := make(map[string]PhotoState, len(ids))
	for start := 0; start < len(ids); start += existingBatch {
		batch := ids[start:min(start+existingBatch, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := f.db.QueryContext(ctx, `
			SELECT p.id, p.redacted_at, `+withImage+` FROM live_photos p
			JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
			WHERE p.id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: photo states: %w", f.path, err)
		}
		for rows.Next() {
			var id string
			var redacted sql.NullInt64
			var kept bool
			if err := rows.Scan(&id, &redacted, &kept); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: %s: photo states: %w", f.path, err)
			}
			states[id] = PhotoState{Kept: kept, RedactedAt: fromNullMS(redacted)}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: photo states: %w", f.path, err)
		}
	}
	return states, nil
}

// DropPhotos removes live photos from the database with what depends on
// them (their checks; their face data is in their row), and takes them off
// their clients' counts, in one transaction. Backup uses it on its copy of
// a database for photos deleted after the copy was taken.
func (f *File) DropPhotos(ctx context.Context, ids []string) error {
	return f.inTx(ctx, "drop photos", func(tx *sql.Tx) error {
		for _, id := range ids {
			var account, mode, client string
			err := tx.QueryRowContext(ctx, `SELECT account_id, mode, client_id FROM live_photos WHERE id = ?`, id).Scan(&account, &mode, &client)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM checks WHERE live_photo_id = ?`, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM live_photos WHERE id = ?`, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE clients SET photo_count = photo_count - 1
				WHERE account_id = ? AND mode = ? AND id = ? AND photo_count > 0`, account, mode, client); err != nil {
				return err
			}
		}
		return nil
	})
}

// RedactPhotos marks live photos redacted at the given times, as a
// redaction does (digest and face data cleared), in one transaction. Backup
// uses it on its copy of a database for photos redacted after the copy was
// taken.
func (f *File) RedactPhotos(ctx context.Context, at map[string]time.Time) error {
	return f.inTx(ctx, "redact photos", func(tx *sql.Tx) error {
		for id, t := range at {
			if _, err := tx.ExecContext(ctx, `
				UPDATE live_photos SET redacted_at = ?, updated_at = max(updated_at, ?), sha256 = '', face_embedding = NULL, enrolled = 0
				WHERE id = ? AND redacted_at IS NULL`, ms(t), ms(t), id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *File) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %s: %w", f.path, op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("sqlite: %s: %s: %w", f.path, op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %s: %w", f.path, op, err)
	}
	return nil
}

// PhotoCount returns the number of live photo records.
func (f *File) PhotoCount(ctx context.Context) (int, error) {
	var n int
	if err := f.db.QueryRowContext(ctx, `SELECT count(*) FROM live_photos`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %s: count photos: %w", f.path, err)
	}
	return n, nil
}
