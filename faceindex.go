package facevault

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facevault/facevault/seal"
)

// The face search index (docs/contract.md sections 8 and 9).
//
// A face check compares its photo's face with every enrolled face of its
// scope. Opening each enrolled embedding with its own photo key costs a key
// store read per face, which does not scale; the index keeps a second copy
// of each enrolled embedding, sealed under a key of the scope's (its face
// index key, one per epoch, in the key store), in an inverted-file layout:
// each row is in the cell of the centroid nearest to it, and a search reads
// only the cells nearest to the probe.
//
// Crypto-shredding is kept: a row is deleted in the same transaction as
// whatever ends its face's enrolment, and every epoch's key is destroyed
// at the next rekey (FaceIndexConfig.Rekey), once its rows are moved to
// the next epoch: from then on a deleted face's copy in a record-store
// backup is as unreadable as its image.

// FaceIndexRow is a row of the face search index: an enrolled face's
// embedding sealed under its scope's face index key of Epoch, in the
// inverted-file list Cell of that epoch's partition (0 if it has none).
type FaceIndexRow struct {
	PhotoID, ClientID string
	Epoch             int64
	Cell              int
	Vec               []byte
}

// FaceIndexEpoch is an epoch of a scope's face index: its key is in the key
// store; Centroids is its partition (Cells centroids) sealed under that key,
// nil if it has none (every row is then in cell 0). Size is the number of
// indexed faces it was made for.
type FaceIndexEpoch struct {
	Epoch     int64
	Cells     int
	Centroids []byte
	Size      int
	CreatedAt time.Time
}

// UnindexedFace is an enrolled face with an embedding and no index row.
type UnindexedFace struct {
	Scope           Scope
	PhotoID         string
	ClientID        string
	SealedEmbedding []byte
}

// FaceIndexScope is a scope with a face index and its number of rows.
type FaceIndexScope struct {
	Scope Scope
	Rows  int
}

// FaceIndexStore keeps the face search index in the record store.
type FaceIndexStore interface {
	// FaceIndexEpochs returns the epochs of s, oldest first: the last is
	// the current one. None if s has no index yet.
	FaceIndexEpochs(ctx context.Context, s Scope) ([]*FaceIndexEpoch, error)
	// AddFaceIndexEpoch records e as the new current epoch of s. It fails
	// with ErrConflict unless e.Epoch is one more than the current epoch
	// (or 1 for a scope without one).
	AddFaceIndexEpoch(ctx context.Context, s Scope, e *FaceIndexEpoch) error
	// RemoveFaceIndexEpochs removes the epochs of s before the given one
	// that no row uses any more, and reports whether none before it
	// remains.
	RemoveFaceIndexEpochs(ctx context.Context, s Scope, before int64) (bool, error)
	// UnindexedFaces returns up to n enrolled faces with an embedding and
	// no index row, of clients that are not deleted, in any scope, in
	// photo id order after the given id.
	UnindexedFaces(ctx context.Context, after string, n int) ([]*UnindexedFace, error)
	// ScopeUnindexedFaces returns every such face of s.
	ScopeUnindexedFaces(ctx context.Context, s Scope) ([]*UnindexedFace, error)
	// AddFaceIndexRows inserts rows into the index of s under epoch and
	// marks their photos indexed, in one transaction, each only if its
	// photo is still enrolled with an embedding, not redacted, of a
	// client that is not deleted, and epoch is the current epoch of s;
	// it returns how many it inserted. A photo indexed already is left
	// as it is.
	AddFaceIndexRows(ctx context.Context, s Scope, epoch int64, rows []FaceIndexRow) (int, error)
	// FaceIndexRows returns the rows of s of epoch in cells, or in every
	// cell if cells is nil.
	FaceIndexRows(ctx context.Context, s Scope, epoch int64, cells []int) ([]FaceIndexRow, error)
	// FaceIndexRowsBefore returns up to n rows of s of an epoch before the
	// given one, in photo id order after the given id.
	FaceIndexRowsBefore(ctx context.Context, s Scope, before int64, after string, n int) ([]FaceIndexRow, error)
	// MoveFaceIndexRows replaces rows of s, re-sealed under epoch to: each
	// row's Epoch is the one it had when read, and it is replaced only if
	// it still has it (a row deleted meanwhile stays deleted). It returns
	// how many it replaced.
	MoveFaceIndexRows(ctx context.Context, s Scope, to int64, rows []FaceIndexRow) (int, error)
	// FaceIndexScopes lists the scopes that have index epochs, with their
	// number of rows.
	FaceIndexScopes(ctx context.Context) ([]FaceIndexScope, error)
	// EnrolledFaceIDs returns the ids of the enrolled photos with an
	// embedding of client clientID of s, in id order.
	EnrolledFaceIDs(ctx context.Context, s Scope, clientID string) ([]string, error)
}

// ErrConflict is a store change that lost a race: the state it expected
// changed meanwhile.
var ErrConflict = errors.New("conflict")

// FaceIndexKeys keeps the face index keys (package keyring implements it).
type FaceIndexKeys interface {
	// NewFaceIndexKey returns the key of s for epoch, making it if there
	// is none.
	NewFaceIndexKey(ctx context.Context, s Scope, epoch int64) ([]byte, error)
	// FaceIndexKey returns the key of s for epoch, or an error wrapping
	// ErrNotFound if it was destroyed or never made.
	FaceIndexKey(ctx context.Context, s Scope, epoch int64) ([]byte, error)
	// DestroyFaceIndexKeys destroys the keys of s of every epoch before
	// the given one.
	DestroyFaceIndexKeys(ctx context.Context, s Scope, before int64) (int, error)
}

