// Package s3blob stores image bytes in a bucket of an S3-compatible object
// store (Amazon S3, MinIO, VersityGW, Ceph RGW, ...), through minio-go.
//
// A blob with id ID is the object <prefix>/livephotos/<ID>. A new blob is
// staged in a spool file on local disk (mode 0600), which lets the liveness
// check read it back before it is committed; Commit uploads it in a single
// PUT streamed from that file, carrying the SHA-256 of the bytes as written
// so that the server refuses anything else, then checks the stored object
// before returning. The spool file is overwritten with zeros, synced and
// removed after Commit and on Abort; spool files left by a process that died
// are destroyed the same way by the next Open on the same spool directory.
//
// The store's marker, the object <prefix>/facevault-store-id, holds the id of
// the FaceVault store the prefix belongs to. The orphan sweep sets images
// aside under <prefix>/quarantine/<id> (a server-side copy, then the
// original is deleted as Delete deletes), whence they are restored or
// purged.
//
// Delete removes the object. On a bucket with versioning (enabled or
// suspended when the store was opened), it removes every version and delete
// marker of the key and checks none is left, so that the bytes are really
// gone rather than hidden behind a delete marker.
package s3blob

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facevault/facevault"
)

// Options tune a Store. The zero value is the production default.
type Options struct {
	// SpoolDir is where uploads are staged until Commit; os.TempDir() if
	// empty. It is created (0700) if it does not exist. Stores of several
	// processes may share it.
	SpoolDir string
	// Credentials sign the requests. If nil they come from the environment:
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary
	// credentials, AWS_SESSION_TOKEN. Anonymous access is refused.
	Credentials *credentials.Credentials
	// Transport carries the requests. If nil, a transport with the timeouts
	// below is used.
	Transport http.RoundTripper
	// DialTimeout bounds connecting to the endpoint (default 10s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response once a request
	// is sent (default 60s), so that a server that stops answering fails
	// requests instead of hanging them.
	ResponseHeaderTimeout time.Duration
	// CommitTimeout bounds a Commit: the upload and its check (default
	// 2m). The transport's timeouts do not cover sending a request body,
	// and a server that stops reading one would otherwise hold the upload
	// until the caller's context ends, if it ever does.
	CommitTimeout time.Duration
	// MaxAttempts is how many times a request is tried before its error is
	// returned (default 3; minio-go retries network errors and 5xx with a
	// short exponential backoff, at most 1s apart).
	MaxAttempts int
	// NoChecksum leaves out the x-amz-checksum-sha256 header on uploads and
	// the checksum check on reads, for servers that refuse it.
	NoChecksum bool
	// Observe, if set, is told of every request to the S3 server: its
	// method, the status of the answer (0 when none came), how long it
	// took, and the error when none came.
	Observe func(method string, status int, d time.Duration, err error)
}

// observedTransport tells observe of every round trip.
type observedTransport struct {
	next    http.RoundTripper
	observe func(method string, status int, d time.Duration, err error)
}

func (t observedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(r)
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	t.observe(r.Method, status, time.Since(start), err)
	return res, err
}

// Store is a facevault.BlobStore on an S3 bucket. It is safe for concurrent
// use.
type Store struct {
	client     *minio.Client
	core       minio.Core
	cfg        Config
	spoolDir   string
	noChecksum bool
	commitTime time.Duration
	versioned  bool
	staleSpool int
}

var (
	_ facevault.BlobStore  = (*Store)(nil)
	_ facevault.Identity   = (*Store)(nil)
	_ facevault.Quarantine = (*Store)(nil)
)

