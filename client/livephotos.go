package client

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Content types of live photos, as the service spells them.
const (
	ContentTypeJPEG = "images/jpg"
	ContentTypePNG  = "images/png"
)

// LivePhoto is a live photo's record (docs/contract.md, section 6); never
// the image itself, which DownloadLivePhoto fetches.
type LivePhoto struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId"`
	// DownloadLink is relative, without /v1: "/livePhotos/<id>/download".
	DownloadLink         string `json:"downloadLink,omitempty"`
	ContentType          string `json:"contentType"`
	PerformLivenessCheck bool   `json:"performLivenessCheck"`
	// Size is the image's size in bytes.
	Size int64 `json:"size"`
	// LivenessCheck is the liveness check's result; nil when the upload
	// asked for none, and once the photo is redacted.
	LivenessCheck *LivenessCheck `json:"livenessCheck,omitempty"`
	Redacted      bool           `json:"redacted,omitempty"`
	RedactedAt    time.Time      `json:"redactedAt,omitzero"`
	CreatedAt     time.Time      `json:"createdAt"`
	UpdatedAt     time.Time      `json:"updatedAt"`
}

// LivenessCheck is what the service's liveness check found in a photo:
// an outcome ("clear" or "attention"), the engine that produced it, and
// the breakdown by analysis (integrityAnalysis, qualityAnalysis,
// authenticityAnalysis, with their figures), kept as the service sent it.
type LivenessCheck struct {
	Outcome   string          `json:"outcome"`
	Breakdown json.RawMessage `json:"breakdown,omitempty"`
	Engine    string          `json:"engine,omitempty"`
}

// Bool returns a pointer to b, for the optional booleans of requests.
func Bool(b bool) *bool { return &b }

// Int returns a pointer to n, for the optional numbers of requests.
func Int(n int) *int { return &n }

// String returns a pointer to s, for the optional strings of requests.
func String(s string) *string { return &s }

// UploadParams is a live photo to upload.
type UploadParams struct {
	// ClientID is the client the photo belongs to (required).
	ClientID string
	// Image is the JPEG or PNG image, MinImageSize to MaxImageSize bytes.
	// It is read as the request is sent, never held whole in memory. An
	// io.Seeker (a *bytes.Reader, an *os.File) is read from its current
	// offset and rewound for a retry; any other reader cannot be, so a
	// failure after the first byte was read is returned, not retried (a
	// *NotRetriedError).
	Image io.Reader
	// PerformLivenessCheck asks for the liveness check (nil: the service's
	// default, true).
	PerformLivenessCheck *bool
	// Enrol, if false, keeps the photo out of its client's enrolled faces
	// (nil: the service's default, true).
	Enrol *bool
}

// ErrImageTooLarge is returned for an image of more than MaxImageSize
// bytes; nothing of it is stored.
var ErrImageTooLarge = errors.New("facevault: the image is larger than 4 MB (MaxImageSize)")

// UploadLivePhoto uploads a live photo and returns its record.
//
// The request body, {"clientId":…,"performLivenessCheck":…,"enrol":…,
// "data":"<base64>"}, is written as it is sent: the image is read in small
// pieces and base64-encoded on the way, so neither it nor its base64 is
// ever held whole. Its size is checked as it is read (ErrImageTooLarge),
// before a byte is sent when p.Image is an io.Seeker. When the call returns,
// the image is no longer read, unless ctx ended while a Read of it was
// blocked: that Read is the last.
//
// Like every POST, the upload carries an Idempotency-Key, the same on each
// attempt, so that a retry after a lost answer does not store the photo
// twice.
func (c *Client) UploadLivePhoto(ctx context.Context, p *UploadParams, opts ...CallOption) (*LivePhoto, error) {
	if p == nil || p.Image == nil {
		return nil, errors.New("client: UploadLivePhoto: an image is required")
	}
	head := map[string]any{"clientId": p.ClientID}
	if p.PerformLivenessCheck != nil {
		head["performLivenessCheck"] = *p.PerformLivenessCheck
	}
	if p.Enrol != nil {
		head["enrol"] = *p.Enrol
	}
	hj, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	// {"clientId":…,…,"data":"<base64>"}
	prefix := append(hj[:len(hj)-1:len(hj)-1], `,"data":"`...)
	const suffix = `"}`

	u := &uploadBody{src: p.Image, prefix: prefix, suffix: []byte(suffix), size: -1}
	if s, ok := p.Image.(io.Seeker); ok {
		if err := u.measure(s); err != nil {
			return nil, err
		}
	}
	r := &request{
		method:     http.MethodPost,
		path:       "/livePhotos",
		body:       u.next,
		rewindable: u.seeker != nil,
		bodyRead:   u.started,
		opts:       opts,
	}
	// A Read of the image that blocks must not keep the call from ending
	// with its context: the transport waits for the body it is sending.
	stop := context.AfterFunc(ctx, u.abort)
	resp, err := c.do(ctx, r)
	stop()
	u.finish(ctx)
	if u.tooBig.Load() {
		err = ErrImageTooLarge
	}
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	defer resp.Body.Close()
	var out LivePhoto
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("client: reading the answer to the upload: %w", err)
	}
	return &out, nil
}

