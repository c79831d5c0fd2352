// Package blobtest is a conformance suite for facevault.BlobStore
// implementations. It uses the interface only, so every back end is held to
// the same contract.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// Run runs the suite. Each subtest calls open for a new, empty store of its
// own (it is told the subtest's *testing.T, for cleanup) and runs in
// parallel with the others. The store must also implement
// facevault.Identity and facevault.Quarantine: the suite fails if not.
func Run(t *testing.T, open func(t *testing.T) facevault.BlobStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s facevault.BlobStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"ReadAtBeforeCommit", testReadAtBeforeCommit},
		{"Abort", testAbort},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"CommitCancelledContext", testCommitCancelledContext},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"KeysTimeBound", testKeysTimeBound},
		{"KeysStops", testKeysStops},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Identity", testIdentity},
		{"QuarantineRestore", testQuarantineRestore},
		{"RestoreNeverOverwrites", testRestoreNeverOverwrites},
		{"Purge", testPurge},
		{"QuarantineInvalidKeys", testQuarantineInvalidKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// Sizes of the blobs the suite writes: images are at least 34 KB and at
// most 4 MiB.
const (
	small = 40 << 10
	large = 4 << 20
)

func newKey() string { return facevault.NewID(time.Now()) }

// Data returns n random bytes, none of them zero, so that zeroed storage is
// never mistaken for them.
func Data(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		if b[i] == 0 {
			b[i] = 1
		}
	}
	return b
}

// Put stores data under key through Create, Write (in chunks, as an upload
// streams it) and Commit.
func Put(t testing.TB, s facevault.BlobStore, key string, data []byte) {
	t.Helper()
	w := create(t, s, key, data)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatalf("Commit(%s): %v", key, err)
	}
}

// create starts a blob and writes data to it, without committing.
func create(t testing.TB, s facevault.BlobStore, key string, data []byte) facevault.BlobWriter {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
	for chunk := range slices.Chunk(data, 32<<10+7) {
		if n, err := w.Write(chunk); err != nil || n != len(chunk) {
			w.Abort()
			t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", len(chunk), n, err, len(chunk))
		}
	}
	return w
}

// Get reads the whole blob under key through Open.
func Get(t testing.TB, s facevault.BlobStore, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read blob %s: %v", key, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close blob %s: %v", key, err)
	}
	return b
}

// AssertNotFound checks that Open of key fails with an error wrapping
// facevault.ErrNotFound.
func AssertNotFound(t testing.TB, s facevault.BlobStore, key string) {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err == nil {
		r.Close()
		t.Fatalf("Open(%s) succeeded, want an error wrapping facevault.ErrNotFound", key)
	}
	if !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("Open(%s) error = %v, want one wrapping facevault.ErrNotFound", key, err)
	}
}

// Keys lists, sorted, the keys Keys passes for the bound.
func Keys(t testing.TB, s facevault.BlobStore, before time.Time) []string {
	t.Helper()
	var keys []string
	if err := s.Keys(context.Background(), before, func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatalf("Keys(%v): %v", before, err)
	}
	slices.Sort(keys)
	return keys
}

func sorted(keys ...string) []string {
	slices.Sort(keys)
	return keys
}

// future is a bound after every blob of a test; it is far enough ahead to
// absorb the clock of a remote server and its one-second timestamps.
func future() time.Time { return time.Now().Add(time.Hour) }

func testRoundTrip(t *testing.T, s facevault.BlobStore) {
	var keys []string
	for _, size := range []int{small, large} {
		key := newKey()
		data := Data(size)
		Put(t, s, key, data)
		if got := Get(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("Open returned %d bytes differing from the %d written", len(got), len(data))
		}
		keys = append(keys, key)
	}
	if got, want := Keys(t, s, future()), sorted(keys...); !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	// Opening twice gives the same bytes: Open does not consume the blob.
	for _, k := range keys {
		if a, b := Get(t, s, k), Get(t, s, k); !bytes.Equal(a, b) {
			t.Errorf("two Opens of %s returned different bytes", k)
		}
	}
}

func testInvisibleBeforeCommit(t *testing.T, s facevault.BlobStore) {
	key := newKey()
	data := Data(small)
	w := create(t, s, key, data)
	defer w.Abort()

	AssertNotFound(t, s, key)
	if got := Keys(t, s, future()); len(got) != 0 {
		t.Fatalf("Keys listed %q before Commit, want nothing", got)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := Get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("Open after Commit returned %d bytes differing from the %d written", len(got), len(data))
	}
	if got := Keys(t, s, future()); !slices.Equal(got, []string{key}) {
		t.Fatalf("Keys after Commit = %q, want [%s]", got, key)
	}
}