// Open parses rawURL (see ParseURL), connects, and checks the bucket exists
// and is reachable with the credentials. It also reads whether the bucket
// has versioning, and destroys stale spool files in the spool directory.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	spoolDir := opts.SpoolDir
	if spoolDir == "" {
		spoolDir = os.TempDir()
	}
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("s3blob: spool directory: %w", err)
	}
	stale, err := removeStaleSpool(spoolDir)
	if err != nil {
		return nil, err
	}

	creds := opts.Credentials
	if creds == nil {
		creds = credentials.NewEnvAWS()
	}
	v, err := creds.GetWithContext(&credentials.CredContext{Client: http.DefaultClient})
	if err != nil {
		return nil, fmt.Errorf("s3blob: credentials: %w", err)
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return nil, errors.New("s3blob: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}

	transport := opts.Transport
	if transport == nil {
		t, err := minio.DefaultTransport(cfg.Secure)
		if err != nil {
			return nil, fmt.Errorf("s3blob: transport: %w", err)
		}
		t.DialContext = (&net.Dialer{
			Timeout:   orDefault(opts.DialTimeout, 10*time.Second),
			KeepAlive: 30 * time.Second,
		}).DialContext
		t.ResponseHeaderTimeout = orDefault(opts.ResponseHeaderTimeout, time.Minute)
		transport = t
	}
	if opts.Observe != nil {
		transport = observedTransport{transport, opts.Observe}
	}
	lookup := minio.BucketLookupPath
	if !cfg.PathStyle {
		// Virtual-host style, except where minio-go knows it cannot work
		// (bucket names with dots over TLS).
		lookup = minio.BucketLookupAuto
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	client, err := minio.New(cfg.host(), &minio.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Transport:    transport,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// Needed for minio-go to pass our x-amz-checksum-sha256 header;
		// without it, minio-go adds no checksum of its own either.
		TrailingHeaders: !opts.NoChecksum,
		MaxRetries:      attempts,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: client for %s: %w", cfg.Endpoint, err)
	}
	s := &Store{
		client:     client,
		core:       minio.Core{Client: client},
		cfg:        cfg,
		spoolDir:   spoolDir,
		noChecksum: opts.NoChecksum,
		commitTime: orDefault(opts.CommitTimeout, 2*time.Minute),
		staleSpool: stale,
	}

	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code != "" {
			// The server answered: credentials, permissions, region...
			return nil, fmt.Errorf("s3blob: bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
		}
		return nil, fmt.Errorf("s3blob: cannot reach %s: %w", cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3blob: bucket %s does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	vc, err := client.GetBucketVersioning(ctx, cfg.Bucket)
	if err != nil {
		var er minio.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != http.StatusNotImplemented {
			return nil, fmt.Errorf("s3blob: bucket %s at %s: get versioning: %w", cfg.Bucket, cfg.Endpoint, err)
		}
		// A server without versioning keeps one copy of each object.
	}
	// Suspended versioning keeps the versions made while it was enabled.
	s.versioned = vc.Status == minio.Enabled || vc.Status == minio.Suspended
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Config returns what the store's URL says.
func (s *Store) Config() Config { return s.cfg }

// Versioned reports whether the bucket had versioning (enabled or
// suspended) when the store was opened, in which case Delete removes every
// version of a key. Versioning turned on later is seen only by a new Open.
func (s *Store) Versioned() bool { return s.versioned }

// StaleSpoolFiles is how many spool files left by dead processes Open
// destroyed.
func (s *Store) StaleSpoolFiles() int { return s.staleSpool }

func (s *Store) objectKey(key string) (string, error) {
	if !facevault.ValidID(key) {
		return "", fmt.Errorf("s3blob: invalid key %q", key)
	}
	return s.cfg.objectKey(key), nil
}

// Create starts a blob under key, staged in a spool file until Commit.
func (s *Store) Create(ctx context.Context, key string) (facevault.BlobWriter, error) {
	if _, err := s.objectKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3blob: create %s: %w", key, err)
	}
	return s.newWriter(key)
}

// Open returns the blob's bytes, streamed from S3. Reading to the end checks
// their SHA-256 against the one stored at upload, when the server keeps it:
// the last Read returns an error rather than io.EOF if they differ.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	object, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, object, "blob "+key)
}

// get streams an object, checked as it is read to the end (see reader);
// what names it in the ErrNotFound error.
func (s *Store) get(ctx context.Context, object, what string) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	if !s.noChecksum {
		opts.Set("x-amz-checksum-mode", "ENABLED")
	}
	body, info, _, err := s.core.GetObject(ctx, s.cfg.Bucket, object, opts)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("s3blob: %s: %w", what, facevault.ErrNotFound)
		}
		return nil, fmt.Errorf("s3blob: get %s: %w", object, err)
	}
	r := &reader{body: body, object: object, size: info.Size}
	if r.size < 0 {
		r.size = -1 // unknown: not checked
	}
	if !s.noChecksum && info.ChecksumSHA256 != "" {
		r.sha, r.want = sha256.New(), info.ChecksumSHA256
	}
	return r, nil
}