// uploadBody makes the streamed body of each attempt of an upload.
type uploadBody struct {
	src            io.Reader
	seeker         io.Seeker
	start, size    int64 // size -1: unknown
	prefix, suffix []byte

	mu     sync.Mutex
	cur    *lazyBody
	read   atomic.Bool // some attempt read from src
	wg     sync.WaitGroup
	tooBig atomic.Bool
}

// measure finds the size of a seekable image, refusing one too large before
// anything is sent.
func (u *uploadBody) measure(s io.Seeker) error {
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not really seekable (a pipe behind an *os.File): stream it
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("client: measuring the image: %w", err)
	}
	if _, err := s.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("client: measuring the image: %w", err)
	}
	if end-start > MaxImageSize {
		return ErrImageTooLarge
	}
	u.seeker, u.start, u.size = s, start, end-start
	return nil
}

// next returns the body of the next attempt.
func (u *uploadBody) next() (io.ReadCloser, int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cur != nil {
		u.cur.close()
		u.wg.Wait() // the last attempt's writer no longer reads src
	}
	if u.seeker != nil {
		if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("client: rewinding the image for a retry: %w", err)
		}
	}
	u.cur = &lazyBody{u: u}
	length := int64(-1)
	if u.size >= 0 {
		length = int64(len(u.prefix)) + int64(base64.StdEncoding.EncodedLen(int(u.size))) + int64(len(u.suffix))
	}
	return u.cur, length, nil
}

func (u *uploadBody) started() bool { return u.read.Load() }

// abort ends the current attempt's body: its reader returns an error.
func (u *uploadBody) abort() {
	u.mu.Lock()
	cur := u.cur
	u.mu.Unlock()
	if cur != nil {
		cur.close()
	}
}

// finish stops the last attempt's writer and waits for it: once an upload
// returns, its reader is no longer read. If ctx has ended it does not wait
// for a Read of the image in progress, which may block; the writer stops
// once that Read returns.
func (u *uploadBody) finish(ctx context.Context) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cur != nil {
		u.cur.close()
	}
	if ctx.Err() == nil {
		u.wg.Wait()
	}
}

// lazyBody is one attempt's body. Its writer starts at the first Read, so
// that an attempt that never sent a byte has not read the image either.
type lazyBody struct {
	u    *uploadBody
	once sync.Once
	pr   *io.PipeReader
	mu   sync.Mutex
	shut bool
}

func (b *lazyBody) start() {
	b.once.Do(func() {
		pr, pw := io.Pipe()
		b.mu.Lock()
		b.pr = pr
		shut := b.shut
		b.mu.Unlock()
		if shut {
			pr.Close()
			return
		}
		b.u.read.Store(true)
		b.u.wg.Add(1)
		go func() {
			defer b.u.wg.Done()
			pw.CloseWithError(b.u.write(pw))
		}()
	})
}

func (b *lazyBody) Read(p []byte) (int, error) {
	b.start()
	if b.pr == nil {
		return 0, io.ErrClosedPipe
	}
	return b.pr.Read(p)
}

func (b *lazyBody) Close() error {
	b.close()
	return nil
}

func (b *lazyBody) close() {
	b.mu.Lock()
	b.shut = true
	pr := b.pr
	b.mu.Unlock()
	if pr != nil {
		pr.Close()
	}
}

// write writes the whole body to w: the JSON around the image, the image
// in base64 as it is read.
func (u *uploadBody) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(u.prefix)
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	limit := int64(MaxImageSize)
	if u.size >= 0 {
		limit = u.size // exactly what Content-Length promised
	}
	n, err := io.Copy(enc, &boundedReader{r: u.src, left: limit})
	if errors.Is(err, errOverLimit) {
		if u.size < 0 {
			u.tooBig.Store(true)
			return ErrImageTooLarge
		}
		return errors.New("client: the image grew while it was uploaded")
	}
	if err != nil {
		return err
	}
	if u.size >= 0 && n < u.size {
		return errors.New("client: the image shrank while it was uploaded")
	}
	if err := enc.Close(); err != nil {
		return err
	}
	bw.Write(u.suffix)
	return bw.Flush()
}

