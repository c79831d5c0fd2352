// Package keyring keeps the keys that FaceVault's images are encrypted
// with at rest, in three layers:
//
//   - a data key per photo, random, that seals the photo's image bytes (see
//     package seal) and nothing else;
//   - a key per client, random, that wraps the data keys of the client's
//     photos;
//   - a master key, supplied by the operator (a key file, an environment
//     variable, or a key management service through the Master interface),
//     that wraps the client keys.
//
// A fourth kind, face index keys (one per account, mode and epoch, wrapped
// by the master key like client keys), seals the face search index: see
// NewFaceIndexKey.
//
// Data keys and client keys live in a key store (DB) kept apart from the
// record store and the image store. Destroying a photo's data key, or a
// client's key, makes every copy of the sealed bytes anywhere (a backup, a
// snapshot, an old S3 version, a spare SSD block) impossible to decrypt:
// this is crypto-shredding. Rotating the master key rewraps the client keys
// and touches no image.
package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/seal"
)

// checkPlain is what a master key's check value wraps.
var checkPlain = []byte("facevault master key check")

// Keyring wraps, stores, finds and destroys keys. It is safe for
// concurrent use.
type Keyring struct {
	db *DB
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// Reload, if set, reads the master keys again (from their key file):
	// the keyring calls it when it meets a client key wrapped by a master
	// it does not have, which is how a running node learns of a rotation.
	Reload func() ([]Master, error)
	// ReloadEvery, when positive, also calls Reload before wrapping a new
	// client key if that long has passed since the last reload, so that a
	// running node starts wrapping with a new current master soon after
	// a rotation.
	ReloadEvery time.Duration

	mu         sync.RWMutex
	masters    []Master // the first wraps; each unwraps what it wrapped
	lastReload time.Time
	signer     *signer // the receipt key
}

// MismatchError is a master key that is not the one a key store's keys
// are wrapped by.
type MismatchError struct {
	Store      string   // the key store
	Configured []string // ids of the master keys configured
	Known      []string // ids of the master keys the store knows
	Missing    []string // ids wrapping client keys that are not configured
}

func (e *MismatchError) Error() string {
	if len(e.Missing) > 0 {
		return fmt.Sprintf("key store %s has client keys wrapped by master key %s, which is not configured (configured: %s); "+
			"give FaceVault the master key file it was set up with: nothing was changed",
			e.Store, strings.Join(e.Missing, ", "), strings.Join(e.Configured, ", "))
	}
	return fmt.Sprintf("the master key configured (id %s) is not the key store %s's (it knows %s): "+
		"give FaceVault the master key file it was set up with: nothing was changed",
		strings.Join(e.Configured, ", "), e.Store, strings.Join(e.Known, ", "))
}