// reader checks, at the end of the object, that it read as many bytes as
// the object has and, if known, their SHA-256.
type reader struct {
	body   io.ReadCloser
	object string
	size   int64
	n      int64
	sha    hash.Hash
	want   string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.n += int64(n)
	if r.sha != nil {
		r.sha.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if r.size >= 0 && r.n != r.size {
			return n, fmt.Errorf("s3blob: get %s: read %d bytes, the object has %d: %w", r.object, r.n, r.size, io.ErrUnexpectedEOF)
		}
		if r.sha != nil {
			if got := base64.StdEncoding.EncodeToString(r.sha.Sum(nil)); got != r.want {
				return n, fmt.Errorf("s3blob: get %s: SHA-256 of the bytes read is %s, want %s", r.object, got, r.want)
			}
		}
	case err != nil:
		err = fmt.Errorf("s3blob: get %s: %w", r.object, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.body.Close() }

// Delete destroys the blob. On a versioned bucket every version and delete
// marker of the key is removed, and a second listing checks none is left.
// A missing blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	object, err := s.objectKey(key)
	if err != nil {
		return err
	}
	return s.remove(ctx, object)
}

func (s *Store) remove(ctx context.Context, object string) error {
	if !s.versioned {
		err := s.client.RemoveObject(ctx, s.cfg.Bucket, object, minio.RemoveObjectOptions{})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("s3blob: delete %s: %w", object, err)
		}
		return nil
	}
	for range 3 {
		versions, err := s.versions(ctx, object)
		if err != nil {
			return err
		}
		if len(versions) == 0 {
			return nil
		}
		for _, v := range versions {
			err := s.client.RemoveObject(ctx, s.cfg.Bucket, object, minio.RemoveObjectOptions{VersionID: v})
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("s3blob: delete %s version %s: %w", object, v, err)
			}
		}
	}
	return fmt.Errorf("s3blob: delete %s: versions remain after three rounds of deletes", object)
}

// versions lists the version IDs (delete markers included) of object.
func (s *Store) versions(ctx context.Context, object string) ([]string, error) {
	var ids []string
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: object, WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3blob: delete %s: list versions: %w", object, o.Err)
		}
		if o.Key == object {
			ids = append(ids, o.VersionID)
		}
	}
	// minio-go ends a listing early, without an error, when the context
	// ends: a short list must not pass for the whole one.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3blob: delete %s: list versions: %w", object, err)
	}
	return ids, nil
}

// undoTimeout bounds the removal of an object whose upload failed.
const undoTimeout = 30 * time.Second

// undo removes an object whose upload failed after it may have reached the
// server, and returns err, noting whether the removal failed too (the orphan
// sweep then removes the object later).
func (s *Store) undo(ctx context.Context, object string, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if derr := s.remove(ctx, object); derr != nil {
		return fmt.Errorf("%w (and removing what may have been stored failed: %v)", err, derr)
	}
	return err
}

// Keys calls fn with the id of every blob whose LastModified, as the server
// records it, is before the given time. Objects under the prefix whose names
// are not ids are ignored.
func (s *Store) Keys(ctx context.Context, before time.Time, fn func(key string) error) error {
	dir := s.cfg.dir()
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: dir}) {
		if o.Err != nil {
			return fmt.Errorf("s3blob: list %s: %w", dir, o.Err)
		}
		id, ok := strings.CutPrefix(o.Key, dir)
		if !ok || !facevault.ValidID(id) || !o.LastModified.Before(before) {
			continue
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	// minio-go ends a listing early, without an error, when the context
	// ends: a short list must not pass for the whole one.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: list %s: %w", dir, err)
	}
	return nil
}

// StoreID returns the id held by the store's marker object, or "" if there
// is none. A marker that does not hold a store id is an error, never taken
// for no marker.
func (s *Store) StoreID(ctx context.Context) (string, error) {
	object := s.cfg.markerKey()
	body, _, _, err := s.core.GetObject(ctx, s.cfg.Bucket, object, minio.GetObjectOptions{})
	if isNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("s3blob: read store marker %s: %w", object, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 128))
	if err != nil {
		return "", fmt.Errorf("s3blob: read store marker %s: %w", object, err)
	}
	id := strings.TrimSuffix(string(b), "\n")
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("s3blob: store marker %s does not hold a store id: %.40q", object, b)
	}
	return id, nil
}

// BindStoreID writes the marker object unless it exists, and returns the id
// it holds. The PUT is conditional (If-None-Match: *) where the server
// supports it; the marker is read back in any case.
func (s *Store) BindStoreID(ctx context.Context, id string) (string, error) {
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("s3blob: bind store id: invalid id %q", id)
	}
	if got, err := s.StoreID(ctx); err != nil || got != "" {
		return got, err
	}
	object := s.cfg.markerKey()
	body := id + "\n"
	opts := minio.PutObjectOptions{ContentType: "text/plain", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, object, strings.NewReader(body), int64(len(body)), opts)
	if err != nil && minio.ToErrorResponse(err).StatusCode != http.StatusPreconditionFailed {
		return "", fmt.Errorf("s3blob: write store marker %s: %w", object, err)
	}
	got, err := s.StoreID(ctx)
	if err == nil && got == "" {
		err = fmt.Errorf("s3blob: store marker %s: missing after it was written", object)
	}
	return got, err
}

