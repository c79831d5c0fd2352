package facevault

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Packed pages of the face search index (docs/contract.md section 9).
//
// On a store that keeps them (FacePageStore: PostgreSQL), the faces of each
// cell of an epoch are also packed into pages of up to FacePageFaces faces:
// each page is one AES-GCM box under the epoch's face index key, bound to
// its scope, epoch, cell, page and version, holding every face's photo id,
// client id and an 8-bit code of its embedding. A search reads the pages of
// the cells it probes (a few rows a cell, one opening a page, and only the
// pages that changed since this node last opened them: see facePageCache),
// scores the codes, and scores exactly, from their face_index rows, the
// faces whose code's score could reach the floor. A face deleted since its
// page was written has no row: it is never returned, and the indexer
// re-packs its page within FaceIndexConfig's interval (the store lists
// such faces, FacePageStore.FaceCellsToPack).

// FacePageFaces is the most faces a packed page holds.
const FacePageFaces = 256

// DefaultFacePageCache is the default size of a node's cache of opened
// pages, in bytes (see FaceIndexConfig.PageCache).
const DefaultFacePageCache = 256 << 20

// facePageTTL is the longest an opened page stays in a node's memory
// without being checked against the store (by a search that reads its
// cell, or by the node's face index round, see Vault.RefreshFacePages).
const facePageTTL = 10 * time.Minute

// FacePage is a packed page of the cell of an epoch of a scope: Data is
// its sealed content (nil when the reader had this version already).
type FacePage struct {
	Epoch   int64
	Cell    int
	Page    int
	Version int64
	Faces   int
	Data    []byte
}

// FacePageVersion names a version of a page the reader holds.
type FacePageVersion struct {
	Cell, Page int
	Version    int64
}

// PackResult says what FacePageStore.PackFaceCell did.
type PackResult struct {
	Written int // pages written
	Removed int // pages removed, left with no face
	Dead    int // deleted faces whose codes were dropped
}

// FacePageStore is a FaceIndexStore that also keeps packed pages.
type FacePageStore interface {
	// FacePages returns the pages of epoch of s in cells (every cell if
	// nil); a page whose version is in known comes without Data.
	FacePages(ctx context.Context, s Scope, epoch int64, cells []int, known []FacePageVersion) ([]FacePage, error)
	// UnpackedFaceRows returns the rows of epoch of s in cells (every
	// cell if nil) not packed in any page yet.
	UnpackedFaceRows(ctx context.Context, s Scope, epoch int64, cells []int) ([]FaceIndexRow, error)
	// FaceIndexRowsByID returns the rows of s of photos ids that exist.
	FaceIndexRowsByID(ctx context.Context, s Scope, ids []string) ([]FaceIndexRow, error)
	// FaceCellsToPack returns the cells of epoch of s that have rows not
	// packed in a page of epoch, or pages holding deleted faces.
	FaceCellsToPack(ctx context.Context, s Scope, epoch int64) ([]int, error)
	// PackFaceCell packs cell of epoch of s, in one transaction: it
	// re-packs the pages that hold deleted faces from their rows, and
	// packs the rows not packed yet into the last page while it has fewer
	// than perPage faces, then into new pages. build returns the sealed
	// content of page p (p.Version is its new version) with rows.
	PackFaceCell(ctx context.Context, s Scope, epoch int64, cell, perPage int,
		build func(p FacePage, rows []FaceIndexRow) ([]byte, error)) (PackResult, error)
}

const facePagePurpose = "facevault face index page"

// facePageAAD is what a page's seal is bound to.
func facePageAAD(s Scope, epoch int64, cell, page int, version int64) []byte {
	b := faceIndexAAD(nil, s, epoch, "")
	b = append(b, "page\x00"...)
	b = strconv.AppendInt(b, int64(cell), 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(page), 10)
	b = append(b, 0)
	return strconv.AppendInt(b, version, 10)
}

// facePage is an opened page: n faces of d dimensions, each with its code
// (d int8s, the unit embedding divided by scale and rounded), its scale
// and the L1 norm of its code, and its photo and client ids.
type facePage struct {
	n, d   int
	codes  []int8
	scales []float32
	l1     []int32
	ids    []byte   // photo id, then client id, of each face, back to back
	offs   []uint32 // ids[offs[2i]:offs[2i+1]] is face i's photo id, then up to offs[2i+2] its client id
}

func (p *facePage) photo(i int) string  { return string(p.ids[p.offs[2*i]:p.offs[2*i+1]]) }
func (p *facePage) client(i int) string { return string(p.ids[p.offs[2*i+1]:p.offs[2*i+2]]) }
func (p *facePage) size() int64 {
	return int64(len(p.codes) + 8*p.n + len(p.ids) + 4*len(p.offs) + 128)
}