// New returns the keyring of db under masters, the current master key
// first. It checks that the masters are the store's: on a store that has
// never been used it records a check value for the current master; on one
// that has, it refuses (a *MismatchError, nothing changed) unless at least
// one configured master is known to the store and every client key is
// wrapped by a configured master.
func New(ctx context.Context, db *DB, masters []Master) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("keyring: no master key")
	}
	k := &Keyring{db: db, masters: masters, Now: func() time.Time { return time.Now().UTC() }}
	known, err := db.masters(ctx)
	if err != nil {
		return nil, err
	}
	use, err := db.masterUse(ctx)
	if err != nil {
		return nil, err
	}
	configured := make([]string, len(masters))
	for i, m := range masters {
		configured[i] = m.ID()
	}
	mismatch := &MismatchError{Store: db.String(), Configured: configured}
	for _, c := range known {
		mismatch.Known = append(mismatch.Known, c.ID)
	}
	recognised := false
	for _, c := range known {
		m := k.master(c.ID)
		if m == nil {
			continue
		}
		got, err := m.Unwrap(ctx, c.Check, []byte("check"))
		if err != nil || !bytes.Equal(got, checkPlain) {
			return nil, fmt.Errorf("keyring: master key %s fails its check value in key store %s: %v", c.ID, db, err)
		}
		recognised = true
	}
	if len(known) > 0 && !recognised {
		return nil, mismatch
	}
	for id := range use {
		if k.master(id) == nil {
			mismatch.Missing = append(mismatch.Missing, id)
		}
	}
	if len(mismatch.Missing) > 0 {
		slices.Sort(mismatch.Missing)
		return nil, mismatch
	}
	if err := k.recordCheck(ctx, masters[0]); err != nil {
		return nil, err
	}
	if err := k.loadSigner(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// recordCheck records m's check value in the store, if not there yet.
func (k *Keyring) recordCheck(ctx context.Context, m Master) error {
	check, err := m.Wrap(ctx, checkPlain, []byte("check"))
	if err != nil {
		return fmt.Errorf("keyring: wrap check value: %w", err)
	}
	return k.db.addMaster(ctx, m.ID(), check, k.Now())
}

func (k *Keyring) master(id string) Master {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, m := range k.masters {
		if m.ID() == id {
			return m
		}
	}
	return nil
}

// current is the master that wraps new client keys.
func (k *Keyring) current() Master {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.masters[0]
}

// refresh reloads the masters if ReloadEvery has passed since the last
// reload. A failed reload keeps the masters as they are.
func (k *Keyring) refresh(ctx context.Context) {
	if k.Reload == nil || k.ReloadEvery <= 0 {
		return
	}
	now := time.Now()
	k.mu.Lock()
	if now.Sub(k.lastReload) < k.ReloadEvery {
		k.mu.Unlock()
		return
	}
	k.lastReload = now
	k.mu.Unlock()
	masters, err := k.Reload()
	if err != nil || len(masters) == 0 {
		return
	}
	if err := k.recordCheck(ctx, masters[0]); err != nil {
		return
	}
	k.mu.Lock()
	k.masters = masters
	k.mu.Unlock()
}

// reloadFor reloads the masters, if the keyring can, to find id; it
// returns the master with that id, or nil.
func (k *Keyring) reloadFor(ctx context.Context, id string) Master {
	if k.Reload == nil {
		return nil
	}
	masters, err := k.Reload()
	if err != nil || len(masters) == 0 {
		return nil
	}
	var found Master
	for _, m := range masters {
		if m.ID() == id {
			found = m
		}
	}
	if found == nil {
		return nil
	}
	if err := k.recordCheck(ctx, masters[0]); err != nil {
		return nil
	}
	k.mu.Lock()
	k.masters = masters
	k.mu.Unlock()
	return found
}

// CurrentMaster is the id of the master key that wraps new client keys.
func (k *Keyring) CurrentMaster() string { return k.current().ID() }

func clientAAD(clientID string) []byte { return []byte("client:" + clientID) }
func photoAAD(photoID string) []byte   { return []byte("photo:" + photoID) }

// clientKey returns the client's key, creating it if the client has none.
func (k *Keyring) clientKey(ctx context.Context, sc facevault.Scope, clientID string) ([]byte, error) {
	w, err := k.db.clientKey(ctx, clientID)
	if errors.Is(err, errNoKey) {
		k.refresh(ctx)
		key, nerr := seal.NewDataKey()
		if nerr != nil {
			return nil, nerr
		}
		m := k.current()
		wrapped, werr := m.Wrap(ctx, key, clientAAD(clientID))
		if werr != nil {
			return nil, fmt.Errorf("keyring: wrap client key: %w", werr)
		}
		w, err = k.db.addClientKey(ctx, &wrappedKey{ClientID: clientID, MasterID: m.ID(), Wrapped: wrapped}, sc, k.Now())
	}
	if err != nil {
		return nil, err
	}
	return k.unwrapClient(ctx, w)
}

func (k *Keyring) unwrapClient(ctx context.Context, w *wrappedKey) ([]byte, error) {
	m := k.master(w.MasterID)
	if m == nil {
		m = k.reloadFor(ctx, w.MasterID)
	}
	if m == nil {
		return nil, fmt.Errorf("keyring: key of client %s is %w (id %s)", w.ClientID, errUnknownMaster, w.MasterID)
	}
	key, err := m.Unwrap(ctx, w.Wrapped, clientAAD(w.ClientID))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap key of client %s: %w", w.ClientID, err)
	}
	return key, nil
}

// AddPhotoKey records dataKey as the key of the photo ref names, wrapped
// by its client's key (made now if the client has none), with what a
// deletion receipt will quote of it.
func (k *Keyring) AddPhotoKey(ctx context.Context, ref facevault.PhotoRef, dataKey []byte) error {
	ck, err := k.clientKey(ctx, ref.Scope, ref.ClientID)
	if err != nil {
		return err
	}
	defer clear(ck)
	wrapped, err := seal.SealMessage(ck, "facevault photo key", dataKey, photoAAD(ref.PhotoID))
	if err != nil {
		return fmt.Errorf("keyring: wrap photo key: %w", err)
	}
	return k.db.addPhotoKey(ctx, ref, wrapped, k.Now())
}