// The liveness check reads an upload back before it is committed.
func testReadAtBeforeCommit(t *testing.T, s facevault.BlobStore) {
	for _, size := range []int{small, large} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := newKey()
			data := Data(size)
			w := create(t, s, key, data)
			defer w.Abort()

			got, err := io.ReadAll(io.NewSectionReader(w, 0, int64(len(data))))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v; want the %d written", len(got), err, len(data))
			}
			for _, off := range []int{0, 1, size / 3, size - 100} {
				p := make([]byte, 100)
				if n, err := w.ReadAt(p, int64(off)); n != len(p) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(100 bytes at %d) = %d, %v", off, n, err)
				}
				if !bytes.Equal(p, data[off:off+100]) {
					t.Fatalf("ReadAt at %d returned bytes differing from those written", off)
				}
			}
			p := make([]byte, 10)
			if n, err := w.ReadAt(p, int64(size)); n != 0 || err != io.EOF {
				t.Errorf("ReadAt at the end = %d, %v; want 0, io.EOF", n, err)
			}
			// Writing more after reading back appends.
			more := Data(1000)
			if _, err := w.Write(more); err != nil {
				t.Fatalf("Write after ReadAt: %v", err)
			}
			if err := w.Commit(context.Background()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if got := Get(t, s, key); !bytes.Equal(got, append(data, more...)) {
				t.Fatalf("Open returned %d bytes differing from the %d written", len(got), len(data)+len(more))
			}
		})
	}
}

func testAbort(t *testing.T, s facevault.BlobStore) {
	key := newKey()
	w := create(t, s, key, Data(small))
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	AssertNotFound(t, s, key)
	if got := Keys(t, s, future()); len(got) != 0 {
		t.Fatalf("Keys listed %q after Abort, want nothing", got)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: got %v, want nil", err)
	}
	if err := w.Commit(context.Background()); err == nil {
		t.Errorf("Commit after Abort: got nil, want an error")
	}
	AssertNotFound(t, s, key)
	if got := Keys(t, s, future()); len(got) != 0 {
		t.Fatalf("Keys listed %q after Commit of an aborted blob, want nothing", got)
	}
	// The key can still be used.
	data := Data(small)
	Put(t, s, key, data)
	if got := Get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("blob written after an aborted one: got %d bytes differing from the %d written", len(got), len(data))
	}
}

func testAbortAfterCommit(t *testing.T, s facevault.BlobStore) {
	key := newKey()
	data := Data(small)
	w := create(t, s, key, data)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Commit(context.Background()); err == nil {
		t.Errorf("second Commit: got nil, want an error")
	}
	for i := range 2 {
		if err := w.Abort(); err != nil {
			t.Errorf("Abort %d after Commit: got %v, want nil", i+1, err)
		}
	}
	if got := Get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("blob after Commit, Commit, Abort, Abort: got %d bytes differing from the %d written", len(got), len(data))
	}
	if got := Keys(t, s, future()); !slices.Equal(got, []string{key}) {
		t.Fatalf("Keys = %q, want [%s]", got, key)
	}
}

func testCommitCancelledContext(t *testing.T, s facevault.BlobStore) {
	key := newKey()
	w := create(t, s, key, Data(small))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: got %v, want an error wrapping context.Canceled", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after a failed Commit: got %v, want nil", err)
	}
	AssertNotFound(t, s, key)
	if got := Keys(t, s, future()); len(got) != 0 {
		t.Fatalf("Keys listed %q after a cancelled Commit, want nothing", got)
	}
}

func testDelete(t *testing.T, s facevault.BlobStore) {
	key, other := newKey(), newKey()
	data, otherData := Data(small), Data(small)
	Put(t, s, key, data)
	Put(t, s, other, otherData)

	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	AssertNotFound(t, s, key)
	if got := Keys(t, s, future()); !slices.Equal(got, []string{other}) {
		t.Fatalf("Keys after Delete = %q, want only the other blob [%s]", got, other)
	}
	if got := Get(t, s, other); !bytes.Equal(got, otherData) {
		t.Fatalf("the other blob changed when one was deleted")
	}
	if err := s.Delete(context.Background(), key); err != nil {
		t.Errorf("second Delete: got %v, want nil", err)
	}
	// A deleted key can be written again.
	Put(t, s, key, data)
	if got := Get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("blob rewritten after Delete: got %d bytes differing from the %d written", len(got), len(data))
	}
}

