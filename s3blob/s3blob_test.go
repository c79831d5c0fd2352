package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/blobtest"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/tcpproxy"
)

// storeURL is the s3:// URL of a bucket (and prefix) on an endpoint.
func storeURL(endpoint, bucket, prefix string) string {
	u := "s3://" + bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u + "?endpoint=" + endpoint
}

// openStore opens a store on the URL with a spool directory of its own,
// and checks, when the test ends, that the spool directory is empty.
func openStore(t testing.TB, rawURL string, opts Options) *Store {
	t.Helper()
	if opts.SpoolDir == "" {
		opts.SpoolDir = filepath.Join(t.TempDir(), "spool")
	}
	s, err := Open(context.Background(), rawURL, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { assertSpoolEmpty(t, opts.SpoolDir) })
	return s
}

// newStore opens a store on a new bucket of the test server.
func newStore(t testing.TB, prefix string) (*Store, string) {
	t.Helper()
	endpoint, bucket := s3test.Bucket(t)
	return openStore(t, storeURL(endpoint, bucket, prefix), Options{}), bucket
}

func assertSpoolEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("read spool directory: %v", err)
		return
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 0 {
		t.Errorf("spool directory %s holds %q, want nothing", dir, names)
	}
}

func newKey() string { return facevault.NewID(time.Now()) }

func TestConformance(t *testing.T) {
	t.Run("NoPrefix", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) facevault.BlobStore {
			s, _ := newStore(t, "")
			return s
		})
	})
	t.Run("Prefix", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) facevault.BlobStore {
			s, _ := newStore(t, "tenant/a")
			return s
		})
	})
	t.Run("NoChecksum", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) facevault.BlobStore {
			endpoint, bucket := s3test.Bucket(t)
			return openStore(t, storeURL(endpoint, bucket, ""), Options{NoChecksum: true})
		})
	})
	t.Run("Versioned", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) facevault.BlobStore {
			endpoint, bucket := s3test.Bucket(t)
			enableVersioning(t, bucket)
			s := openStore(t, storeURL(endpoint, bucket, "v"), Options{})
			if !s.Versioned() {
				t.Fatalf("Versioned() = false on a bucket with versioning enabled")
			}
			return s
		})
	})
}

func enableVersioning(t testing.TB, bucket string) {
	t.Helper()
	err := s3test.Client(t).EnableVersioning(context.Background(), bucket)
	if minio.ToErrorResponse(err).Code == "VersioningNotConfigured" {
		t.Fatalf("the S3 server at %s refuses bucket versioning (%v): start VersityGW with --versioning-dir DIR", s3test.Endpoint(t), err)
	}
	if err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
}

// TestObjectLayout checks where the blobs go in the bucket, what they carry,
// and that Keys ignores every other object.
func TestObjectLayout(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	c := s3test.Client(t)
	ctx := t.Context()
	plain := openStore(t, storeURL(endpoint, bucket, ""), Options{})
	// With the region given, and without: minio-go then asks the server.
	prefixed := openStore(t, storeURL(endpoint, bucket, "tenant/a")+"&region=us-east-1", Options{})
	if plain.Versioned() {
		t.Errorf("Versioned() = true on a new bucket")
	}
	k1, k2 := newKey(), newKey()
	data := blobtest.Data(40 << 10)
	blobtest.Put(t, plain, k1, data)
	blobtest.Put(t, prefixed, k2, data)

	// Objects that are not blobs of either store.
	for _, name := range []string{
		"livephotos/not-an-id",
		"livephotos/" + newKey() + ".tmp",
		"livephotos/" + newKey() + "/nested",
		"livephotos/" + strings.ToUpper(newKey()),
		"other/" + newKey(),
		newKey(),
		"tenant/livephotos/" + newKey(),
		"tenant/a/" + newKey(),
	} {
		if _, err := c.PutObject(ctx, bucket, name, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}

	var all []string
	for o := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		all = append(all, o.Key)
	}
	for _, want := range []string{"livephotos/" + k1, "tenant/a/livephotos/" + k2} {
		if !slices.Contains(all, want) {
			t.Errorf("bucket holds %q, want it to hold %s", all, want)
		}
	}
	if got := blobtest.Keys(t, plain, time.Now().Add(time.Hour)); !slices.Equal(got, []string{k1}) {
		t.Errorf("Keys of the store without prefix = %q, want [%s]", got, k1)
	}
	if got := blobtest.Keys(t, prefixed, time.Now().Add(time.Hour)); !slices.Equal(got, []string{k2}) {
		t.Errorf("Keys of the store with prefix = %q, want [%s]", got, k2)
	}
	blobtest.AssertNotFound(t, plain, k2)
	blobtest.AssertNotFound(t, prefixed, k1)

	st, err := c.StatObject(ctx, bucket, "livephotos/"+k1, statOptions(""))
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if st.ContentType != "application/octet-stream" {
		t.Errorf("Content-Type = %q, want application/octet-stream", st.ContentType)
	}
	if st.ChecksumSHA256 == "" {
		t.Errorf("the stored object has no SHA-256 checksum")
	}
}