// quantize writes the code of e (normalised) into code and returns its
// scale.
func quantize(e []float32, code []int8) float32 {
	var n, m float64
	for _, x := range e {
		n += float64(x) * float64(x)
		m = max(m, math.Abs(float64(x)))
	}
	if n == 0 || m == 0 {
		clear(code)
		return 0
	}
	n = math.Sqrt(n)
	scale := m / n / 127
	for i, x := range e {
		code[i] = int8(max(-127, min(127, math.Round(float64(x)/n/scale))))
	}
	return float32(scale)
}

func l1(code []int8) int32 {
	var s int32
	for _, c := range code {
		if c < 0 {
			s -= int32(c)
		} else {
			s += int32(c)
		}
	}
	return s
}

const facePageFormat = 1

// encodeFacePage is the plaintext of a page of rows whose embeddings are
// vecs.
func encodeFacePage(rows []FaceIndexRow, vecs [][]float32) []byte {
	d := 0
	if len(vecs) > 0 {
		d = len(vecs[0])
	}
	b := []byte{facePageFormat}
	b = binary.AppendUvarint(b, uint64(d))
	b = binary.AppendUvarint(b, uint64(len(rows)))
	code := make([]int8, d)
	for i, r := range rows {
		b = binary.AppendUvarint(b, uint64(len(r.PhotoID)))
		b = append(b, r.PhotoID...)
		b = binary.AppendUvarint(b, uint64(len(r.ClientID)))
		b = append(b, r.ClientID...)
		scale := quantize(vecs[i], code)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(scale))
		for _, c := range code {
			b = append(b, byte(c))
		}
	}
	return b
}

var errBadPage = errors.New("malformed face index page")

