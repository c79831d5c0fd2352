package http

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/facevault/facevault"
)

// errClientGone is (wrapped in) the error of a request whose client went
// away: its connection closed or was reset before the request was
// answered. It is logged as status 499, never as a server error.
var errClientGone = errors.New("http: client went away")

// clientGoneError keeps the cause for the log but unwraps only to
// errClientGone: a body cut short must not look like a body that ended
// (io.ErrUnexpectedEOF) to the parsers.
type clientGoneError struct{ cause error }

func (e *clientGoneError) Error() string { return errClientGone.Error() + ": " + e.cause.Error() }
func (e *clientGoneError) Unwrap() error { return errClientGone }

// bodyReader enforces a minimum transfer rate on a request body: after the
// grace period the body must have arrived at an average of at least rate
// bytes per second since the handler started, and all of it within the
// body timeout. It does so with the connection's read deadline, moved
// forward as bytes arrive, so a client that falls behind is cut off by the
// kernel's poller, not by a timer per request. Its errors say what went
// wrong: a *facevault.Error with code ETimeout (408) when the body is too
// slow, errClientGone when the client closed or reset the connection, and
// a 400 when the body's framing is malformed.
type bodyReader struct {
	body    io.ReadCloser
	rc      *http.ResponseController // nil if deadlines are not supported
	chunked bool
	rate    float64 // bytes per second; 0: no minimum
	grace   time.Duration
	timeout time.Duration
	start   time.Time
	until   time.Time // the read deadline set last; zero: none
	n       int64
	done    bool  // the whole body was read
	err     error // sticky
}

// unreadBody returns r's body if it was not read to its end, through the
// readers wrapped around it (hashingBody).
func unreadBody(r *http.Request) (*bodyReader, bool) {
	body := r.Body
	for {
		w, ok := body.(interface{ unwrapBody() io.ReadCloser })
		if !ok {
			break
		}
		body = w.unwrapBody()
	}
	b, ok := body.(*bodyReader)
	return b, ok && !b.done
}

// wrapBody returns r with a bodyReader around its body, if it has one, and
// sets the first read deadline. r itself is left alone: net/http looks at
// its body after the handler to decide how to close the connection.
func (s *Server) wrapBody(w http.ResponseWriter, r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	b := &bodyReader{
		body:    r.Body,
		rc:      http.NewResponseController(w),
		chunked: slices.Contains(r.TransferEncoding, "chunked"),
		rate:    s.cfg.MinBodyRate,
		grace:   s.cfg.BodyGrace,
		timeout: s.cfg.BodyTimeout,
		start:   time.Now(),
	}
	b.setDeadline(b.deadline())
	r = r.WithContext(r.Context())
	r.Body = b
	return r
}

// setDeadline sets the connection's read deadline.
func (b *bodyReader) setDeadline(t time.Time) {
	if b.rc == nil {
		return
	}
	if err := b.rc.SetReadDeadline(t); err != nil {
		// Not a real connection (a test's recorder): no deadlines.
		b.rc = nil
		return
	}
	b.until = t
}

// lingerUnread is how long the rest of a body refused unread may still
// arrive: net/http reads (and drops) what comes before it closes the
// connection, so that the client, still sending, reads the answer rather
// than a reset. It is net/http's own delay for the same purpose.
const lingerUnread = 500 * time.Millisecond

// abandon is called when the request is answered before its body was read
// to the end: what remains is worth lingerUnread of waiting at most.
func (b *bodyReader) abandon() {
	if t := time.Now().Add(lingerUnread); b.rc != nil && (b.until.IsZero() || b.until.After(t)) {
		b.setDeadline(t)
	}
}

// deadline is when the next byte must have arrived.
func (b *bodyReader) deadline() time.Time {
	end := b.start.Add(b.timeout)
	if b.rate <= 0 {
		return end
	}
	due := b.start.Add(b.grace + time.Duration(float64(b.n)/b.rate*float64(time.Second)))
	if due.After(end) {
		return end
	}
	return due
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	switch {
	case err == nil:
		if n > 0 {
			b.setDeadline(b.deadline())
		}
	case err == io.EOF:
		b.done = true
		// The body is in. What the connection reads next is the client's
		// next request, or its going away: no body deadline applies.
		b.setDeadline(time.Time{})
	default:
		b.err = b.classify(err)
		return n, b.err
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.body.Close() }

// classify turns an error reading the body into what the handler answers.
func (b *bodyReader) classify(err error) error {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		elapsed := time.Since(b.start)
		if b.rate <= 0 || elapsed >= b.timeout {
			return facevault.Errorf(facevault.ETimeout,
				"The request body did not arrive within %v: %d bytes were received", b.timeout, b.n)
		}
		return facevault.Errorf(facevault.ETimeout,
			"The request body arrived too slowly: %d bytes in %v; after the first %v, at least %d bytes per second are required",
			b.n, elapsed.Round(time.Millisecond), b.grace, int64(b.rate))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &oe):
		return &clientGoneError{cause: err}
	case errors.Is(err, http.ErrBodyReadAfterClose):
		return fmt.Errorf("read request body: %w", err)
	case b.chunked:
		return facevault.Invalid("", "The request body could not be read: its chunked encoding is malformed")
	}
	return facevault.Invalid("", "The request body could not be read")
}