// TestChecksumRefusesCorruption changes the spool file behind the writer's
// back: the server must refuse the upload, since the checksum is of the
// bytes as they were written.
func TestChecksumRefusesCorruption(t *testing.T) {
	s, _ := newStore(t, "")
	key := newKey()
	data := blobtest.Data(40 << 10)
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	name := w.(*writer).f.Name()
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[1000] ^ 0xff}, 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = w.Commit(t.Context())
	if err == nil {
		t.Fatalf("Commit of a spool file changed after writing succeeded, want an error")
	}
	t.Logf("Commit: %v", err)
	if !strings.Contains(err.Error(), "s3blob: put livephotos/"+key) {
		t.Errorf("Commit error %q does not say what failed", err)
	}
	blobtest.AssertNotFound(t, s, key)
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spool file after a failed Commit: %v, want it gone", err)
	}
}

// TestReaderVerifies checks the download side: a body that differs from the
// recorded checksum, or is short, ends in an error rather than io.EOF.
func TestReaderVerifies(t *testing.T) {
	data := []byte("some image bytes")
	h := sha256.Sum256(data)
	sum := base64.StdEncoding.EncodeToString(h[:])
	for _, tc := range []struct {
		name string
		body []byte
		size int64
		ok   bool
	}{
		{"intact", data, int64(len(data)), true},
		{"changed", append(bytes.Clone(data[:len(data)-1]), '!'), int64(len(data)), false},
		{"short", data[:5], int64(len(data)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reader{body: io.NopCloser(bytes.NewReader(tc.body)), object: "o", size: tc.size, sha: sha256.New(), want: sum}
			_, err := io.ReadAll(r)
			if tc.ok && err != nil {
				t.Errorf("read: %v", err)
			}
			if !tc.ok && err == nil {
				t.Errorf("read succeeded, want an error")
			}
		})
	}
}

// TestSpoolFiles checks the spool file's mode, and that Abort and Commit
// overwrite it with zeros before removing it: a hard link kept to it shows
// what is left on disk.
func TestSpoolFiles(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	root := t.TempDir()
	spool := filepath.Join(root, "spool")
	s := openStore(t, storeURL(endpoint, bucket, ""), Options{SpoolDir: spool})
	for _, commit := range []bool{false, true} {
		key := newKey()
		data := blobtest.Data(100<<10 + 123)
		w, err := s.Create(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(spool)
		if len(entries) != 1 {
			t.Fatalf("spool directory holds %d files while writing, want 1", len(entries))
		}
		info, err := entries[0].Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("spool file mode %v, want 0600", info.Mode().Perm())
		}
		link := filepath.Join(root, "link")
		os.Remove(link)
		if err := os.Link(filepath.Join(spool, entries[0].Name()), link); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = w.Commit(t.Context())
		} else {
			err = w.Abort()
		}
		if err != nil {
			t.Fatalf("Commit=%v: %v", commit, err)
		}
		assertSpoolEmpty(t, spool)
		b, err := os.ReadFile(link)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(data) {
			t.Fatalf("spool file holds %d bytes after destruction, want %d zeros", len(b), len(data))
		}
		if i := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); i >= 0 {
			t.Fatalf("spool file byte %d is %#x after destruction, want 0", i, b[i])
		}
		if _, err := w.ReadAt(make([]byte, 1), 0); err == nil {
			t.Errorf("ReadAt after destruction succeeded, want an error")
		}
	}
}