// decodeFacePage reads a page's plaintext.
func decodeFacePage(b []byte) (*facePage, error) {
	if len(b) == 0 || b[0] != facePageFormat {
		return nil, errBadPage
	}
	b = b[1:]
	next := func() (int, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 || v > 1<<20 {
			return 0, false
		}
		b = b[k:]
		return int(v), true
	}
	d, ok1 := next()
	n, ok2 := next()
	if !ok1 || !ok2 || n*(d+6) > len(b) {
		return nil, errBadPage
	}
	p := &facePage{n: n, d: d, codes: make([]int8, n*d), scales: make([]float32, n), l1: make([]int32, n),
		offs: make([]uint32, 0, 2*n+1)}
	p.offs = append(p.offs, 0)
	for i := range n {
		for range 2 {
			k, ok := next()
			if !ok || k > len(b) {
				return nil, errBadPage
			}
			p.ids = append(p.ids, b[:k]...)
			p.offs = append(p.offs, uint32(len(p.ids)))
			b = b[k:]
		}
		if len(b) < 4+d {
			return nil, errBadPage
		}
		p.scales[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		code := p.codes[i*d : (i+1)*d]
		for j := range code {
			code[j] = int8(b[4+j])
		}
		p.l1[i] = l1(code)
		b = b[4+d:]
	}
	if len(b) != 0 {
		return nil, errBadPage
	}
	return p, nil
}

// SealPage seals the plaintext of page p.
func (f *FaceIndexSealer) sealPage(p FacePage, plain []byte) ([]byte, error) {
	b, err := f.pages.Seal(plain, facePageAAD(f.s, p.Epoch, p.Cell, p.Page, p.Version))
	if err != nil {
		return nil, fmt.Errorf("seal face index page %d/%d: %w", p.Cell, p.Page, err)
	}
	return b, nil
}

// openPage opens and decodes page p.
func (f *FaceIndexSealer) openPage(p FacePage) (*facePage, error) {
	b, err := f.pages.Open(nil, p.Data, facePageAAD(f.s, p.Epoch, p.Cell, p.Page, p.Version))
	if err != nil {
		return nil, fmt.Errorf("open face index page %d/%d of epoch %d: %w", p.Cell, p.Page, p.Epoch, err)
	}
	fp, err := decodeFacePage(b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("face index page %d/%d of epoch %d: %w", p.Cell, p.Page, p.Epoch, err)
	}
	return fp, nil
}

// dotsInt8Generic is dotsInt8 in Go.
func dotsInt8Generic(q []int16, codes []int8, out []int32) {
	d := len(q)
	qq := make([]int32, d)
	for i, x := range q {
		qq[i] = int32(x)
	}
	for i := range out {
		c := codes[i*d : (i+1)*d : (i+1)*d]
		var s0, s1, s2, s3 int32
		j := 0
		for ; j+4 <= d; j += 4 {
			cc, qc := c[j:j+4:j+4], qq[j:j+4:j+4]
			s0 += qc[0] * int32(cc[0])
			s1 += qc[1] * int32(cc[1])
			s2 += qc[2] * int32(cc[2])
			s3 += qc[3] * int32(cc[3])
		}
		for ; j < d; j++ {
			s0 += qq[j] * int32(c[j])
		}
		out[i] = s0 + s1 + s2 + s3
	}
}

// pageProbe is a probe coded like a page's faces, to score codes with
// dotsInt8.
type pageProbe struct {
	code   []int8
	code16 []int16 // code, widened for dotsInt8
	scale  float32
	l1     int32
	// cos is the cosine a face must reach to be a candidate: floor/100,
	// or -2 (every face) for a floor of 0 or less.
	cos float64
}

func newPageProbe(probe []float32, floor float64) pageProbe {
	q := pageProbe{code: make([]int8, len(probe)), cos: floor / 100}
	q.scale = quantize(probe, q.code)
	q.l1 = l1(q.code)
	q.code16 = make([]int16, len(q.code))
	for i, c := range q.code {
		q.code16[i] = int16(c)
	}
	if floor <= 0 {
		q.cos = -2
	}
	return q
}

// candidates appends to out the faces of p whose cosine with the probe may
// reach q.cos. With the probe's unit vector u = sq·kq + δq and a face's
// v = se·ke + δe, where each |δ| ≤ scale/2 per dimension, the cosine u·v
// differs from sq·se·(kq·ke) by at most sq·se·(|kq|₁ + |ke|₁ + d/2)/2, to
// which a margin for float rounding is added: a face is a candidate when
// its code's score plus that bound reaches the floor, so no face that
// reaches it is left out.
func (q *pageProbe) candidates(p *facePage, out []int, dots []int32) ([]int, []int32) {
	if q.cos < -1 {
		for i := range p.n {
			out = append(out, i)
		}
		return out, dots
	}
	if p.d != len(q.code) {
		return out, dots // another model's faces: none can match
	}
	dots = slices.Grow(dots[:0], p.n)[:p.n]
	dotsInt8(q.code16, p.codes, dots)
	sq := float64(q.scale)
	half := float64(p.d) / 2
	for i, dot := range dots {
		s := sq * float64(p.scales[i])
		bound := s*(float64(q.l1)+float64(p.l1[i])+half)/2 + 1e-5
		if s*float64(dot)+bound >= q.cos {
			out = append(out, i)
		}
	}
	return out, dots
}

// facePageCache keeps the pages this node opened, for at most facePageTTL
// each and up to budget bytes (least recently used dropped first), so that
// a search reads from the store only the pages that changed. The store
// tells each search the current versions: a page rewritten (new faces,
// deleted faces dropped, a new epoch) is read again. A nil cache keeps
// nothing.
type facePageCache struct {
	mu      sync.Mutex
	budget  int64
	used    int64
	tick    uint64
	swept   time.Time
	entries map[pageCellKey]map[int]*pageEntry
}

type pageCellKey struct {
	s     Scope
	epoch int64
	cell  int
}

type pageEntry struct {
	version int64
	page    *facePage
	used    uint64
	checked time.Time // when the store last had this version
}

func newFacePageCache(budget int64) *facePageCache {
	if budget <= 0 {
		return nil
	}
	return &facePageCache{budget: budget, entries: map[pageCellKey]map[int]*pageEntry{}}
}

// known returns the versions of the pages of cells of epoch of s it holds
// (of every cell it holds if cells is nil).
func (c *facePageCache) known(s Scope, epoch int64, cells []int, now time.Time) []FacePageVersion {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	var out []FacePageVersion
	add := func(cell int, m map[int]*pageEntry) {
		for page, e := range m {
			out = append(out, FacePageVersion{Cell: cell, Page: page, Version: e.version})
		}
	}
	if cells == nil {
		for k, m := range c.entries {
			if k.s == s && k.epoch == epoch {
				add(k.cell, m)
			}
		}
		return out
	}
	for _, cell := range cells {
		add(cell, c.entries[pageCellKey{s, epoch, cell}])
	}
	return out
}

// get returns the opened page of version, if held, and notes that the
// store had this version at now.
func (c *facePageCache) get(s Scope, p FacePage, now time.Time) *facePage {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[pageCellKey{s, p.Epoch, p.Cell}][p.Page]
	if e == nil || e.version != p.Version {
		return nil
	}
	c.tick++
	e.used = c.tick
	e.checked = now
	return e.page
}

// epochs returns the scopes and epochs of which it holds pages.
func (c *facePageCache) epochs() map[Scope][]int64 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[Scope][]int64{}
	for k := range c.entries {
		if !slices.Contains(out[k.s], k.epoch) {
			out[k.s] = append(out[k.s], k.epoch)
		}
	}
	return out
}

