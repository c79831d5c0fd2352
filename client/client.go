package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the client's version, sent in its default User-Agent.
const Version = "0.1.0"

// Request body limits of the service (docs/contract.md): a JSON request
// other than an upload is at most MaxJSONBody bytes; an uploaded image is
// MinImageSize to MaxImageSize bytes once decoded.
const (
	MaxJSONBody  = 1 << 20
	MinImageSize = 34 << 10
	MaxImageSize = 4 << 20
)

// Client calls one FaceVault (or ComplyCube-compatible) service with one API
// key. It is safe for concurrent use; make one and share it.
type Client struct {
	base       *url.URL
	apiKey     string
	http       *http.Client
	userAgent  string
	maxRetries int
	minBackoff time.Duration
	maxBackoff time.Duration
	jitter     func(time.Duration) time.Duration
	newKey     func() string
}

// Option configures a Client made by New.
type Option func(*Client) error

// WithHTTPClient makes the Client send its requests with hc instead of
// http.DefaultClient: for timeouts of its own, a proxy, TLS settings or a
// test transport. The Client never follows redirects of its own accord; hc
// decides.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("client: WithHTTPClient(nil)")
		}
		c.http = hc
		return nil
	}
}

// WithRetries sets how many times a failed request is tried again (default
// 3, so 4 attempts at most); 0 turns retries off. See Client for what is
// retried.
func WithRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("client: WithRetries(%d): must not be negative", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithBackoff sets the wait before a retry: min before the first, doubled
// before each next one, never more than max (defaults 250ms and 8s). The
// wait is then spread by the jitter (WithJitter). A Retry-After header in
// the failed answer takes the place of the computed wait, if it asks for
// longer.
func WithBackoff(min, max time.Duration) Option {
	return func(c *Client) error {
		if min <= 0 || max < min {
			return fmt.Errorf("client: WithBackoff(%v, %v): want 0 < min <= max", min, max)
		}
		c.minBackoff, c.maxBackoff = min, max
		return nil
	}
}

// WithJitter sets the jitter: given the computed wait d before a retry, it
// returns the wait to use. The default picks uniformly from [d/2, d], so
// that clients failed by the same outage do not retry in step. Tests pass a
// function without randomness, such as one that returns d.
func WithJitter(f func(d time.Duration) time.Duration) Option {
	return func(c *Client) error {
		if f == nil {
			return errors.New("client: WithJitter(nil)")
		}
		c.jitter = f
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request (default
// "facevault-go/<Version>").
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// New returns a Client for the service at baseURL (such as
// "https://facevault.example.com"; a "/v1" path is added if it is not
// there) that authenticates with apiKey.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http:// or https:// and a host", baseURL)
	}
	if apiKey == "" {
		return nil, errors.New("client: an API key is required")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/v1") {
		u.Path += "/v1"
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:       u,
		apiKey:     apiKey,
		http:       http.DefaultClient,
		userAgent:  "facevault-go/" + Version,
		maxRetries: 3,
		minBackoff: 250 * time.Millisecond,
		maxBackoff: 8 * time.Second,
		jitter:     defaultJitter,
		newKey:     newIdempotencyKey,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func defaultJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + mathrand.N(d/2+1)
}

// newIdempotencyKey returns 128 random bits in hex.
func newIdempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CallOption changes one call.
type CallOption func(*callConfig)

type callConfig struct {
	idempotencyKey string
	header         http.Header
}

// WithIdempotencyKey makes a POST carry key as its Idempotency-Key header
// instead of one the Client generates. Pass the same key when repeating an
// operation from another process (after a crash, say) so that the service
// answers it as the first attempt was answered rather than doing it twice.
func WithIdempotencyKey(key string) CallOption {
	return func(cc *callConfig) { cc.idempotencyKey = key }
}

// WithHeader adds a header to one call's requests.
func WithHeader(name, value string) CallOption {
	return func(cc *callConfig) {
		if cc.header == nil {
			cc.header = make(http.Header)
		}
		cc.header.Add(name, value)
	}
}

// request is one API call, which may take several attempts.
type request struct {
	method string
	path   string
	query  url.Values
	// body returns the body of an attempt; nil for none. It is called once
	// per attempt.
	body func() (io.ReadCloser, int64, error)
	// rewindable is false when an attempt's body cannot be sent again once
	// read from (see bodyRead).
	rewindable bool
	// bodyRead reports whether any byte of the body was read so far.
	bodyRead func() bool
	opts     []CallOption
}

// jsonBody returns the body of a JSON request, refusing one over the
// service's limit before anything is sent.
func jsonBody(v any) (func() (io.ReadCloser, int64, error), error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the request: %w", err)
	}
	if len(b) > MaxJSONBody {
		return nil, fmt.Errorf("client: the request body is %d bytes, over the service's limit of %d", len(b), MaxJSONBody)
	}
	return func() (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}, nil
}

// do runs r, retrying as the Client's policy allows, and returns the
// successful response (status 2xx), whose body the caller must close. An
// unsuccessful answer is returned as an *Error.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	var cc callConfig
	for _, o := range r.opts {
		o(&cc)
	}
	u := *c.base
	u.Path += r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	idemKey := ""
	if r.method == http.MethodPost {
		idemKey = cc.idempotencyKey
		if idemKey == "" {
			idemKey = c.newKey()
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, r, u.String(), idemKey, cc.header)
		if err == nil && resp.StatusCode < 300 {
			return resp, nil
		}
		var retryAfter time.Duration
		if err == nil {
			err = readError(resp)
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		}
		if ctx.Err() != nil {
			return nil, contextError(ctx, err)
		}
		if attempt >= c.maxRetries || !retryable(err) {
			return nil, err
		}
		if !r.rewindable && r.bodyRead != nil && r.bodyRead() {
			return nil, &NotRetriedError{Err: err}
		}
		wait := c.backoff(attempt)
		if retryAfter > wait {
			wait = retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, contextError(ctx, err)
		case <-t.C:
		}
	}
}

// contextError returns the error of a call whose context ended: ctx's
// error, with the last failure's if any.
func contextError(ctx context.Context, last error) error {
	if last == nil || errors.Is(last, ctx.Err()) {
		return ctx.Err()
	}
	return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), last)
}