// FaceIndexConfig tunes the face search index. The zero value is an exact
// search of every indexed face.
type FaceIndexConfig struct {
	// NProbe is how many cells of an epoch's partition a search reads,
	// those whose centroids are nearest to the probe; 0 reads all of them
	// (an exact search).
	NProbe int
	// Cells is the number of cells a partition has; 0 makes it the square
	// root of the number of faces indexed.
	Cells int
	// MinFaces is the number of indexed faces from which a scope gets a
	// partition; below, a search reads all of its rows. 0 means
	// DefaultFaceIndexMinFaces.
	MinFaces int
	// Rekey is the longest an epoch stays current: older, the scope's
	// rows are moved to a new epoch under a new key and the old key is
	// destroyed. It bounds how long a deleted face's copy in a record-store
	// backup stays readable. 0 means DefaultFaceIndexRekey.
	Rekey time.Duration
	// Batch is how many rows the indexer and the rekey handle per
	// transaction; 0 means 1000.
	Batch int
	// PageCache is how many bytes of opened face index pages a node keeps
	// (on a store with packed pages); 0 means DefaultFacePageCache, less
	// than 0 none.
	PageCache int64
}

// Face index defaults.
const (
	DefaultFaceIndexMinFaces = 5000
	DefaultFaceIndexRekey    = 24 * time.Hour
	// DefaultFaceIndexLease is how long the node that maintains the face
	// index holds its lease between renewals.
	DefaultFaceIndexLease = 2 * time.Minute
	// DefaultPostgresNProbe is the cells a search reads per epoch on
	// PostgreSQL by default (see FaceIndexConfig.NProbe); on SQLite it
	// reads them all.
	DefaultPostgresNProbe = 256
	// FaceIndexSamplePerCell sets the sample a partition is trained on:
	// this many faces per cell (all of them in a smaller scope).
	FaceIndexSamplePerCell = 64
	// FaceIndexKMeansRounds is the number of rounds of Lloyd's iteration
	// a partition is trained with.
	FaceIndexKMeansRounds = 8
	faceIndexKeyTTL       = time.Minute
)

func (c FaceIndexConfig) minFaces() int        { return cmp.Or(c.MinFaces, DefaultFaceIndexMinFaces) }
func (c FaceIndexConfig) rekey() time.Duration { return cmp.Or(c.Rekey, DefaultFaceIndexRekey) }
func (c FaceIndexConfig) batch() int           { return cmp.Or(c.Batch, 1000) }

// CellsFor is the number of cells of a partition of n faces.
func (c FaceIndexConfig) CellsFor(n int) int {
	if c.Cells > 0 {
		return min(c.Cells, n)
	}
	return max(1, int(math.Sqrt(float64(n))))
}

const (
	faceIndexPurpose     = "facevault face index"
	faceCentroidsPurpose = "facevault face index centroids"
)

// faceIndexAAD is what a row's seal is bound to: its scope, epoch and
// photo ("" for the epoch's centroids).
func faceIndexAAD(dst []byte, s Scope, epoch int64, photoID string) []byte {
	dst = append(dst, s.AccountID...)
	dst = append(dst, 0)
	dst = append(dst, s.Mode...)
	dst = append(dst, 0)
	dst = strconv.AppendInt(dst, epoch, 10)
	dst = append(dst, 0)
	return append(dst, photoID...)
}

