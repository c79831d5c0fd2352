package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// StatusClientClosedRequest is the status logged for a request whose client
// went away before it was answered (nginx's 499). It is never sent: there
// is nobody to send it to. It is not a server error.
const StatusClientClosedRequest = 499

// Logged wraps h with a log line per request, at info level: method, path,
// status, bytes, duration and the request id (see RequestID), which it
// gives the request and sends as the X-Request-Id header. A request whose
// client went away is logged with status 499.
func Logged(h http.Handler, logger *slog.Logger) http.Handler { return LoggedTrusting(h, logger, nil) }

// LoggedTrusting is Logged taking the request id a trusted proxy (one whose
// peer address is in trusted, as Config.TrustedProxies) sends in
// X-Request-Id, if it is 1 to 128 letters, digits, '-', '_', '.' or ':'.
func LoggedTrusting(h http.Handler, logger *slog.Logger, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = withRequestID(w, r, trusted)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if sw.gone && status == 0 {
				status = StatusClientClosedRequest
			}
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.EscapedPath()),
				slog.Int("status", status),
				slog.Int64("bytes", sw.n),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr),
				slog.String("requestId", RequestID(r.Context())))
		}()
		h.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	gone   bool // the client went away; nothing was answered
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) clientGone() { w.gone = true }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteClientGone tells the log, if w is (or wraps) its writer, that the
// request is not answered because its client went away.
func noteClientGone(w http.ResponseWriter) {
	for {
		switch t := w.(type) {
		case interface{ clientGone() }:
			t.clientGone()
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return
		}
	}
}

// RequestIDs wraps a log handler so that every record logged with the
// context of a request carries its id as requestId (unless the record has
// one already): every line a request causes can be matched to its answer's
// X-Request-Id.
func RequestIDs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "requestId"
			return !has
		})
		if !has {
			r = r.Clone()
			r.AddAttrs(slog.String("requestId", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
