package apitest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// Handler returns next with every exchange validated: fail is called with
// each problem (the method, path, status and the validator's message).
// The request body is copied as the server reads it, never read ahead of
// it, so that the server's own handling of slow and oversized bodies is
// what is tested; the answer is copied as it is written.
func (v *Validator) Handler(next http.Handler, fail func(problem string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := *r.URL
		x := &Exchange{Method: r.Method, URL: &u, Invalid: r.Header.Get(InvalidHeader)}
		// A copy of r for the server: net/http looks at the original's
		// body once the handler returns.
		r = r.WithContext(r.Context())
		r.Header = r.Header.Clone()
		r.Header.Del(InvalidHeader)
		x.Header = r.Header.Clone()
		var body *teeBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &teeBody{ReadCloser: r.Body}
			r.Body = body
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				// The handler cut the connection (http.ErrAbortHandler):
				// the client gets no answer to validate.
				panic(p)
			}
			if body != nil {
				x.Body, x.BodyComplete = body.buf.Bytes(), body.eof && !body.over
			} else {
				x.BodyComplete = true
			}
			x.Status, x.ResponseHeader = rec.status, w.Header()
			x.ResponseBody, x.ResponseComplete = rec.buf.Bytes(), !rec.over
			for _, p := range v.Check(x) {
				fail(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// teeBody keeps a copy of what is read of a request body, up to
// MaxRequestBody bytes.
type teeBody struct {
	io.ReadCloser
	buf  bytes.Buffer
	eof  bool
	over bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := MaxRequestBody - b.buf.Len(); n > room {
		b.over = true
		b.buf.Write(p[:room])
	} else {
		b.buf.Write(p[:n])
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// recorder passes an answer through, keeping a copy of up to
// MaxResponseBody bytes of it.
type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	over   bool
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 && status >= 200 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.buf.Len()+len(p) > MaxResponseBody {
		r.over = true
	} else {
		r.buf.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (the server
// sets read deadlines through it).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Proxy returns a reverse proxy to target that validates every exchange
// through it, as Handler does: bodies stream through as they arrive, and a
// copy of each (within the bounds above) is validated once the answer has
// been passed on whole.
func (v *Validator) Proxy(target *url.URL, fail func(problem string)) http.Handler {
	p := httputil.NewSingleHostReverseProxy(target)
	// Answers go to the client as they arrive, not held back in chunks.
	p.FlushInterval = -1
	return v.Handler(p, fail)
}
