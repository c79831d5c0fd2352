package facevault_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/internal/blobtest"
	"github.com/facevault/facevault/sqlite"
)

func TestSweepLimit(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 0}, {1, 0}, {2, 1}, {3, 1}, {5, 2}, {31, 15}, {32, 16}, {100, 16},
		{1600, 16}, {1699, 16}, {1700, 17}, {10_000, 100}, {1_000_000, 10_000},
	} {
		if got := facevault.SweepLimit(tc.n); got != tc.want {
			t.Errorf("SweepLimit(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// sweepFixture is a vault on a real SQLite database and image directory.
type sweepFixture struct {
	vault *facevault.Vault
	db    *sqlite.DB
	blobs *fsblob.Store
	scope facevault.Scope
	// client holds the photos the fixture records.
	client string
}

func newSweepFixture(t *testing.T) *sweepFixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	acct, err := db.EnsureAccount(t.Context(), "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &sweepFixture{
		vault: facevault.NewVault(db, blobs, slog.New(slog.NewTextHandler(io.Discard, nil))),
		db:    db,
		blobs: blobs,
		scope: facevault.Scope{AccountID: acct.ID, Mode: facevault.ModeTest},
	}
	c, err := facevault.NewClient(person(), time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateClient(t.Context(), f.scope, c); err != nil {
		t.Fatal(err)
	}
	f.client = c.ID
	return f
}

// photo stores an image and its record.
func (f *sweepFixture) photo(t *testing.T) string {
	t.Helper()
	key := f.orphan(t)
	f.record(t, key)
	return key
}

// record commits the record of an image stored already.
func (f *sweepFixture) record(t *testing.T, key string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := &facevault.LivePhoto{ID: key, ClientID: f.client, ContentType: facevault.ContentTypeJPEG, Size: 40 << 10,
		Width: 1, Height: 1, SHA256: strings.Repeat("ab", 32), CreatedAt: now, UpdatedAt: now}
	if err := f.db.CreateLivePhoto(t.Context(), f.scope, p); err != nil {
		t.Fatal(err)
	}
}

// orphan stores an image without a record.
func (f *sweepFixture) orphan(t *testing.T) string {
	t.Helper()
	key := facevault.NewID(time.Now())
	blobtest.Put(t, f.blobs, key, blobtest.Data(40<<10))
	return key
}

func (f *sweepFixture) keys(t *testing.T) []string {
	t.Helper()
	return blobtest.Keys(t, f.blobs, time.Now().Add(time.Hour))
}

func (f *sweepFixture) quarantined(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, b := range blobtest.Quarantined(t, f.blobs) {
		keys = append(keys, b.Key)
	}
	return keys
}

func sortedKeys(keys ...[]string) []string {
	all := slices.Concat(keys...)
	slices.Sort(all)
	return all
}

// TestSweepBound sweeps 15 images, 7 or 8 of them orphans: SweepLimit(15)
// is 7. Seven go to quarantine; eight are refused, and nothing moves,
// unless forced.
func TestSweepBound(t *testing.T) {
	everything := facevault.SweepOptions{Before: time.Now().Add(time.Hour), QuarantineFor: time.Hour}
	for _, tc := range []struct {
		name    string
		orphans int
		force   bool
		refused bool
	}{
		{"AtTheLimit", 7, false, false},
		{"OverTheLimit", 8, false, true},
		{"OverTheLimitForced", 8, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSweepFixture(t)
			var photos, orphans []string
			for range 15 - tc.orphans {
				photos = append(photos, f.photo(t))
			}
			for range tc.orphans {
				orphans = append(orphans, f.orphan(t))
			}
			o := everything
			o.Force = tc.force
			res, err := f.vault.Sweep(t.Context(), o)
			if res.Examined != 15 || res.Orphans != tc.orphans {
				t.Errorf("examined %d with %d orphans, want 15 with %d", res.Examined, res.Orphans, tc.orphans)
			}
			var refused *facevault.SweepRefusedError
			if tc.refused {
				if !errors.As(err, &refused) || refused.Orphans != tc.orphans || refused.Examined != 15 || refused.Limit != 7 {
					t.Fatalf("Sweep = %v, want a *SweepRefusedError for %d of 15 over a limit of 7", err, tc.orphans)
				}
				if res.Quarantined != 0 || res.Destroyed != 0 {
					t.Errorf("a refused sweep removed %d+%d images", res.Quarantined, res.Destroyed)
				}
				if got := f.keys(t); !slices.Equal(got, sortedKeys(photos, orphans)) {
					t.Errorf("after a refused sweep the store holds %q, want every image", got)
				}
				if q := f.quarantined(t); len(q) != 0 {
					t.Errorf("a refused sweep quarantined %q", q)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			if res.Quarantined != tc.orphans {
				t.Errorf("quarantined %d, want %d", res.Quarantined, tc.orphans)
			}
			if got := f.keys(t); !slices.Equal(got, sortedKeys(photos)) {
				t.Errorf("after the sweep the store holds %q, want the photos %q", got, sortedKeys(photos))
			}
			if got := f.quarantined(t); !slices.Equal(got, sortedKeys(orphans)) {
				t.Errorf("quarantine holds %q, want the orphans %q", got, sortedKeys(orphans))
			}
		})
	}
}

// TestSweepQuarantineExpiry: a quarantined image is kept for QuarantineFor,
// then purged by a sweep; QuarantineFor 0 destroys orphans at once.
func TestSweepQuarantineExpiry(t *testing.T) {
	f := newSweepFixture(t)
	for range 4 {
		f.photo(t)
	}
	orphan := f.orphan(t)
	week := 7 * 24 * time.Hour
	o := facevault.SweepOptions{Before: time.Now().Add(time.Hour), QuarantineFor: week}
	if res, err := f.vault.Sweep(t.Context(), o); err != nil || res.Quarantined != 1 || res.Expired != 0 {
		t.Fatalf("first sweep: %+v, %v; want 1 quarantined", res, err)
	}
	// Six days later: still there.
	start := time.Now()
	f.vault.Now = func() time.Time { return start.Add(6 * 24 * time.Hour) }
	if res, err := f.vault.Sweep(t.Context(), o); err != nil || res.Expired != 0 {
		t.Fatalf("sweep six days on: %+v, %v; want nothing purged", res, err)
	}
	if got := f.quarantined(t); !slices.Equal(got, []string{orphan}) {
		t.Fatalf("quarantine six days on = %q, want [%s]", got, orphan)
	}
	// Eight days later: purged.
	f.vault.Now = func() time.Time { return start.Add(8 * 24 * time.Hour) }
	if res, err := f.vault.Sweep(t.Context(), o); err != nil || res.Expired != 1 {
		t.Fatalf("sweep eight days on: %+v, %v; want 1 purged", res, err)
	}
	if got := f.quarantined(t); len(got) != 0 {
		t.Fatalf("quarantine eight days on = %q, want nothing", got)
	}
	if err := f.blobs.Restore(t.Context(), orphan); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Restore of a purged image: %v, want ErrNotFound", err)
	}

	// QuarantineFor 0: destroyed at once, and what was quarantined goes too.
	f.vault.Now = time.Now
	quarantined, destroyed := f.orphan(t), f.orphan(t)
	if err := f.blobs.Quarantine(t.Context(), quarantined); err != nil {
		t.Fatal(err)
	}
	res, err := f.vault.Sweep(t.Context(), facevault.SweepOptions{Before: time.Now().Add(time.Hour)})
	if err != nil || res.Destroyed != 1 || res.Quarantined != 0 || res.Expired != 1 {
		t.Fatalf("sweep with QuarantineFor 0: %+v, %v; want 1 destroyed, 1 purged", res, err)
	}
	blobtest.AssertNotFound(t, f.blobs, destroyed)
	if got := f.quarantined(t); len(got) != 0 {
		t.Errorf("quarantine after a sweep with QuarantineFor 0 = %q, want nothing", got)
	}
}

// lateRecords is a store whose first ExistingLivePhotos answer is followed
// by the commit of a record for one of the images it reported without: an
// upload that committed its record while the sweep ran.
type lateRecords struct {
	facevault.Store
	once   sync.Once
	commit func()
}

func (s *lateRecords) ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error) {
	exist, err := s.Store.ExistingLivePhotos(ctx, ids)
	s.once.Do(s.commit)
	return exist, err
}

// TestSweepSparesRecordsCommittedMeanwhile: the sweep looks each orphan's
// record up again just before moving it, so that an image whose record was
// committed after the sweep listed it stays.
func TestSweepSparesRecordsCommittedMeanwhile(t *testing.T) {
	f := newSweepFixture(t)
	for range 4 {
		f.photo(t)
	}
	late, orphan := f.orphan(t), f.orphan(t)
	f.vault.Store = &lateRecords{Store: f.db, commit: func() { f.record(t, late) }}
	res, err := f.vault.Sweep(t.Context(), facevault.SweepOptions{Before: time.Now().Add(time.Hour), QuarantineFor: time.Hour})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if res.Orphans != 2 || res.Quarantined != 1 {
		t.Errorf("sweep: %+v; want 2 orphans found, 1 quarantined", res)
	}
	if got := f.quarantined(t); !slices.Equal(got, []string{orphan}) {
		t.Errorf("quarantine = %q, want only the true orphan %s", got, orphan)
	}
	blobtest.Get(t, f.blobs, late) // still readable: its record came
}

// TestSweepNeedsQuarantine: a positive QuarantineFor on an image store
// without a quarantine is an error, and removes nothing.
func TestSweepNeedsQuarantine(t *testing.T) {
	f := newSweepFixture(t)
	orphan := f.orphan(t)
	f.vault.Blobs = struct{ facevault.BlobStore }{f.blobs} // hides Quarantine
	_, err := f.vault.Sweep(t.Context(), facevault.SweepOptions{Before: time.Now().Add(time.Hour), QuarantineFor: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "no quarantine") {
		t.Fatalf("Sweep = %v, want an error saying the image store has no quarantine", err)
	}
	blobtest.Get(t, f.blobs, orphan)
}