func testDeleteMissing(t *testing.T, s facevault.BlobStore) {
	if err := s.Delete(context.Background(), newKey()); err != nil {
		t.Errorf("Delete of a key never written: got %v, want nil", err)
	}
	// Aborted, never committed.
	key := newKey()
	w := create(t, s, key, Data(small))
	w.Abort()
	if err := s.Delete(context.Background(), key); err != nil {
		t.Errorf("Delete of an aborted blob: got %v, want nil", err)
	}
}

func testKeysTimeBound(t *testing.T, s facevault.BlobStore) {
	start := time.Now()
	a, b, c := newKey(), newKey(), newKey()
	for _, k := range []string{a, b, c} {
		Put(t, s, k, Data(small))
	}
	// An uncommitted blob is never a key.
	w := create(t, s, newKey(), Data(small))
	defer w.Abort()

	for _, tc := range []struct {
		name   string
		before time.Time
		want   []string
	}{
		{"an hour ahead", future(), sorted(a, b, c)},
		{"a day ahead", time.Now().Add(24 * time.Hour), sorted(a, b, c)},
		{"an hour before the writes", start.Add(-time.Hour), nil},
		{"the zero time", time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Keys(t, s, tc.before); !slices.Equal(got, tc.want) {
				t.Errorf("Keys(%v) = %q, want %q", tc.before, got, tc.want)
			}
		})
	}
}

func testKeysStops(t *testing.T, s facevault.BlobStore) {
	for range 3 {
		Put(t, s, newKey(), Data(small))
	}
	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := s.Keys(context.Background(), future(), func(string) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Errorf("Keys: got %v, want the callback's error", err)
		}
		if calls != 1 {
			t.Errorf("callback called %d times, want 1", calls)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Keys(ctx, future(), func(k string) error {
			t.Errorf("callback called with %s after cancellation", k)
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Keys: got %v, want an error wrapping context.Canceled", err)
		}
	})
}

func testInvalidKeys(t *testing.T, s facevault.BlobStore) {
	valid := newKey()
	data := Data(small)
	Put(t, s, valid, data)
	for _, key := range []string{
		"",
		"abc",
		valid[:23],                    // 23 hex
		valid + "0",                   // 25 hex
		strings.ToUpper(valid),        // upper-case hex
		valid[:23] + "g",              // not hex
		"../" + valid[3:],             // climbs out
		"..",                          // parent
		valid[:22] + "/" + valid[23:], // slash inside
		"/" + valid[1:],               // absolute
		valid + "/../" + valid,        // a valid key, then climbs
		valid[:23] + "\x00",           // NUL
		valid[:12] + "?" + valid[13:], // query
		valid[:12] + "%" + valid[13:], // escape
	} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if w, err := s.Create(context.Background(), key); err == nil {
				w.Abort()
				t.Errorf("Create(%q) succeeded, want an error", key)
			}
			if r, err := s.Open(context.Background(), key); err == nil {
				r.Close()
				t.Errorf("Open(%q) succeeded, want an error", key)
			}
			if err := s.Delete(context.Background(), key); err == nil {
				t.Errorf("Delete(%q) succeeded, want an error", key)
			}
		})
	}
	if got := Keys(t, s, future()); !slices.Equal(got, []string{valid}) {
		t.Errorf("Keys = %q, want [%s]", got, valid)
	}
	if got := Get(t, s, valid); !bytes.Equal(got, data) {
		t.Errorf("the valid blob changed")
	}
}

func testConcurrentWriters(t *testing.T, s facevault.BlobStore) {
	const n = 8
	keys := make([]string, n)
	data := make([][]byte, n)
	for i := range n {
		keys[i], data[i] = newKey(), Data(small+i*1000)
	}
	// Half the writers abort; they must not disturb the others.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			w, err := s.Create(context.Background(), keys[i])
			if err != nil {
				errs[i] = fmt.Errorf("Create: %w", err)
				return
			}
			for chunk := range slices.Chunk(data[i], 4096) {
				if _, err := w.Write(chunk); err != nil {
					w.Abort()
					errs[i] = fmt.Errorf("Write: %w", err)
					return
				}
			}
			if i%2 == 1 {
				errs[i] = w.Abort()
				return
			}
			errs[i] = w.Commit(context.Background())
		})
	}
	wg.Wait()
	var want []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if i%2 == 1 {
			AssertNotFound(t, s, keys[i])
			continue
		}
		want = append(want, keys[i])
		if got := Get(t, s, keys[i]); !bytes.Equal(got, data[i]) {
			t.Errorf("blob %d: got %d bytes differing from the %d written", i, len(got), len(data[i]))
		}
	}
	if got := Keys(t, s, future()); !slices.Equal(got, sorted(want...)) {
		t.Errorf("Keys = %q, want %q", got, sorted(want...))
	}
}
