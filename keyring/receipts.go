package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// The receipt key: an Ed25519 key of the deployment, made with the key
// store, kept in it wrapped by the master key like the client keys. Its id
// is the first 8 bytes, in hex, of the SHA-256 of its public key.

// signer is the receipt key in memory.
type signer struct {
	id   string
	priv ed25519.PrivateKey
}

// loadSigner reads the receipt key, making it first if the store has none
// (of nodes racing to make it, one wins and all use its key).
func (k *Keyring) loadSigner(ctx context.Context) error {
	row, err := k.db.signerRow(ctx)
	if errors.Is(err, errNoKey) {
		pub, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return fmt.Errorf("keyring: make receipt key: %w", gerr)
		}
		m := k.current()
		wrapped, werr := m.Wrap(ctx, priv.Seed(), []byte("receipt signing key"))
		if werr != nil {
			return fmt.Errorf("keyring: wrap receipt key: %w", werr)
		}
		if err := k.db.addSigner(ctx, signerID(pub), m.ID(), wrapped, pub, k.Now()); err != nil {
			return err
		}
		row, err = k.db.signerRow(ctx)
	}
	if err != nil {
		return err
	}
	m := k.master(row.masterID)
	if m == nil {
		m = k.reloadFor(ctx, row.masterID)
	}
	if m == nil {
		return fmt.Errorf("keyring: the receipt key is %w (id %s)", errUnknownMaster, row.masterID)
	}
	seed, err := m.Unwrap(ctx, row.wrapped, []byte("receipt signing key"))
	if err != nil {
		return fmt.Errorf("keyring: unwrap receipt key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(row.public)) {
		return errors.New("keyring: the receipt key does not match its public key")
	}
	k.signer = &signer{id: row.id, priv: priv}
	return nil
}

func signerID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// ReceiptKey returns the id and the public half of the receipt key.
func (k *Keyring) ReceiptKey() (string, ed25519.PublicKey) {
	return k.signer.id, k.signer.priv.Public().(ed25519.PublicKey)
}

// keyID names a stored (wrapped) key in receipts.
func keyID(wrapped []byte) string {
	h := sha256.Sum256(wrapped)
	return hex.EncodeToString(h[:16])
}

// destroyedPhoto is a photo key row read just before its destruction.
type destroyedPhoto struct {
	photoID, clientID, accountID, mode, sha256 string
	wrapped                                    []byte
	clientKeyed                                bool // its client's key still exists
}

// receiptRow is a receipt as stored.
type receiptRow struct {
	r                *facevault.DeletionReceipt
	accountID, mode  string
	refs             []string // every resource id the receipt names
	resourceClientID string
}

// newReceipt signs a receipt for keys destroyed at now.
func (k *Keyring) newReceipt(why facevault.Destruction, accountID, mode, resourceType, resourceID, clientID string,
	destroyed []facevault.DestroyedKey, now time.Time) (*receiptRow, error) {
	p := facevault.ReceiptPayload{
		ReceiptID:    facevault.NewID(now),
		Action:       why,
		AccountID:    accountID,
		Mode:         facevault.Mode(mode),
		ResourceType: resourceType,
		ResourceID:   resourceID,
		ClientID:     clientID,
		DestroyedAt:  now.UTC().Format("2006-01-02T15:04:05.000Z"),
		Destroyed:    destroyed,
		SigningKeyID: k.signer.id,
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("keyring: encode receipt: %w", err)
	}
	r := &facevault.DeletionReceipt{
		ID: p.ReceiptID, Action: why, ResourceType: resourceType, ResourceID: resourceID, CreatedAt: now,
		SigningKeyID: k.signer.id, Payload: payload, Signature: ed25519.Sign(k.signer.priv, payload),
	}
	refs := []string{resourceID}
	for _, d := range destroyed {
		if d.ResourceID != resourceID {
			refs = append(refs, d.ResourceID)
		}
	}
	return &receiptRow{r: r, accountID: accountID, mode: mode, refs: refs}, nil
}