// put keeps opened page fp, the content of p, replacing older versions.
func (c *facePageCache) put(s Scope, p FacePage, fp *facePage, now time.Time) {
	if c == nil || fp.size() > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := pageCellKey{s, p.Epoch, p.Cell}
	m := c.entries[k]
	if m == nil {
		m = map[int]*pageEntry{}
		c.entries[k] = m
	}
	if old := m[p.Page]; old != nil {
		c.used -= old.page.size()
	}
	c.tick++
	m[p.Page] = &pageEntry{version: p.Version, page: fp, used: c.tick, checked: now}
	c.used += fp.size()
	if c.used > c.budget {
		c.evictLocked(c.budget * 9 / 10)
	}
}

// dropGone removes the pages of cells of epoch of s that the store no
// longer has (pages lists those it has).
func (c *facePageCache) dropGone(s Scope, epoch int64, cells []int, pages []FacePage) {
	if c == nil {
		return
	}
	have := map[[2]int]bool{}
	for _, p := range pages {
		have[[2]int{p.Cell, p.Page}] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	drop := func(k pageCellKey, m map[int]*pageEntry) {
		for page, e := range m {
			if !have[[2]int{k.cell, page}] {
				c.used -= e.page.size()
				delete(m, page)
			}
		}
		if len(m) == 0 {
			delete(c.entries, k)
		}
	}
	if cells == nil {
		for k, m := range c.entries {
			if k.s == s && k.epoch == epoch {
				drop(k, m)
			}
		}
		return
	}
	for _, cell := range cells {
		k := pageCellKey{s, epoch, cell}
		if m, ok := c.entries[k]; ok {
			drop(k, m)
		}
	}
}

// forget drops the pages of s of epochs before the given one.
func (c *facePageCache) forget(s Scope, before int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, m := range c.entries {
		if k.s == s && k.epoch < before {
			for _, e := range m {
				c.used -= e.page.size()
			}
			delete(c.entries, k)
		}
	}
}

// expire drops the pages last checked more than facePageTTL ago.
func (c *facePageCache) expire(now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.swept = time.Time{}
	c.expireLocked(now)
}

func (c *facePageCache) expireLocked(now time.Time) {
	if now.Sub(c.swept) < time.Second {
		return
	}
	c.swept = now
	for k, m := range c.entries {
		for page, e := range m {
			if now.Sub(e.checked) >= facePageTTL {
				c.used -= e.page.size()
				delete(m, page)
			}
		}
		if len(m) == 0 {
			delete(c.entries, k)
		}
	}
}

// evictLocked drops the least recently used pages until at most target
// bytes are held.
func (c *facePageCache) evictLocked(target int64) {
	type ref struct {
		k    pageCellKey
		page int
		used uint64
	}
	var all []ref
	for k, m := range c.entries {
		for page, e := range m {
			all = append(all, ref{k, page, e.used})
		}
	}
	slices.SortFunc(all, func(a, b ref) int { return cmp.Compare(a.used, b.used) })
	for _, r := range all {
		if c.used <= target {
			return
		}
		m := c.entries[r.k]
		c.used -= m[r.page].page.size()
		delete(m, r.page)
		if len(m) == 0 {
			delete(c.entries, r.k)
		}
	}
}

// nearlyFull reports whether it holds 80% of its budget or more (it
// evicts down to 90%: once full, it stays nearly full).
func (c *facePageCache) nearlyFull() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used >= c.budget*8/10
}

// cells returns the cells of epoch of s of which it holds pages, in order.
func (c *facePageCache) cells(s Scope, epoch int64) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for k := range c.entries {
		if k.s == s && k.epoch == epoch {
			out = append(out, k.cell)
		}
	}
	slices.Sort(out)
	return out
}

// held reports the number of pages and bytes held.
func (c *facePageCache) held() (int, int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.entries {
		n += len(m)
	}
	return n, c.used
}

// FacePagePhotoIDs opens page p of s with key, its epoch's face index key,
// and returns the photo ids it holds, in order.
func FacePagePhotoIDs(key []byte, s Scope, p FacePage) ([]string, error) {
	f, err := NewFaceIndexSealer(key, s, p.Epoch)
	if err != nil {
		return nil, err
	}
	fp, err := f.openPage(p)
	if err != nil {
		return nil, err
	}
	ids := make([]string, fp.n)
	for i := range ids {
		ids[i] = fp.photo(i)
	}
	return ids, nil
}