// TestStaleSpoolFiles checks that Open destroys the spool files of dead
// processes and leaves those of live writers alone.
func TestStaleSpoolFiles(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	rawURL := storeURL(endpoint, bucket, "")
	root := t.TempDir()
	spool := filepath.Join(root, "spool")
	live := openStore(t, rawURL, Options{SpoolDir: spool})
	w, err := live.Create(t.Context(), newKey())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	liveData := blobtest.Data(50 << 10)
	if _, err := w.Write(liveData); err != nil {
		t.Fatal(err)
	}

	// What a crash leaves: a spool file nobody holds a lock on.
	staleData := blobtest.Data(60 << 10)
	stale := filepath.Join(spool, "facevault-s3blob-123456.spool")
	if err := os.WriteFile(stale, staleData, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Link(stale, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(spool, "not-ours")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), rawURL, Options{SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	if s.StaleSpoolFiles() != 1 {
		t.Errorf("StaleSpoolFiles() = %d, want 1", s.StaleSpoolFiles())
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale spool file after Open: %v, want it gone", err)
	}
	if b, _ := os.ReadFile(link); len(b) != len(staleData) || slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		t.Errorf("stale spool file was not overwritten with zeros")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file not named like a spool file was touched: %v", err)
	}
	os.Remove(other)
	// The live writer is intact and still commits.
	if got, err := io.ReadAll(io.NewSectionReader(w, 0, int64(len(liveData)))); err != nil || !bytes.Equal(got, liveData) {
		t.Fatalf("live writer reads back %d bytes, %v; want the %d written", len(got), err, len(liveData))
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit of the live writer: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	endpoint := s3test.Endpoint(t)
	spool := t.TempDir()
	quick := Options{SpoolDir: spool, MaxAttempts: 2, DialTimeout: time.Second, ResponseHeaderTimeout: 500 * time.Millisecond}

	// A listener that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()

	for _, tc := range []struct {
		name, url string
		opts      Options
		want      string
	}{
		{"missing bucket", storeURL(endpoint, "facevault-no-such-bucket", ""), quick,
			"s3blob: bucket facevault-no-such-bucket does not exist at " + endpoint},
		{"connection refused", storeURL("http://127.0.0.1:1", "bucket", ""), quick,
			"s3blob: cannot reach http://127.0.0.1:1: "},
		{"server never answers", storeURL("http://"+silent.Addr().String(), "bucket", ""), quick,
			"s3blob: cannot reach http://" + silent.Addr().String() + ": "},
		{"wrong secret", storeURL(endpoint, "bucket", ""),
			Options{SpoolDir: spool, Credentials: credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), "wrong", "")},
			"s3blob: bucket bucket at " + endpoint + ": "},
		{"malformed URL", "s3://bucket?endpoint=127.0.0.1:7070", quick, "must be an http:// or https:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(t.Context(), tc.url, tc.opts)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Open(%s) succeeded (versioned %v), want an error", tc.url, s.Versioned())
			}
			t.Logf("Open: %v (%v)", err, took.Round(time.Millisecond))
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s) error = %q, want it to contain %q", tc.url, err, tc.want)
			}
			if took > 5*time.Second {
				t.Errorf("Open took %v to fail, want it to fail fast", took)
			}
		})
	}

	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		t.Setenv("AWS_ACCESS_KEY", "")
		t.Setenv("AWS_SECRET_KEY", "")
		_, err := Open(t.Context(), storeURL(endpoint, "bucket", ""), quick)
		if err == nil || !strings.Contains(err.Error(), "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
			t.Errorf("Open without credentials: got %v, want an error naming the variables", err)
		}
	})
	assertSpoolEmpty(t, spool)
}