func encodeFloats(e []float32) []byte {
	b := make([]byte, 4*len(e))
	for i, f := range e {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func decodeFloats(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is no float32 vector", len(b))
	}
	e := make([]float32, len(b)/4)
	for i := range e {
		e[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return e, nil
}

// FaceIndexSealer seals and opens the index rows of one epoch of a scope,
// under that epoch's face index key.
type FaceIndexSealer struct {
	s     Scope
	epoch int64
	m     *seal.MessageSealer
	pages *seal.MessageSealer
}

// NewFaceIndexSealer returns the sealer of epoch of s, whose face index key
// is key.
func NewFaceIndexSealer(key []byte, s Scope, epoch int64) (*FaceIndexSealer, error) {
	m, err := seal.NewMessageSealer(key, faceIndexPurpose)
	if err != nil {
		return nil, fmt.Errorf("face index key of epoch %d: %w", epoch, err)
	}
	pages, err := seal.NewMessageSealer(key, facePagePurpose)
	if err != nil {
		return nil, fmt.Errorf("face index key of epoch %d: %w", epoch, err)
	}
	return &FaceIndexSealer{s: s, epoch: epoch, m: m, pages: pages}, nil
}

// Seal seals embedding e as the index row of photoID.
func (f *FaceIndexSealer) Seal(photoID string, e []float32) ([]byte, error) {
	b, err := f.m.Seal(encodeFloats(e), faceIndexAAD(nil, f.s, f.epoch, photoID))
	if err != nil {
		return nil, fmt.Errorf("seal face index row %s: %w", photoID, err)
	}
	return b, nil
}

// Open opens row r; it fails unless r was sealed by this sealer's key,
// for its scope and epoch, as r's photo's.
func (f *FaceIndexSealer) Open(r FaceIndexRow) ([]float32, error) {
	b, err := f.m.Open(nil, r.Vec, faceIndexAAD(nil, f.s, r.Epoch, r.PhotoID))
	if err != nil {
		return nil, fmt.Errorf("open face index row %s: %w", r.PhotoID, err)
	}
	e, err := decodeFloats(b)
	if err != nil {
		return nil, fmt.Errorf("face index row %s: %w", r.PhotoID, err)
	}
	return e, nil
}

// openInto is Open into buffers it reuses: buf for the plaintext, e (of
// the right length) for the embedding.
func (f *FaceIndexSealer) openInto(r FaceIndexRow, buf, aad []byte, e []float32) ([]byte, []byte, error) {
	aad = faceIndexAAD(aad[:0], f.s, r.Epoch, r.PhotoID)
	b, err := f.m.Open(buf[:0], r.Vec, aad)
	if err != nil {
		return buf, aad, fmt.Errorf("open face index row %s: %w", r.PhotoID, err)
	}
	if len(b) != 4*len(e) {
		return b, aad, fmt.Errorf("face index row %s: %d bytes, want %d", r.PhotoID, len(b), 4*len(e))
	}
	for i := range e {
		e[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return b, aad, nil
}

// SealFaceIndexRow seals embedding e as the index row of photoID of s under
// key, the face index key of epoch.
func SealFaceIndexRow(key []byte, s Scope, epoch int64, photoID string, e []float32) ([]byte, error) {
	f, err := NewFaceIndexSealer(key, s, epoch)
	if err != nil {
		return nil, err
	}
	return f.Seal(photoID, e)
}

// OpenFaceIndexRow opens an index row of s sealed under key.
func OpenFaceIndexRow(key []byte, s Scope, r FaceIndexRow) ([]float32, error) {
	f, err := NewFaceIndexSealer(key, s, r.Epoch)
	if err != nil {
		return nil, err
	}
	return f.Open(r)
}

// SealCentroids seals a partition's centroids under key, the face index key
// of epoch of s.
func SealCentroids(key []byte, s Scope, epoch int64, centroids [][]float32) ([]byte, error) {
	var b []byte
	for _, c := range centroids {
		b = append(b, encodeFloats(c)...)
	}
	sealed, err := seal.SealMessage(key, faceCentroidsPurpose, b, faceIndexAAD(nil, s, epoch, ""))
	if err != nil {
		return nil, fmt.Errorf("seal face index centroids: %w", err)
	}
	return sealed, nil
}

func openCentroids(key []byte, s Scope, e *FaceIndexEpoch) ([][]float32, error) {
	if e.Centroids == nil {
		return nil, nil
	}
	b, err := seal.OpenMessage(key, faceCentroidsPurpose, e.Centroids, faceIndexAAD(nil, s, e.Epoch, ""))
	if err != nil {
		return nil, fmt.Errorf("open centroids of face index epoch %d: %w", e.Epoch, err)
	}
	flat, err := decodeFloats(b)
	if err != nil || e.Cells <= 0 || len(flat)%e.Cells != 0 {
		return nil, fmt.Errorf("centroids of face index epoch %d: %d floats for %d cells", e.Epoch, len(flat), e.Cells)
	}
	d := len(flat) / e.Cells
	out := make([][]float32, e.Cells)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

// faceIndexCache holds face index keys and opened partitions for a short
// while, so that a search does not read the key store each time. Entries
// expire after faceIndexKeyTTL, and are dropped when their epoch's key is
// destroyed by this node. A nil cache caches nothing.
type faceIndexCache struct {
	mu      sync.Mutex
	entries map[string]*faceIndexEntry
}

type faceIndexEntry struct {
	sealer    *FaceIndexSealer
	centroids [][]float32
	hasCents  bool
	until     time.Time
}

func newFaceIndexCache() *faceIndexCache {
	return &faceIndexCache{entries: map[string]*faceIndexEntry{}}
}

func cacheKey(s Scope, epoch int64) string {
	return s.AccountID + "\x00" + string(s.Mode) + "\x00" + strconv.FormatInt(epoch, 10)
}

func (c *faceIndexCache) get(s Scope, epoch int64) (faceIndexEntry, bool) {
	if c == nil {
		return faceIndexEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey(s, epoch)]
	if !ok || time.Now().After(e.until) {
		return faceIndexEntry{}, false
	}
	return *e, true
}

func (c *faceIndexCache) put(s Scope, epoch int64, e faceIndexEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, old := range c.entries {
		if now.After(old.until) {
			delete(c.entries, k)
		}
	}
	e.until = now.Add(faceIndexKeyTTL)
	c.entries[cacheKey(s, epoch)] = &e
}

// forget drops the entries of s of epochs before the given one.
func (c *faceIndexCache) forget(s Scope, before int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := int64(0); e < before; e++ {
		delete(c.entries, cacheKey(s, e))
	}
}

// faceIndexKeys returns the vault's face index keys, or nil if its key
// store keeps none (the index is then not used).
func (v *Vault) faceIndexKeys() FaceIndexKeys {
	if v.IndexKeys != nil {
		return v.IndexKeys
	}
	k, _ := v.Keys.(FaceIndexKeys)
	return k
}

// epochSealer returns the sealer of epoch e of s, and its opened
// centroids when withCentroids is set.
func (v *Vault) epochSealer(ctx context.Context, s Scope, e *FaceIndexEpoch, withCentroids bool) (*FaceIndexSealer, [][]float32, error) {
	ent, ok := v.indexCache.get(s, e.Epoch)
	if !ok || withCentroids && !ent.hasCents {
		key, err := v.faceIndexKeys().FaceIndexKey(ctx, s, e.Epoch)
		if err != nil {
			return nil, nil, err
		}
		defer clear(key)
		if ent.sealer, err = NewFaceIndexSealer(key, s, e.Epoch); err != nil {
			return nil, nil, err
		}
		if withCentroids {
			if ent.centroids, err = openCentroids(key, s, e); err != nil {
				return nil, nil, err
			}
			ent.hasCents = true
		}
		v.indexCache.put(s, e.Epoch, ent)
	}
	return ent.sealer, ent.centroids, nil
}

// FaceHit is an enrolled face a search found, and its similarity to the
// probe (see faceSimilarity).
type FaceHit struct {
	PhotoID, ClientID string
	Score             float64
}

// SearchFaces returns the enrolled faces of s whose similarity to probe is
// at least floor, highest first (ties in photo id order): those in the
// index, from the cells of each epoch nearest to probe
// (FaceIndexConfig.NProbe), and those the indexer has not indexed yet,
// opened with their photo keys, so that a face is never missed for not
// being indexed yet.
func (v *Vault) SearchFaces(ctx context.Context, s Scope, probe []float32, floor float64) ([]FaceHit, error) {
	hits := map[string]FaceHit{}
	var mu sync.Mutex
	add := func(id, client string, score float64) {
		if score >= floor {
			mu.Lock()
			hits[id] = FaceHit{PhotoID: id, ClientID: client, Score: score}
			mu.Unlock()
		}
	}
	// The unindexed first: one indexed after this read is in the index
	// when it is read below.
	unindexed, err := v.Store.ScopeUnindexedFaces(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("search faces: %w", err)
	}
	for _, f := range unindexed {
		e, err := v.FaceEmbedding(ctx, &LivePhoto{ID: f.PhotoID, ClientID: f.ClientID, SealedEmbedding: f.SealedEmbedding})
		if err != nil {
			return nil, fmt.Errorf("search faces: %w", err)
		}
		if e != nil {
			add(f.PhotoID, f.ClientID, faceSimilarity(probe, e))
		}
	}
	if v.faceIndexKeys() != nil {
		if err := v.searchIndex(ctx, s, probe, floor, add); err != nil {
			return nil, fmt.Errorf("search faces: %w", err)
		}
	}
	out := make([]FaceHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b FaceHit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.PhotoID, b.PhotoID))
	})
	return out, nil
}

// searchIndex calls add with every indexed face of s in the cells nearest
// to probe (with a score of at least floor, on a store with packed pages).
// A rekey moves rows from older epochs to newer ones: reading the epochs
// oldest first finds a row moved meanwhile in the newer one (or, on a
// store with packed pages, in the older epoch's pages, which stay until
// the newer epoch is packed), and an epoch made after the list was read
// makes the search start again.
func (v *Vault) searchIndex(ctx context.Context, s Scope, probe []float32, floor float64, add func(id, client string, score float64)) error {
	ps, paged := v.Store.(FacePageStore)
	var q pageProbe
	if paged {
		q = newPageProbe(probe, floor)
	}
	for attempt := 0; ; attempt++ {
		epochs, err := v.Store.FaceIndexEpochs(ctx, s)
		if err != nil {
			return err
		}
		sealers := map[int64]*FaceIndexSealer{}
		cands := map[string]struct{}{}
		for _, e := range epochs {
			sealer, centroids, err := v.epochSealer(ctx, s, e, true)
			if errors.Is(err, ErrNotFound) {
				continue // destroyed once its rows were all moved
			}
			if err != nil {
				return err
			}
			sealers[e.Epoch] = sealer
			var cells []int
			if centroids != nil && v.FaceIndex.NProbe > 0 && v.FaceIndex.NProbe < len(centroids) {
				cells = nearestCells(probe, centroids, v.FaceIndex.NProbe)
			}
			if paged {
				err = v.scanPages(ctx, ps, s, e.Epoch, sealer, cells, &q, probe, add, cands)
			} else {
				err = v.scanCells(ctx, s, e.Epoch, sealer, cells, probe, add)
			}
			if err != nil {
				return err
			}
		}
		if len(cands) > 0 {
			if err := v.rescore(ctx, ps, s, sealers, cands, probe, add); err != nil {
				return err
			}
		}
		after, err := v.Store.FaceIndexEpochs(ctx, s)
		if err != nil {
			return err
		}
		if len(after) == 0 || len(epochs) > 0 && after[len(after)-1].Epoch == epochs[len(epochs)-1].Epoch || attempt == 3 {
			return nil
		}
	}
}

// scanPages reads the pages of epoch of s in cells (all if nil), those
// this node holds opened already only if they changed, and adds to cands
// the ids of the faces whose codes may reach the floor of q; it calls add
// with the rows of those cells not packed yet, scored exactly.
func (v *Vault) scanPages(ctx context.Context, ps FacePageStore, s Scope, epoch int64, sealer *FaceIndexSealer, cells []int,
	q *pageProbe, probe []float32, add func(id, client string, score float64), cands map[string]struct{}) error {
	cache := v.facePages()
	var unpacked []FaceIndexRow
	var uerr error
	var wg sync.WaitGroup
	wg.Go(func() { unpacked, uerr = ps.UnpackedFaceRows(ctx, s, epoch, cells) })
	pages, err := ps.FacePages(ctx, s, epoch, cells, cache.known(s, epoch, cells, time.Now()))
	wg.Wait()
	if err = errors.Join(err, uerr); err != nil {
		return err
	}
	vec := make([]float32, len(probe))
	var buf, aad []byte
	for _, r := range unpacked {
		if buf, aad, err = sealer.openInto(r, buf, aad, vec); err != nil {
			return err
		}
		add(r.PhotoID, r.ClientID, faceSimilarity(probe, vec))
	}
	cache.dropGone(s, epoch, cells, pages)
	opened := make([]*facePage, 0, len(pages))
	var missed []FacePage
	for _, p := range pages {
		if p.Data == nil {
			if fp := cache.get(s, p, time.Now()); fp != nil {
				opened = append(opened, fp)
			} else {
				missed = append(missed, p) // dropped since: read it again
			}
			continue
		}
		fp, err := sealer.openPage(p)
		if err != nil {
			return err
		}
		cache.put(s, p, fp, time.Now())
		opened = append(opened, fp)
	}
	if len(missed) > 0 {
		want := map[[2]int]bool{}
		for _, p := range missed {
			want[[2]int{p.Cell, p.Page}] = true
		}
		var missedCells []int
		for _, p := range missed {
			missedCells = append(missedCells, p.Cell)
		}
		slices.Sort(missedCells)
		again, err := ps.FacePages(ctx, s, epoch, slices.Compact(missedCells), nil)
		if err != nil {
			return err
		}
		for _, p := range again {
			if !want[[2]int{p.Cell, p.Page}] || p.Data == nil {
				continue
			}
			fp, err := sealer.openPage(p)
			if err != nil {
				return err
			}
			cache.put(s, p, fp, time.Now())
			opened = append(opened, fp)
		}
	}
	found := make([][]string, len(opened))
	parallelPages(opened, func(i int, out []int, dots []int32) ([]int, []int32) {
		out, dots = q.candidates(opened[i], out[:0], dots)
		for _, j := range out {
			found[i] = append(found[i], opened[i].photo(j))
		}
		return out, dots
	})
	for _, ids := range found {
		for _, id := range ids {
			cands[id] = struct{}{}
		}
	}
	return nil
}

// parallelPages calls fn for each page, spread over the CPUs; each worker
// passes fn buffers it reuses.
func parallelPages(pages []*facePage, fn func(i int, buf []int, dots []int32) ([]int, []int32)) {
	faces := 0
	for _, p := range pages {
		faces += p.n
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, faces/4096), max(1, len(pages)))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var buf []int
			var dots []int32
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pages) {
					return
				}
				buf, dots = fn(i, buf, dots)
			}
		})
	}
	wg.Wait()
}