// DestroyPhotoKeys destroys the data keys of photos, and records a signed
// deletion receipt for each, saying why, in the same transaction: a key is
// never destroyed without its receipt, nor a receipt written for a key
// that stays. Keys already gone are not an error and get no receipt; with
// why NoReceipt, none does. It returns how many keys it destroyed.
func (k *Keyring) DestroyPhotoKeys(ctx context.Context, photoIDs []string, why facevault.Destruction) (int, error) {
	if len(photoIDs) == 0 {
		return 0, nil
	}
	n := 0
	err := k.db.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for batch := range slices.Chunk(photoIDs, 500) {
			rows, err := k.db.takePhotoKeys(ctx, tx, "photo_id", batch)
			if err != nil {
				return err
			}
			n += len(rows)
			if why == facevault.NoReceipt {
				if _, err := k.db.takePending(ctx, tx, batch); err != nil {
					return err
				}
				continue
			}
			pending, err := k.db.takePending(ctx, tx, batch)
			if err != nil {
				return err
			}
			now := k.Now()
			for _, r := range rows {
				action := why
				switch a, ok := pending[r.photoID]; {
				case !r.clientKeyed:
					// Useless since its client's key was destroyed: the
					// purge removes it with the photo's record.
					action = facevault.DestroyClientDeleted
				case ok && why == facevault.DestroyPurged:
					action = a // what the deletion that queued it said
				}
				rec, err := k.newReceipt(action, r.accountID, r.mode, "livePhoto", r.photoID, r.clientID,
					[]facevault.DestroyedKey{{ResourceType: "livePhoto", ResourceID: r.photoID, SHA256: r.sha256, KeyID: keyID(r.wrapped)}}, now)
				if err != nil {
					return err
				}
				if err := k.db.addReceipt(ctx, tx, rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, k.db.scrub(ctx, n)
}

// DestroyClientKeys destroys the keys of clients, which makes every data
// key of their photos useless from that instant, with one signed receipt
// per client in the same transaction. The rows of the photos' keys are
// removed later, with the photos' records (DestroyPhotoKeys), each with a
// receipt of its own saying client.deleted. Keys already gone are not an
// error. It returns how many client keys it destroyed.
func (k *Keyring) DestroyClientKeys(ctx context.Context, clientIDs []string, why facevault.Destruction) (int, error) {
	if len(clientIDs) == 0 {
		return 0, nil
	}
	n := 0
	err := k.db.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, clientID := range clientIDs {
			client, err := k.db.takeClientKey(ctx, tx, clientID)
			if errors.Is(err, errNoKey) {
				continue
			}
			if err != nil {
				return err
			}
			n++
			if why == facevault.NoReceipt {
				continue
			}
			// The photos' keys are useless from now on; their rows go with
			// the photos' records, in the purge's bounded batches, each
			// with a receipt of its own, so that a client of any size is
			// destroyed in one short transaction.
			destroyed := []facevault.DestroyedKey{{ResourceType: "client", ResourceID: clientID, KeyID: keyID(client.wrapped)}}
			rec, err := k.newReceipt(why, client.accountID, client.mode, "client", clientID, clientID, destroyed, k.Now())
			if err != nil {
				return err
			}
			if err := k.db.addReceipt(ctx, tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, k.db.scrub(ctx, n)
}

// Receipts lists the deletion receipts of the scope that name resourceID
// (the photo or client destroyed, or a photo destroyed with its client),
// newest first, one page of them, and their total.
func (k *Keyring) Receipts(ctx context.Context, s facevault.Scope, resourceID string, p facevault.Page) ([]*facevault.DeletionReceipt, int, error) {
	return k.db.receipts(ctx, s, resourceID, p)
}

// inTx runs fn in a transaction, and once more on fresh connections if it
// failed on its connection (see exec): fn must be safe to run again.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.retry(ctx, func() error {
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("key store: begin: %w", err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("key store: commit: %w", err)
		}
		return nil
	})
}

// scrub, after keys were destroyed on SQLite, moves the pages that held
// them out of the write-ahead log and truncates it, so that no old copy
// stays there (secure_delete has overwritten them in the database file).
func (db *DB) scrub(ctx context.Context, destroyed int) error {
	if db.dialect != sqliteDialect || destroyed == 0 {
		return nil
	}
	if _, err := db.exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("key store: checkpoint after destroying keys: %w", err)
	}
	return nil
}

func placeholders(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

// takePhotoKeys reads and deletes the photo keys whose column (photo_id or
// client_id) is one of ids.
func (db *DB) takePhotoKeys(ctx context.Context, tx *sql.Tx, column string, ids []string) ([]destroyedPhoto, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// Deleted and read in one statement: of two transactions destroying
	// the same key at once (a deletion's own purge and the background
	// one), only the one whose DELETE takes the row sees it, and writes
	// its receipt; the other waits for it and finds nothing.
	rows, err := tx.QueryContext(ctx, db.q(`DELETE FROM keyring_photos WHERE `+column+` IN `+placeholders(len(ids))+`
		RETURNING photo_id, client_id, account_id, mode, sha256, wrapped`), args...)
	if err != nil {
		return nil, fmt.Errorf("key store: destroy photo keys: %w", err)
	}
	var out []destroyedPhoto
	for rows.Next() {
		var d destroyedPhoto
		if err := rows.Scan(&d.photoID, &d.clientID, &d.accountID, &d.mode, &d.sha256, &d.wrapped); err != nil {
			rows.Close()
			return nil, fmt.Errorf("key store: destroy photo keys: %w", err)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("key store: destroy photo keys: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// Which of their clients still have a key.
	clients := map[string]bool{}
	var cargs []any
	for _, d := range out {
		if !clients[d.clientID] {
			clients[d.clientID] = false
			cargs = append(cargs, d.clientID)
		}
	}
	crows, err := tx.QueryContext(ctx, db.q(`SELECT client_id FROM keyring_clients WHERE client_id IN `+placeholders(len(cargs))), cargs...)
	if err != nil {
		return nil, fmt.Errorf("key store: destroy photo keys: clients: %w", err)
	}
	for crows.Next() {
		var id string
		if err := crows.Scan(&id); err != nil {
			crows.Close()
			return nil, fmt.Errorf("key store: destroy photo keys: clients: %w", err)
		}
		clients[id] = true
	}
	crows.Close()
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("key store: destroy photo keys: clients: %w", err)
	}
	for i := range out {
		out[i].clientKeyed = clients[out[i].clientID]
	}
	return out, nil
}

// destroyedClient is a client key row read just before its destruction.
type destroyedClient struct {
	accountID, mode string
	wrapped         []byte
}

func (db *DB) takeClientKey(ctx context.Context, tx *sql.Tx, clientID string) (*destroyedClient, error) {
	var d destroyedClient
	err := tx.QueryRowContext(ctx, db.q(`SELECT account_id, mode, wrapped FROM keyring_clients WHERE client_id = ?`), clientID).
		Scan(&d.accountID, &d.mode, &d.wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("key store: destroy client key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM keyring_clients WHERE client_id = ?`), clientID); err != nil {
		return nil, fmt.Errorf("key store: destroy client key: %w", err)
	}
	return &d, nil
}

func (db *DB) addReceipt(ctx context.Context, tx *sql.Tx, rec *receiptRow) error {
	r := rec.r
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO keyring_receipts
		(id, account_id, mode, action, resource_type, resource_id, payload, signature, signer_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, rec.accountID, rec.mode, string(r.Action), r.ResourceType, r.ResourceID, string(r.Payload), r.Signature,
		r.SigningKeyID, r.CreatedAt.UnixMilli()); err != nil {
		return fmt.Errorf("key store: record receipt: %w", err)
	}
	// Many rows a statement: a client's receipt names every photo.
	for refs := range slices.Chunk(rec.refs, 200) {
		args := make([]any, 0, 5*len(refs))
		for _, ref := range refs {
			args = append(args, rec.accountID, rec.mode, ref, r.ID, r.CreatedAt.UnixMilli())
		}
		values := strings.Repeat("(?, ?, ?, ?, ?), ", len(refs))
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO keyring_receipt_refs (account_id, mode, resource_id, receipt_id, created_at)
			VALUES `+values[:len(values)-2]+` ON CONFLICT DO NOTHING`), args...); err != nil {
			return fmt.Errorf("key store: record receipt: %w", err)
		}
	}
	return nil
}

func (db *DB) receipts(ctx context.Context, s facevault.Scope, resourceID string, p facevault.Page) ([]*facevault.DeletionReceipt, int, error) {
	var total int
	if err := db.queryRow(ctx, db.q(`SELECT count(*) FROM keyring_receipt_refs WHERE account_id = ? AND mode = ? AND resource_id = ?`),
		s.AccountID, string(s.Mode), resourceID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("key store: count receipts: %w", err)
	}
	size := p.PageSize
	if size < 1 {
		size = facevault.DefaultPageSize
	}
	page := max(p.Page, 1)
	rows, err := db.query(ctx, db.q(`SELECT r.id, r.action, r.resource_type, r.resource_id, r.payload, r.signature, r.signer_id, r.created_at
		FROM keyring_receipt_refs f JOIN keyring_receipts r ON r.id = f.receipt_id
		WHERE f.account_id = ? AND f.mode = ? AND f.resource_id = ?
		ORDER BY f.created_at DESC, f.receipt_id DESC LIMIT ? OFFSET ?`),
		s.AccountID, string(s.Mode), resourceID, size, (page-1)*size)
	if err != nil {
		return nil, 0, fmt.Errorf("key store: list receipts: %w", err)
	}
	defer rows.Close()
	out := []*facevault.DeletionReceipt{}
	for rows.Next() {
		r := &facevault.DeletionReceipt{}
		var payload, action string
		var created int64
		if err := rows.Scan(&r.ID, &action, &r.ResourceType, &r.ResourceID, &payload, &r.Signature, &r.SigningKeyID, &created); err != nil {
			return nil, 0, fmt.Errorf("key store: list receipts: %w", err)
		}
		r.Action = facevault.Destruction(action)
		r.Payload = []byte(payload)
		r.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// signerRowData is the receipt key as stored.
type signerRowData struct {
	id, masterID    string
	wrapped, public []byte
}

func (db *DB) signerRow(ctx context.Context) (*signerRowData, error) {
	var r signerRowData
	err := db.queryRow(ctx, `SELECT id, master_id, wrapped, public FROM keyring_signer WHERE one = 1`).Scan(&r.id, &r.masterID, &r.wrapped, &r.public)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("key store: read receipt key: %w", err)
	}
	return &r, nil
}

func (db *DB) addSigner(ctx context.Context, id, masterID string, wrapped, public []byte, now time.Time) error {
	if _, err := db.exec(ctx, db.q(`INSERT INTO keyring_signer (one, id, master_id, wrapped, public, created_at) VALUES (1, ?, ?, ?, ?, ?)
		ON CONFLICT (one) DO NOTHING`), id, masterID, wrapped, public, now.UnixMilli()); err != nil {
		return fmt.Errorf("key store: record receipt key: %w", err)
	}
	return nil
}

// rewrapSigner rewraps the receipt key with master m, if another master
// wraps it.
func (db *DB) rewrapSigner(ctx context.Context, old string, m Master, seed []byte) (bool, error) {
	wrapped, err := m.Wrap(ctx, seed, []byte("receipt signing key"))
	if err != nil {
		return false, fmt.Errorf("keyring: rewrap receipt key: %w", err)
	}
	res, err := db.exec(ctx, db.q(`UPDATE keyring_signer SET master_id = ?, wrapped = ? WHERE one = 1 AND master_id = ?`), m.ID(), wrapped, old)
	if err != nil {
		return false, fmt.Errorf("key store: rewrap receipt key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// NoteDestruction records why a photo's key is about to be destroyed,
// before the record change that queues its destruction commits: whichever
// destroys the key then (the request itself, or the background purge if
// the request could not) writes the receipt with this action.
func (k *Keyring) NoteDestruction(ctx context.Context, photoID string, why facevault.Destruction) error {
	if _, err := k.db.exec(ctx, k.db.q(`INSERT INTO keyring_pending (photo_id, action, created_at) VALUES (?, ?, ?)
		ON CONFLICT (photo_id) DO UPDATE SET action = excluded.action, created_at = excluded.created_at`),
		photoID, string(why), k.Now().UnixMilli()); err != nil {
		return fmt.Errorf("key store: note destruction: %w", err)
	}
	return nil
}

// takePending reads and deletes the noted destructions of ids.
func (db *DB) takePending(ctx context.Context, tx *sql.Tx, ids []string) (map[string]facevault.Destruction, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT photo_id, action FROM keyring_pending WHERE photo_id IN `+placeholders(len(ids))), args...)
	if err != nil {
		return nil, fmt.Errorf("key store: read noted destructions: %w", err)
	}
	out := map[string]facevault.Destruction{}
	for rows.Next() {
		var id, action string
		if err := rows.Scan(&id, &action); err != nil {
			rows.Close()
			return nil, fmt.Errorf("key store: read noted destructions: %w", err)
		}
		out[id] = facevault.Destruction(action)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("key store: read noted destructions: %w", err)
	}
	if len(out) > 0 {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM keyring_pending WHERE photo_id IN `+placeholders(len(ids))), args...); err != nil {
			return nil, fmt.Errorf("key store: clear noted destructions: %w", err)
		}
	}
	return out, nil
}