// TestVersionedDelete checks that Delete on a versioned bucket leaves no
// version and no delete marker of the key, where a plain DELETE would only
// hide the bytes behind a delete marker.
func TestVersionedDelete(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	enableVersioning(t, bucket)
	c := s3test.Client(t)
	ctx := t.Context()
	s := openStore(t, storeURL(endpoint, bucket, ""), Options{})
	if !s.Versioned() {
		t.Fatalf("Versioned() = false on a bucket with versioning enabled")
	}
	versions := func(key string) []minio.ObjectInfo {
		t.Helper()
		var vs []minio.ObjectInfo
		for o := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: "livephotos/" + key, WithVersions: true, Recursive: true}) {
			if o.Err != nil {
				t.Fatalf("list versions: %v", o.Err)
			}
			vs = append(vs, o)
		}
		return vs
	}

	// Two versions of the key, then a plain DELETE, as a tool other than
	// FaceVault would do: the bytes are hidden, not gone.
	key := newKey()
	v1, v2 := blobtest.Data(40<<10), blobtest.Data(40<<10)
	blobtest.Put(t, s, key, v1)
	blobtest.Put(t, s, key, v2)
	if got := blobtest.Get(t, s, key); !bytes.Equal(got, v2) {
		t.Fatalf("Open returned the older version")
	}
	if err := c.RemoveObject(ctx, bucket, "livephotos/"+key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	blobtest.AssertNotFound(t, s, key)
	vs := versions(key)
	markers := 0
	for _, v := range vs {
		if v.IsDeleteMarker {
			markers++
		}
	}
	t.Logf("after a plain DELETE: %d versions, %d of them delete markers", len(vs), markers)
	if len(vs) != 3 || markers != 1 {
		t.Fatalf("after a plain DELETE the key has %d versions (%d delete markers), want 2 versions and a delete marker", len(vs), markers)
	}
	// The old bytes can still be read by version: this is what Delete must
	// prevent.
	old, err := c.GetObject(ctx, bucket, "livephotos/"+key, minio.GetObjectOptions{VersionID: vs[len(vs)-1].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(old); err != nil || !bytes.Equal(b, v1) {
		t.Fatalf("reading the oldest version: %d bytes, %v", len(b), err)
	}
	old.Close()

	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if vs := versions(key); len(vs) != 0 {
		t.Fatalf("after Delete the key still has %d versions: %+v", len(vs), vs)
	}

	// A blob deleted through the store only.
	key2 := newKey()
	blobtest.Put(t, s, key2, v1)
	if err := s.Delete(ctx, key2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	blobtest.AssertNotFound(t, s, key2)
	if vs := versions(key2); len(vs) != 0 {
		t.Fatalf("after Delete the key still has %d versions", len(vs))
	}
	if err := s.Delete(ctx, key2); err != nil {
		t.Errorf("second Delete: %v", err)
	}

	// Suspended versioning keeps the old versions: still versioned.
	if err := c.SuspendVersioning(ctx, bucket); err != nil {
		t.Fatalf("suspend versioning: %v", err)
	}
	if s := openStore(t, storeURL(endpoint, bucket, ""), Options{}); !s.Versioned() {
		t.Errorf("Versioned() = false on a bucket with versioning suspended")
	}
}

// TestFaults cuts the way to the server under a store and restores it: every
// operation fails with an error while it is cut, nothing half-done is left,
// and the same store works again once it is restored.
func TestFaults(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	direct := openStore(t, storeURL(endpoint, bucket, ""), Options{})
	p := tcpproxy.Start(t, strings.TrimPrefix(endpoint, "http://"))
	spool := filepath.Join(t.TempDir(), "spool")
	s := openStore(t, storeURL(p.URL(), bucket, ""), Options{SpoolDir: spool, MaxAttempts: 2})
	ctx := t.Context()

	kept := newKey()
	keptData := blobtest.Data(40 << 10)
	blobtest.Put(t, s, kept, keptData)

	fails := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded through a cut connection, want an error", what)
		}
		if !strings.HasPrefix(err.Error(), "s3blob: ") {
			t.Errorf("%s error %q has no s3blob context", what, err)
		}
		t.Logf("%s: %v", what, err)
	}
	timed := func(t *testing.T, f func()) {
		t.Helper()
		start := time.Now()
		f()
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("took %v to fail, want it to fail fast", took)
		}
	}

	t.Run("cut", func(t *testing.T) {
		p.Cut()
		key := newKey()
		timed(t, func() {
			w, err := s.Create(ctx, key)
			if err != nil {
				t.Fatalf("Create needs no server, but: %v", err)
			}
			if _, err := w.Write(blobtest.Data(40 << 10)); err != nil {
				t.Fatal(err)
			}
			fails(t, "Commit", w.Commit(ctx))
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after a failed Commit: %v", err)
			}
		})
		assertSpoolEmpty(t, spool)
		timed(t, func() {
			r, err := s.Open(ctx, kept)
			if err == nil {
				r.Close()
			}
			fails(t, "Open", err)
			if errors.Is(err, facevault.ErrNotFound) {
				t.Errorf("Open through a cut connection says not found; a missing server is not a missing blob")
			}
		})
		timed(t, func() { fails(t, "Delete", s.Delete(ctx, kept)) })
		timed(t, func() {
			fails(t, "Keys", s.Keys(ctx, time.Now().Add(time.Hour), func(string) error { return nil }))
		})
		// Nothing happened on the server.
		blobtest.AssertNotFound(t, direct, key)
		if got := blobtest.Get(t, direct, kept); !bytes.Equal(got, keptData) {
			t.Fatalf("the committed blob changed")
		}
	})

	t.Run("cut mid-upload", func(t *testing.T) {
		p.RestoreLimited(1<<20, false)
		defer p.Cut()
		key := newKey()
		w, err := s.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(blobtest.Data(4 << 20)); err != nil {
			t.Fatal(err)
		}
		timed(t, func() { fails(t, "Commit", w.Commit(ctx)) })
		assertSpoolEmpty(t, spool)
		blobtest.AssertNotFound(t, direct, key)
		if got := blobtest.Keys(t, direct, time.Now().Add(time.Hour)); !slices.Equal(got, []string{kept}) {
			t.Fatalf("Keys after a cut upload = %q, want only [%s]", got, kept)
		}
	})

	t.Run("restored", func(t *testing.T) {
		p.Restore()
		key := newKey()
		data := blobtest.Data(4 << 20)
		blobtest.Put(t, s, key, data)
		if got := blobtest.Get(t, direct, key); !bytes.Equal(got, data) {
			t.Fatalf("blob committed after the restore differs")
		}
		if got := blobtest.Get(t, s, kept); !bytes.Equal(got, keptData) {
			t.Fatalf("Open after the restore returned different bytes")
		}
		if err := s.Delete(ctx, kept); err != nil {
			t.Fatalf("Delete after the restore: %v", err)
		}
		blobtest.AssertNotFound(t, direct, kept)
		if got := blobtest.Keys(t, s, time.Now().Add(time.Hour)); !slices.Equal(got, []string{key}) {
			t.Fatalf("Keys after the restore = %q, want [%s]", got, key)
		}
	})
}