// GetLivePhoto returns a live photo's record, or a 404 *Error.
func (c *Client) GetLivePhoto(ctx context.Context, id string) (*LivePhoto, error) {
	var out LivePhoto
	if err := c.getJSON(ctx, "/livePhotos/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LivePhotoFilter selects the live photos of a list: those of ClientID
// (required).
type LivePhotoFilter struct {
	ListOptions
	ClientID string
}

func (f *LivePhotoFilter) values() url.Values {
	q := f.ListOptions.values()
	q.Set("clientId", f.ClientID)
	return q
}

// ListLivePhotos returns one page of a client's live photos, newest first.
func (c *Client) ListLivePhotos(ctx context.Context, f *LivePhotoFilter) (*Page[LivePhoto], error) {
	if f == nil {
		f = &LivePhotoFilter{}
	}
	return listPage[LivePhoto](ctx, c, "/livePhotos", f.values())
}

// LivePhotos yields every live photo of a client, newest first, fetching
// pages as the loop reaches them. A failure is yielded with a nil photo and
// ends the sequence.
func (c *Client) LivePhotos(ctx context.Context, f *LivePhotoFilter) iter.Seq2[*LivePhoto, error] {
	if f == nil {
		f = &LivePhotoFilter{}
	}
	return all[LivePhoto](ctx, c, "/livePhotos", f.values(), f.Page, f.PageSize)
}

// RedactLivePhoto destroys a photo's image irrecoverably and keeps its
// record, marked redacted.
func (c *Client) RedactLivePhoto(ctx context.Context, id string, opts ...CallOption) error {
	return c.postJSON(ctx, "/livePhotos/"+pathEscape(id)+"/redact", nil, nil, opts)
}

// DeleteLivePhoto deletes a photo, its record and its image; 409
// TypeLivePhotoInUse if a check uses it (redact it instead), 409
// TypeLegalHold while its client is under legal hold.
func (c *Client) DeleteLivePhoto(ctx context.Context, id string) error {
	return c.del(ctx, "/livePhotos/"+pathEscape(id))
}

// DownloadedImage describes an image DownloadLivePhoto wrote.
type DownloadedImage struct {
	FileName    string // selfie_<createdAt in epoch ms>.jpg or .png
	ContentType string // ContentTypeJPEG or ContentTypePNG
	// SHA256 is the digest the service sent (lowercase hex), which the
	// bytes were checked against; empty from a service that sends none
	// (ComplyCube), whose downloads cannot be checked.
	SHA256 string
	// Size is the number of bytes written.
	Size int64
	// Verified is true when the bytes matched SHA256.
	Verified bool
}

// DownloadLivePhoto writes a live photo's image to w and checks it.
//
// The answer, {"fileName","contentType","sha256","data":"<base64>"}, is
// read as it arrives: the base64 is decoded in small pieces straight into
// w, never held whole. The bytes are hashed on the way and checked against
// the service's sha256 field; if they differ, the error is an
// *IntegrityError (errors.Is(err, ErrIntegrity)).
//
// Whatever the error, the bytes already written to w are not the image:
// write to a temporary file or buffer and use it only if DownloadLivePhoto
// returns nil. A failure before the first byte is retried as a GET is; one
// after is returned.
func (c *Client) DownloadLivePhoto(ctx context.Context, id string, w io.Writer) (*DownloadedImage, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: "/livePhotos/" + pathEscape(id) + "/download", rewindable: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	img, err := decodeDownload(bufio.NewReaderSize(resp.Body, 32<<10), w)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		if ie, ok := err.(*IntegrityError); ok {
			ie.LivePhotoID = id
			return img, ie
		}
		return img, fmt.Errorf("client: download of live photo %s (the bytes written are incomplete: discard them): %w", id, err)
	}
	return img, nil
}

// decodeDownload reads a download's JSON object from r, decoding "data" into
// w as it arrives, and checks it against "sha256".
func decodeDownload(r *bufio.Reader, w io.Writer) (*DownloadedImage, error) {
	img := &DownloadedImage{}
	s := &scanner{r: r}
	if err := s.expect('{'); err != nil {
		return img, err
	}
	h := sha256.New()
	var gotData bool
	for first := true; ; first = false {
		c, err := s.next()
		if err != nil {
			return img, err
		}
		if c == '}' && first {
			break
		}
		if !first {
			if c == '}' {
				break
			}
			if c != ',' {
				return img, s.unexpected(c)
			}
			if c, err = s.next(); err != nil {
				return img, err
			}
		}
		if c != '"' {
			return img, s.unexpected(c)
		}
		key, err := s.smallString()
		if err != nil {
			return img, err
		}
		if err := s.expect(':'); err != nil {
			return img, err
		}
		switch key {
		case "data":
			if err := s.expect('"'); err != nil {
				return img, err
			}
			dec := base64.NewDecoder(base64.StdEncoding, &stringReader{r: r})
			n, err := io.Copy(io.MultiWriter(w, h), dec)
			img.Size += n
			if err != nil {
				return img, err
			}
			gotData = true
		case "fileName", "contentType", "sha256":
			if err := s.expect('"'); err != nil {
				return img, err
			}
			v, err := s.smallString()
			if err != nil {
				return img, err
			}
			switch key {
			case "fileName":
				img.FileName = v
			case "contentType":
				img.ContentType = v
			default:
				img.SHA256 = v
			}
		default:
			if err := s.skipValue(); err != nil {
				return img, err
			}
		}
	}
	if !gotData {
		return img, errors.New(`the answer has no "data"`)
	}
	if img.SHA256 != "" {
		got := hex.EncodeToString(h.Sum(nil))
		if got != img.SHA256 {
			return img, &IntegrityError{Want: img.SHA256, Got: got, Written: img.Size}
		}
		img.Verified = true
	}
	return img, nil
}

var errOverLimit = errors.New("over the limit")

// boundedReader reads at most left bytes from r, and fails with
// errOverLimit, before passing it on, on any byte beyond: no byte of an
// image too large is sent past the limit.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errOverLimit
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