// PhotoKey returns the data key of photoID, or an error wrapping
// facevault.ErrNotFound if it, or its client's key, was destroyed (or never
// existed).
func (k *Keyring) PhotoKey(ctx context.Context, photoID string) ([]byte, error) {
	wrapped, cw, err := k.db.photoKey(ctx, photoID)
	if errors.Is(err, errNoKey) {
		return nil, fmt.Errorf("keyring: key of photo %s: %w", photoID, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	ck, err := k.unwrapClient(ctx, cw)
	if err != nil {
		return nil, err
	}
	key, err := seal.OpenMessage(ck, "facevault photo key", wrapped, photoAAD(photoID))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap key of photo %s: %w", photoID, err)
	}
	return key, nil
}

// HasPhotoKeys returns which of photoIDs have a data key.
func (k *Keyring) HasPhotoKeys(ctx context.Context, photoIDs []string) (map[string]bool, error) {
	return k.db.photoKeysOf(ctx, photoIDs)
}

// ReplacePhotoKey records dataKey as the key of photoID in place of any key
// it has: for an image stored before encryption at rest, whose earlier
// attempt at sealing died between its key and its bytes.
func (k *Keyring) ReplacePhotoKey(ctx context.Context, ref facevault.PhotoRef, dataKey []byte) error {
	if _, err := k.DestroyPhotoKeys(ctx, []string{ref.PhotoID}, facevault.NoReceipt); err != nil {
		return err
	}
	return k.AddPhotoKey(ctx, ref, dataKey)
}

// PhotoKeys returns the data keys of those of photoIDs that have one (and
// whose client's key is not destroyed), with one query per 500 photos.
func (k *Keyring) PhotoKeys(ctx context.Context, photoIDs []string) (map[string][]byte, error) {
	rows, err := k.db.photoKeys(ctx, photoIDs)
	if err != nil {
		return nil, err
	}
	clients := map[string][]byte{}
	keys := make(map[string][]byte, len(rows))
	for _, r := range rows {
		ck, ok := clients[r.client.ClientID]
		if !ok {
			if ck, err = k.unwrapClient(ctx, r.client); err != nil {
				return nil, err
			}
			clients[r.client.ClientID] = ck
		}
		key, err := seal.OpenMessage(ck, "facevault photo key", r.wrapped, photoAAD(r.photoID))
		if err != nil {
			return nil, fmt.Errorf("keyring: unwrap key of photo %s: %w", r.photoID, err)
		}
		keys[r.photoID] = key
	}
	for _, ck := range clients {
		clear(ck)
	}
	return keys, nil
}

// PhotoKeyIDs lists up to n ids of photos whose keys were made before the
// given time, in id order after the given id: the orphan sweep compares
// them with the records.
func (k *Keyring) PhotoKeyIDs(ctx context.Context, before time.Time, after string, n int) ([]string, error) {
	return k.db.photoKeyIDs(ctx, before, after, n)
}

// ClientKeyIDs lists up to n ids of clients with keys, in id order after
// the given id.
func (k *Keyring) ClientKeyIDs(ctx context.Context, after string, n int) ([]string, error) {
	return k.db.clientKeyIDs(ctx, after, n)
}

// RotateResult counts what Rotate did.
type RotateResult struct {
	Rewrapped int // client and face index keys rewrapped by the current master
	Remaining int // keys still wrapped by another master
}

// Rotate rewraps every client key and face index key not wrapped by the
// current master key with it, in batches, while the service runs: a client key is replaced
// only if it is still the one read (a compare-and-swap), so that a key
// destroyed meanwhile stays destroyed. Data keys and images are not
// touched. Keys still wrapped by an older master afterwards (Remaining) were
// made by a node that did not have the new master yet; run Rotate again.
func (k *Keyring) Rotate(ctx context.Context) (RotateResult, error) {
	var res RotateResult
	k.mu.RLock()
	masters := k.masters
	k.mu.RUnlock()
	cur := masters[0]
	for _, old := range masters[1:] {
		after := ""
		for {
			batch, err := k.db.clientKeysOf(ctx, old.ID(), after, 200)
			if err != nil {
				return res, err
			}
			if len(batch) == 0 {
				break
			}
			for _, w := range batch {
				after = w.ClientID
				key, err := k.unwrapClient(ctx, w)
				if err != nil {
					return res, err
				}
				wrapped, err := cur.Wrap(ctx, key, clientAAD(w.ClientID))
				if err != nil {
					return res, fmt.Errorf("keyring: rewrap key of client %s: %w", w.ClientID, err)
				}
				ok, err := k.db.replaceClientKey(ctx, old.ID(), &wrappedKey{ClientID: w.ClientID, MasterID: cur.ID(), Wrapped: wrapped})
				if err != nil {
					return res, err
				}
				if ok {
					res.Rewrapped++
				}
			}
		}
		n, err := k.rotateFaceIndexKeys(ctx, old, cur)
		res.Rewrapped += n
		if err != nil {
			return res, err
		}
	}
	if row, err := k.db.signerRow(ctx); err == nil && row.masterID != cur.ID() {
		if _, err := k.db.rewrapSigner(ctx, row.masterID, cur, k.signer.priv.Seed()); err != nil {
			return res, err
		}
	} else if err != nil {
		return res, err
	}
	use, err := k.db.masterUse(ctx)
	if err != nil {
		return res, err
	}
	for id, n := range use {
		if id != cur.ID() {
			res.Remaining += n
		}
	}
	return res, nil
}

// Retire forgets a master key's check value once no client key is wrapped
// by it, so that the key can be removed from the key file. It refuses while
// keys still use it, and refuses the current master.
func (k *Keyring) Retire(ctx context.Context, id string) error {
	if id == k.CurrentMaster() {
		return fmt.Errorf("keyring: master key %s is the current one: rotate to a new key first", id)
	}
	use, err := k.db.masterUse(ctx)
	if err != nil {
		return err
	}
	if n := use[id]; n > 0 {
		return fmt.Errorf("keyring: %d client keys are still wrapped by master key %s: run facevault keys rotate-master first", n, id)
	}
	return k.db.removeMaster(ctx, id)
}

// Ping reports whether the key store answers.
func (k *Keyring) Ping(ctx context.Context) error { return k.db.Ping(ctx) }