// rescore reads the index rows of the candidates found in pages and calls
// add with their exact scores. A face deleted since its page was packed
// has no row any more, and is not returned.
func (v *Vault) rescore(ctx context.Context, ps FacePageStore, s Scope, sealers map[int64]*FaceIndexSealer,
	cands map[string]struct{}, probe []float32, add func(id, client string, score float64)) error {
	ids := make([]string, 0, len(cands))
	for id := range cands {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rows, err := ps.FaceIndexRowsByID(ctx, s, ids)
	if err != nil {
		return err
	}
	vec := make([]float32, len(probe))
	var buf, aad []byte
	for _, r := range rows {
		sealer, ok := sealers[r.Epoch]
		if !ok {
			if sealer, _, err = v.epochSealer(ctx, s, &FaceIndexEpoch{Epoch: r.Epoch}, false); err != nil {
				return err
			}
			sealers[r.Epoch] = sealer
		}
		if buf, aad, err = sealer.openInto(r, buf, aad, vec); err != nil {
			return err
		}
		add(r.PhotoID, r.ClientID, faceSimilarity(probe, vec))
	}
	return nil
}

// RefreshFacePages brings the pages this node keeps up to date, for every
// scope it has searched: it drops those the store no longer has (an epoch
// gone with its key, a page emptied), reads again those rewritten since (a
// deleted face dropped, new faces packed), and, while the cache is not
// nearly full, reads those of the scope's epochs it does not hold yet (so
// that after a rekey the new epoch's pages are opened here, not by the
// first searches).
// No page then stays in memory unchecked for long, searched or not.
// RunFaceIndex calls it every interval, on every node.
func (v *Vault) RefreshFacePages(ctx context.Context) error {
	ps, ok := v.Store.(FacePageStore)
	cache := v.facePages()
	if !ok || cache == nil || v.faceIndexKeys() == nil {
		return nil
	}
	for s := range cache.epochs() {
		epochs, err := v.Store.FaceIndexEpochs(ctx, s)
		if err != nil {
			return fmt.Errorf("refresh face index pages: %w", err)
		}
		if len(epochs) == 0 {
			cache.forget(s, math.MaxInt64)
			continue
		}
		cache.forget(s, epochs[0].Epoch)
		for _, e := range epochs {
			now := time.Now()
			// A cache nearly full checks the cells it holds and takes
			// in no others.
			var cells []int
			if cache.nearlyFull() {
				if cells = cache.cells(s, e.Epoch); len(cells) == 0 {
					continue
				}
			}
			pages, err := ps.FacePages(ctx, s, e.Epoch, cells, cache.known(s, e.Epoch, cells, now))
			if err != nil {
				return fmt.Errorf("refresh face index pages: %w", err)
			}
			cache.dropGone(s, e.Epoch, cells, pages)
			if len(pages) == 0 {
				continue
			}
			sealer, _, err := v.epochSealer(ctx, s, e, false)
			if errors.Is(err, ErrNotFound) {
				cache.forget(s, e.Epoch+1)
				continue
			}
			if err != nil {
				return fmt.Errorf("refresh face index pages: %w", err)
			}
			for _, p := range pages {
				if p.Data == nil {
					cache.get(s, p, now)
					continue
				}
				fp, err := sealer.openPage(p)
				if err != nil {
					return fmt.Errorf("refresh face index pages: %w", err)
				}
				cache.put(s, p, fp, now)
			}
		}
	}
	return nil
}

// CachedFacePages returns the versions of the pages of epoch of s that
// this node keeps opened, in cell and page order.
func (v *Vault) CachedFacePages(s Scope, epoch int64) []FacePageVersion {
	out := v.facePages().known(s, epoch, nil, time.Now())
	slices.SortFunc(out, func(a, b FacePageVersion) int {
		return cmp.Or(cmp.Compare(a.Cell, b.Cell), cmp.Compare(a.Page, b.Page))
	})
	return out
}

// FacePageCacheSize reports how many opened face index pages the vault
// keeps, and their size in bytes.
func (v *Vault) FacePageCacheSize() (pages int, bytes int64) {
	return v.facePages().held()
}

// facePages is the vault's cache of opened pages (nil: none).
func (v *Vault) facePages() *facePageCache {
	v.pagesOnce.Do(func() {
		size := v.FaceIndex.PageCache
		if size == 0 {
			size = DefaultFacePageCache
		}
		v.pageCache = newFacePageCache(size)
	})
	return v.pageCache
}

// scanCells calls add with the rows of epoch of s in cells (all if nil)
// and their scores. Two or more cells are read by two queries at once,
// each half opened and scored by its own goroutine.
func (v *Vault) scanCells(ctx context.Context, s Scope, epoch int64, sealer *FaceIndexSealer, cells []int, probe []float32,
	add func(id, client string, score float64)) error {
	parts := [][]int{cells}
	if len(cells) >= 2 {
		parts = [][]int{cells[:len(cells)/2], cells[len(cells)/2:]}
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() {
			rows, err := v.Store.FaceIndexRows(ctx, s, epoch, part)
			if err != nil {
				errs[i] = err
				return
			}
			var buf, aad []byte
			vec := make([]float32, len(probe))
			for _, r := range rows {
				if buf, aad, err = sealer.openInto(r, buf, aad, vec); err != nil {
					errs[i] = err
					return
				}
				add(r.PhotoID, r.ClientID, faceSimilarity(probe, vec))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// IndexFaces indexes up to n enrolled faces not indexed yet, of any scope,
// from the given photo id on, and returns how many it indexed and the id to
// go on from ("" once it has seen them all). Each face is opened with its
// photo key, put in the cell of its scope's current partition and sealed
// under the current epoch's key; a photo deleted, redacted or unenrolled
// meanwhile is not indexed (the store checks, as it inserts).
func (v *Vault) IndexFaces(ctx context.Context, after string, n int) (int, string, error) {
	fk := v.faceIndexKeys()
	if fk == nil || v.Keys == nil {
		return 0, "", nil
	}
	faces, err := v.Store.UnindexedFaces(ctx, after, n)
	if err != nil {
		return 0, "", fmt.Errorf("index faces: %w", err)
	}
	if len(faces) == 0 {
		return 0, "", nil
	}
	next := faces[len(faces)-1].PhotoID
	ids := make([]string, len(faces))
	for i, f := range faces {
		ids[i] = f.PhotoID
	}
	keys, err := v.Keys.PhotoKeys(ctx, ids)
	if err != nil {
		return 0, "", fmt.Errorf("index faces: photo keys: %w", err)
	}
	defer func() {
		for _, k := range keys {
			clear(k)
		}
	}()
	byScope := map[Scope][]*UnindexedFace{}
	for _, f := range faces {
		byScope[f.Scope] = append(byScope[f.Scope], f)
	}
	done := 0
	for s, faces := range byScope {
		cur, err := v.currentEpoch(ctx, s)
		if err != nil {
			return done, "", fmt.Errorf("index faces of %s/%s: %w", s.AccountID, s.Mode, err)
		}
		sealer, centroids, err := v.epochSealer(ctx, s, cur, true)
		if err != nil {
			return done, "", fmt.Errorf("index faces of %s/%s: %w", s.AccountID, s.Mode, err)
		}
		rows := make([]FaceIndexRow, 0, len(faces))
		for _, f := range faces {
			pk, ok := keys[f.PhotoID]
			if !ok {
				continue // its key is destroyed: it is being deleted
			}
			b, err := seal.OpenMessage(pk, embeddingPurpose, f.SealedEmbedding, []byte(f.PhotoID))
			if err != nil {
				return done, "", fmt.Errorf("index faces: open face embedding of %s: %w", f.PhotoID, err)
			}
			e, err := decodeFloats(b)
			if err != nil {
				return done, "", fmt.Errorf("index faces: face embedding of %s: %w", f.PhotoID, err)
			}
			r := FaceIndexRow{PhotoID: f.PhotoID, ClientID: f.ClientID, Epoch: cur.Epoch}
			if centroids != nil {
				r.Cell = nearestCells(e, centroids, 1)[0]
			}
			if r.Vec, err = sealer.Seal(f.PhotoID, e); err != nil {
				return done, "", err
			}
			rows = append(rows, r)
		}
		added, err := v.Store.AddFaceIndexRows(ctx, s, cur.Epoch, rows)
		done += added
		if err != nil {
			return done, "", fmt.Errorf("index faces of %s/%s: %w", s.AccountID, s.Mode, err)
		}
	}
	if len(faces) < n {
		next = ""
	}
	return done, next, nil
}

// currentEpoch returns the current epoch of s, making the first (without
// a partition) if s has none.
func (v *Vault) currentEpoch(ctx context.Context, s Scope) (*FaceIndexEpoch, error) {
	epochs, err := v.Store.FaceIndexEpochs(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(epochs) > 0 {
		return epochs[len(epochs)-1], nil
	}
	if _, err := v.faceIndexKeys().NewFaceIndexKey(ctx, s, 1); err != nil {
		return nil, err
	}
	e := &FaceIndexEpoch{Epoch: 1, CreatedAt: v.Now()}
	if err := v.Store.AddFaceIndexEpoch(ctx, s, e); err != nil && !errors.Is(err, ErrConflict) {
		return nil, err
	}
	if epochs, err = v.Store.FaceIndexEpochs(ctx, s); err != nil {
		return nil, err
	}
	if len(epochs) == 0 {
		return nil, errors.New("face index epoch vanished")
	}
	return epochs[len(epochs)-1], nil
}

// RekeyResult says what MaintainFaceIndex did to a scope.
type RekeyResult struct {
	Epoch     int64 // the current epoch afterwards
	Trained   bool  // the new epoch has a new partition
	Moved     int   // rows re-sealed under the current epoch
	Destroyed int   // epoch keys destroyed
	// Packed is what packing the current epoch's pages did (on a store
	// that keeps them).
	Packed PackResult
}

// MaintainFaceIndex keeps the index of s fresh: when s has enough faces for
// a partition and none, or twice as many as its partition was made for,
// or its current epoch is older than FaceIndexConfig.Rekey (or force is
// set), it makes a new epoch, under a new key, with a partition trained on
// a sample of the index (opened with the index keys); it then re-seals
// every row of older epochs under the current one and destroys the older
// epochs' keys once no row of theirs is left. hold is called between
// batches: an error from it (the node lost its lease) stops the work,
// which the next call takes up again.
func (v *Vault) MaintainFaceIndex(ctx context.Context, s Scope, rows int, force bool, hold func() error) (RekeyResult, error) {
	var res RekeyResult
	fk := v.faceIndexKeys()
	if fk == nil {
		return res, nil
	}
	epochs, err := v.Store.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) == 0 {
		return res, err
	}
	cur := epochs[len(epochs)-1]
	res.Epoch = cur.Epoch
	if len(epochs) == 1 {
		minFaces := v.FaceIndex.minFaces()
		due := force || v.Now().Sub(cur.CreatedAt) >= v.FaceIndex.rekey() ||
			cur.Centroids == nil && rows >= minFaces ||
			cur.Centroids != nil && rows >= 2*max(cur.Size, 1)
		if !due {
			packed, err := v.PackFaceIndex(ctx, s, hold)
			res.Packed = packed
			if err != nil {
				return res, err
			}
			// Keys of epochs whose removal was recorded by a node that
			// died before destroying them.
			n, err := fk.DestroyFaceIndexKeys(ctx, s, cur.Epoch)
			res.Destroyed = n
			return res, err
		}
		next := &FaceIndexEpoch{Epoch: cur.Epoch + 1, Size: rows, CreatedAt: v.Now()}
		key, err := fk.NewFaceIndexKey(ctx, s, next.Epoch)
		if err != nil {
			return res, fmt.Errorf("rekey face index: %w", err)
		}
		if rows >= minFaces {
			sample, err := v.faceSample(ctx, s, cur, rows, v.FaceIndex.CellsFor(rows)*FaceIndexSamplePerCell, hold)
			if err != nil {
				return res, fmt.Errorf("rekey face index: sample: %w", err)
			}
			centroids := TrainCentroids(sample, v.FaceIndex.CellsFor(rows), FaceIndexKMeansRounds)
			next.Cells = len(centroids)
			if next.Centroids, err = SealCentroids(key, s, next.Epoch, centroids); err != nil {
				return res, err
			}
			res.Trained = true
		}
		clear(key)
		if err := v.Store.AddFaceIndexEpoch(ctx, s, next); err != nil {
			return res, fmt.Errorf("rekey face index: %w", err)
		}
		v.Logger.InfoContext(ctx, "face index epoch made", "account", s.AccountID, "mode", s.Mode,
			"epoch", next.Epoch, "faces", rows, "cells", next.Cells)
		cur = next
		res.Epoch = cur.Epoch
	}
	moved, err := v.moveFaceIndexRows(ctx, s, cur, hold)
	res.Moved = moved
	if err != nil {
		return res, err
	}
	// The moved rows stay in the older epoch's pages until they are
	// packed in the current epoch's, and the older epoch goes after.
	if ps, ok := v.Store.(FacePageStore); ok {
		packed, err := v.packEpoch(ctx, ps, s, cur, hold)
		res.Packed = packed
		if err != nil {
			return res, err
		}
	}
	gone, err := v.Store.RemoveFaceIndexEpochs(ctx, s, cur.Epoch)
	if err != nil || !gone {
		return res, err
	}
	n, err := fk.DestroyFaceIndexKeys(ctx, s, cur.Epoch)
	res.Destroyed = n
	v.indexCache.forget(s, cur.Epoch)
	v.facePages().forget(s, cur.Epoch)
	if err != nil {
		return res, fmt.Errorf("rekey face index: %w", err)
	}
	return res, nil
}

// faceSample opens about n of the index rows of s, all of epoch cur (the
// only one), spread evenly over photo id order.
func (v *Vault) faceSample(ctx context.Context, s Scope, cur *FaceIndexEpoch, rows, n int, hold func() error) ([][]float32, error) {
	sealer, _, err := v.epochSealer(ctx, s, cur, false)
	if err != nil {
		return nil, err
	}
	every := max(1, rows/max(n, 1))
	var sample [][]float32
	after, i := "", 0
	for {
		batch, err := v.Store.FaceIndexRowsBefore(ctx, s, cur.Epoch+1, after, 10*v.FaceIndex.batch())
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return sample, nil
		}
		for _, r := range batch {
			if i%every == 0 {
				e, err := sealer.Open(r)
				if err != nil {
					return nil, err
				}
				sample = append(sample, e)
			}
			i++
		}
		after = batch[len(batch)-1].PhotoID
		if err := hold(); err != nil {
			return nil, err
		}
	}
}

// moveFaceIndexRows re-seals every row of s of an epoch before cur under
// cur's key, in cur's partition.
func (v *Vault) moveFaceIndexRows(ctx context.Context, s Scope, cur *FaceIndexEpoch, hold func() error) (int, error) {
	sealer, centroids, err := v.epochSealer(ctx, s, cur, true)
	if err != nil {
		return 0, fmt.Errorf("rekey face index: %w", err)
	}
	old := map[int64]*FaceIndexSealer{}
	moved, after := 0, ""
	for {
		rows, err := v.Store.FaceIndexRowsBefore(ctx, s, cur.Epoch, after, v.FaceIndex.batch())
		if err != nil || len(rows) == 0 {
			return moved, err
		}
		vecs := make([][]float32, len(rows))
		for i, r := range rows {
			k, ok := old[r.Epoch]
			if !ok {
				if k, _, err = v.epochSealer(ctx, s, &FaceIndexEpoch{Epoch: r.Epoch}, false); err != nil {
					return moved, fmt.Errorf("rekey face index: %w", err)
				}
				old[r.Epoch] = k
			}
			if vecs[i], err = k.Open(r); err != nil {
				return moved, err
			}
		}
		cells := AssignCells(vecs, centroids)
		for i := range rows {
			rows[i].Cell = cells[i]
			if rows[i].Vec, err = sealer.Seal(rows[i].PhotoID, vecs[i]); err != nil {
				return moved, err
			}
		}
		n, err := v.Store.MoveFaceIndexRows(ctx, s, cur.Epoch, rows)
		moved += n
		if err != nil {
			return moved, fmt.Errorf("rekey face index: %w", err)
		}
		after = rows[len(rows)-1].PhotoID
		if err := hold(); err != nil {
			return moved, err
		}
	}
}

// PackFaceIndex packs the rows of the current epoch of s that are not in a
// page yet, and re-packs the pages that hold faces deleted since they were
// written (which destroys the deleted faces' codes), on a store that keeps
// packed pages; elsewhere it does nothing. hold is called between cells.
func (v *Vault) PackFaceIndex(ctx context.Context, s Scope, hold func() error) (PackResult, error) {
	ps, ok := v.Store.(FacePageStore)
	if !ok || v.faceIndexKeys() == nil {
		return PackResult{}, nil
	}
	epochs, err := v.Store.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) == 0 {
		return PackResult{}, err
	}
	return v.packEpoch(ctx, ps, s, epochs[len(epochs)-1], hold)
}

func (v *Vault) packEpoch(ctx context.Context, ps FacePageStore, s Scope, cur *FaceIndexEpoch, hold func() error) (PackResult, error) {
	var total PackResult
	cells, err := ps.FaceCellsToPack(ctx, s, cur.Epoch)
	if err != nil || len(cells) == 0 {
		return total, err
	}
	sealer, _, err := v.epochSealer(ctx, s, cur, false)
	if err != nil {
		return total, fmt.Errorf("pack face index: %w", err)
	}
	build := func(p FacePage, rows []FaceIndexRow) ([]byte, error) {
		vecs := make([][]float32, len(rows))
		for i, r := range rows {
			var err error
			if vecs[i], err = sealer.Open(r); err != nil {
				return nil, err
			}
		}
		plain := encodeFacePage(rows, vecs)
		defer clear(plain)
		return sealer.sealPage(p, plain)
	}
	for i, cell := range cells {
		res, err := ps.PackFaceCell(ctx, s, cur.Epoch, cell, FacePageFaces, build)
		total.Written += res.Written
		total.Removed += res.Removed
		total.Dead += res.Dead
		if err != nil {
			return total, fmt.Errorf("pack face index cell %d of epoch %d: %w", cell, cur.Epoch, err)
		}
		if i%32 == 31 {
			if err := hold(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// faceIndexLease is the name of the lease under which one node at a time
// maintains the face index.
const faceIndexLease = "face-index"

// RunFaceIndex maintains the face search index until ctx is done: every
// interval, the node that holds the lease (holder's name, renewed for ttl
// between batches) indexes the enrolled faces not indexed yet, then
// rekeys the scopes that are due (see MaintainFaceIndex).
func (v *Vault) RunFaceIndex(ctx context.Context, holder string, every, ttl time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		v.facePages().expire(time.Now())
		if err := v.RefreshFacePages(ctx); err != nil && ctx.Err() == nil {
			v.Logger.ErrorContext(ctx, "face index pages not refreshed", "err", err)
		}
		if err := v.MaintainFaceIndexes(ctx, holder, ttl); err != nil && ctx.Err() == nil {
			v.Logger.ErrorContext(ctx, "face index maintenance failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errLeaseLost stops face index work when another node took the lease.
var errLeaseLost = errors.New("face index lease held by another node")

// MaintainFaceIndexes does one round of RunFaceIndex: if holder gets the
// lease, it indexes every face not indexed yet and maintains every scope.
// It returns nil without doing anything while another node holds the
// lease.
func (v *Vault) MaintainFaceIndexes(ctx context.Context, holder string, ttl time.Duration) error {
	if v.faceIndexKeys() == nil {
		return nil
	}
	hold := func() error {
		ok, err := v.Store.AcquireLease(ctx, faceIndexLease, holder, v.Now(), ttl)
		if err != nil {
			return fmt.Errorf("face index lease: %w", err)
		}
		if !ok {
			return errLeaseLost
		}
		return ctx.Err()
	}
	if err := hold(); errors.Is(err, errLeaseLost) {
		return nil
	} else if err != nil {
		return err
	}
	after := ""
	for {
		n, next, err := v.IndexFaces(ctx, after, v.FaceIndex.batch())
		if err != nil {
			return err
		}
		if n > 0 {
			v.Logger.DebugContext(ctx, "faces indexed", "n", n)
		}
		if next == "" {
			break
		}
		after = next
		if err := hold(); err != nil {
			return ignoreLost(err)
		}
	}
	scopes, err := v.Store.FaceIndexScopes(ctx)
	if err != nil {
		return fmt.Errorf("face index scopes: %w", err)
	}
	for _, sc := range scopes {
		if _, err := v.MaintainFaceIndex(ctx, sc.Scope, sc.Rows, false, hold); err != nil {
			return ignoreLost(fmt.Errorf("face index of %s/%s: %w", sc.Scope.AccountID, sc.Scope.Mode, err))
		}
		if err := hold(); err != nil {
			return ignoreLost(err)
		}
	}
	return nil
}

func ignoreLost(err error) error {
	if errors.Is(err, errLeaseLost) {
		return nil
	}
	return err
}