// TestStalledCommit stalls the upload (the server stops receiving the body
// after 1 MiB): Commit fails when its context ends, or at CommitTimeout if
// the context never does, and neither the object nor the spool file
// remains.
func TestStalledCommit(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	direct := openStore(t, storeURL(endpoint, bucket, ""), Options{})
	p := tcpproxy.Start(t, strings.TrimPrefix(endpoint, "http://"))
	p.RestoreLimited(1<<20, true)
	for _, tc := range []struct {
		name    string
		opts    Options
		timeout time.Duration
	}{
		{"context deadline", Options{}, 300 * time.Millisecond},
		{"CommitTimeout", Options{CommitTimeout: 300 * time.Millisecond}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SpoolDir = filepath.Join(t.TempDir(), "spool")
			s := openStore(t, storeURL(p.URL(), bucket, ""), tc.opts)
			key := newKey()
			w, err := s.Create(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(blobtest.Data(4 << 20)); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			err = w.Commit(ctx)
			if err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			t.Logf("Commit: %v (%v)", err, time.Since(start).Round(time.Millisecond))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Commit error does not wrap context.DeadlineExceeded")
			}
			assertSpoolEmpty(t, tc.opts.SpoolDir)
			blobtest.AssertNotFound(t, direct, key)
		})
	}
}