func (s *Store) quarantineKey(key string) (string, error) {
	if !facevault.ValidID(key) {
		return "", fmt.Errorf("s3blob: invalid key %q", key)
	}
	return s.cfg.quarantineDir() + key, nil
}

// move copies object src to dst on the server, checks the copy (its size,
// and its SHA-256 where the server keeps one), then removes src as Delete
// does, with every version. An error wrapping ErrNotFound if src does not
// exist.
func (s *Store) move(ctx context.Context, src, dst string) error {
	from, err := s.client.StatObject(ctx, s.cfg.Bucket, src, statOptions(""))
	if isNotFound(err) {
		return fmt.Errorf("s3blob: move %s: %w", src, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("s3blob: move %s: %w", src, err)
	}
	info, err := s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: src, VersionID: from.VersionID})
	if err != nil {
		return fmt.Errorf("s3blob: copy %s to %s: %w", src, dst, err)
	}
	to, err := s.client.StatObject(ctx, s.cfg.Bucket, dst, statOptions(info.VersionID))
	switch {
	case err != nil:
		err = fmt.Errorf("s3blob: move %s: check the copy %s: %w", src, dst, err)
	case to.Size != from.Size:
		err = fmt.Errorf("s3blob: move %s: the copy %s has %d bytes, want %d", src, dst, to.Size, from.Size)
	case from.ChecksumSHA256 != "" && to.ChecksumSHA256 != "" && to.ChecksumSHA256 != from.ChecksumSHA256:
		err = fmt.Errorf("s3blob: move %s: the copy %s has SHA-256 %s, want %s", src, dst, to.ChecksumSHA256, from.ChecksumSHA256)
	}
	if err != nil {
		return err // src is still there: the move can be tried again
	}
	return s.remove(ctx, src)
}

// Quarantine moves the blob to <prefix>/quarantine/<key>: a server-side
// copy (whose LastModified says when it was set aside), then the original
// is removed with every version.
func (s *Store) Quarantine(ctx context.Context, key string) error {
	object, err := s.objectKey(key)
	if err != nil {
		return err
	}
	q, _ := s.quarantineKey(key)
	return s.move(ctx, object, q)
}

// Restore moves a quarantined blob back under its key. It refuses, with
// ErrExist, while a blob with the key exists.
func (s *Store) Restore(ctx context.Context, key string) error {
	object, err := s.objectKey(key)
	if err != nil {
		return err
	}
	q, _ := s.quarantineKey(key)
	if _, err := s.client.StatObject(ctx, s.cfg.Bucket, q, minio.StatObjectOptions{}); isNotFound(err) {
		return fmt.Errorf("s3blob: restore %s: not in quarantine: %w", key, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("s3blob: restore %s: %w", key, err)
	}
	if _, err := s.client.StatObject(ctx, s.cfg.Bucket, object, minio.StatObjectOptions{}); err == nil {
		return fmt.Errorf("s3blob: restore %s: a blob with that key exists: %w", key, facevault.ErrExist)
	} else if !isNotFound(err) {
		return fmt.Errorf("s3blob: restore %s: %w", key, err)
	}
	if err := s.move(ctx, q, object); err != nil {
		return fmt.Errorf("s3blob: restore %s: %w", key, err)
	}
	return nil
}

// Quarantined calls fn for every quarantined blob; Since is the
// LastModified of its copy in the quarantine.
func (s *Store) Quarantined(ctx context.Context, fn func(facevault.QuarantinedBlob) error) error {
	dir := s.cfg.quarantineDir()
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: dir}) {
		if o.Err != nil {
			return fmt.Errorf("s3blob: list %s: %w", dir, o.Err)
		}
		id, ok := strings.CutPrefix(o.Key, dir)
		if !ok || !facevault.ValidID(id) {
			continue
		}
		if err := fn(facevault.QuarantinedBlob{Key: id, Size: o.Size, Since: o.LastModified}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: list %s: %w", dir, err)
	}
	return nil
}

// DestroyQuarantined destroys a quarantined blob: every version of it is removed.
func (s *Store) DestroyQuarantined(ctx context.Context, key string) error {
	q, err := s.quarantineKey(key)
	if err != nil {
		return err
	}
	return s.remove(ctx, q)
}

// isNotFound reports whether err is S3's answer for a missing key.
func isNotFound(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == minio.NoSuchKey || er.Code == minio.NoSuchVersion)
}

// Ping reports whether the bucket is reachable with the credentials.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3blob: ping: %w", err)
	}
	if !ok {
		return fmt.Errorf("s3blob: ping: bucket %s does not exist", s.cfg.Bucket)
	}
	return nil
}