// attempt sends one attempt of r.
func (c *Client) attempt(ctx context.Context, r *request, u, idemKey string, extra http.Header) (*http.Response, error) {
	var body io.ReadCloser
	length := int64(0)
	if r.body != nil {
		var err error
		if body, length, err = r.body(); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	if body != nil {
		req.ContentLength = length // -1: unknown, sent chunked
		req.Header.Set("Content-Type", "application/json")
		if r.rewindable && r.bodyRead == nil {
			// An in-memory body: net/http may resend it on a fresh
			// connection when a kept-alive one turns out closed.
			req.GetBody = func() (io.ReadCloser, error) {
				rc, _, err := r.body()
				return rc, err
			}
		}
	}
	for k, vs := range extra {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("Authorization", c.apiKey)
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &NetworkError{Op: r.method + " " + r.path, Err: err}
	}
	return resp, nil
}

// backoff returns the wait before retry number attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.minBackoff
	for range attempt {
		if d >= c.maxBackoff/2 {
			d = c.maxBackoff
			break
		}
		d *= 2
	}
	return c.jitter(min(d, c.maxBackoff))
}

// retryable reports whether a failed attempt may be tried again: the
// request may not have reached the service, or the service asked for a
// retry or failed in a way a retry may not.
func retryable(err error) bool {
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusRequestTimeout:
		return true
	case e.StatusCode == http.StatusConflict:
		return e.Type == TypeIdempotencyKeyInUse
	case e.StatusCode == http.StatusNotImplemented, e.StatusCode == http.StatusHTTPVersionNotSupported:
		return false
	}
	return e.StatusCode >= 500
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// getJSON GETs a path and decodes the answer into out.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, &request{method: http.MethodGet, path: path, query: q, rewindable: true}, out)
}

// postJSON POSTs in (nil for no body) and decodes the answer into out.
func (c *Client) postJSON(ctx context.Context, path string, in, out any, opts []CallOption) error {
	r := &request{method: http.MethodPost, path: path, rewindable: true, opts: opts}
	if in != nil {
		body, err := jsonBody(in)
		if err != nil {
			return err
		}
		r.body = body
	}
	return c.call(ctx, r, out)
}

// del sends a DELETE.
func (c *Client) del(ctx context.Context, path string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: path, rewindable: true}, nil)
}

// call runs r and decodes a successful answer into out (nil: discard it).
func (c *Client) call(ctx context.Context, r *request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("client: reading the answer to %s %s: %w", r.method, r.path, err)
	}
	return nil
}

// pathEscape escapes an id for a path segment.
func pathEscape(id string) string { return url.PathEscape(id) }