// TestQuarantineLayout: the marker and the quarantine live under the
// prefix, outside livephotos/; on a versioned bucket, quarantining and
// purging leave no version of the image behind, under either key.
func TestQuarantineLayout(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	enableVersioning(t, bucket)
	c := s3test.Client(t)
	ctx := t.Context()
	s := openStore(t, storeURL(endpoint, bucket, "tenant/a"), Options{})
	versions := func(name string) int {
		t.Helper()
		n := 0
		for o := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: name, WithVersions: true, Recursive: true}) {
			if o.Err != nil {
				t.Fatalf("list versions: %v", o.Err)
			}
			if o.Key == name {
				n++
			}
		}
		return n
	}
	id := facevault.NewStoreID()
	if got, err := s.BindStoreID(ctx, id); err != nil || got != id {
		t.Fatalf("BindStoreID = %q, %v", got, err)
	}
	o, err := c.GetObject(ctx, bucket, "tenant/a/"+MarkerName, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(o); err != nil || string(b) != id+"\n" {
		t.Errorf("marker object holds %q, %v; want %q", b, err, id+"\n")
	}
	o.Close()
	// Another prefix of the bucket is another store.
	if got, err := openStore(t, storeURL(endpoint, bucket, "tenant/b"), Options{}).StoreID(ctx); err != nil || got != "" {
		t.Errorf("StoreID under another prefix = %q, %v; want none", got, err)
	}

	key := newKey()
	data := blobtest.Data(40 << 10)
	blobtest.Put(t, s, key, data)
	blobtest.Put(t, s, key, data) // two versions
	if err := s.Quarantine(ctx, key); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	if n := versions("tenant/a/livephotos/" + key); n != 0 {
		t.Errorf("after Quarantine the image key has %d versions, want none", n)
	}
	if n := versions("tenant/a/quarantine/" + key); n != 1 {
		t.Errorf("after Quarantine the quarantine key has %d versions, want 1", n)
	}
	if err := s.Restore(ctx, key); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := blobtest.Get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("restored blob differs")
	}
	if n := versions("tenant/a/quarantine/" + key); n != 0 {
		t.Errorf("after Restore the quarantine key has %d versions, want none", n)
	}
	if err := s.Quarantine(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyQuarantined(ctx, key); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, name := range []string{"tenant/a/livephotos/" + key, "tenant/a/quarantine/" + key} {
		if n := versions(name); n != 0 {
			t.Errorf("after Purge %s has %d versions, want none", name, n)
		}
	}

	// A marker holding anything but a store id is an error.
	if _, err := c.PutObject(ctx, bucket, "tenant/a/"+MarkerName, strings.NewReader("garbage"), 7, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.StoreID(ctx); err == nil {
		t.Errorf("StoreID with a garbage marker = %q, nil; want an error", got)
	}
	if got, err := s.BindStoreID(ctx, facevault.NewStoreID()); err == nil {
		t.Errorf("BindStoreID over a garbage marker = %q, nil; want an error", got)
	}
}
