package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

// Idempotent requests (docs/contract.md, "Idempotent requests"). A POST
// sent with an Idempotency-Key header claims the key in the record store,
// which every node shares, before it runs: one execution per (account,
// mode, key). Its answer is buffered, stored, and only then sent, so that a
// caller who has the answer and retries always gets it replayed.
const (
	// IdempotencyKeyHeader is the request header that makes a POST
	// idempotent.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader is set ("true") on an answer replayed from
	// the stored answer of an earlier request.
	IdempotentReplayedHeader = "Idempotent-Replayed"
	// MaxIdempotencyKey is the longest key, in bytes.
	MaxIdempotencyKey = 255
	// maxStoredAnswer bounds the answer a key keeps; a longer one is
	// sent but not stored. Every POST answers far less.
	maxStoredAnswer = 1 << 20
	// idempotencyStoreTimeout bounds the store's calls that record the
	// outcome of an execution, which run even when its caller has gone.
	idempotencyStoreTimeout = 10 * time.Second
)

// writeTimeout is the longest a request may take, from the end of its
// headers to the end of its answer: the http.Server's WriteTimeout.
func (c Config) writeTimeout() time.Duration {
	return c.BodyTimeout + c.UploadQueueTimeout + 2*time.Minute
}

// IdempotencyLease is how long the in-progress record of an idempotent
// request holds its key for a server with configuration c: a minute longer
// than any execution may run (each runs under a deadline of the server's
// write timeout), so that a record is taken to be abandoned only once its
// node can no longer be executing it, with a minute to spare for clocks
// that differ between nodes. With the default configuration, 5 minutes 10
// seconds.
func IdempotencyLease(c Config) time.Duration {
	return c.withDefaults().writeTimeout() + time.Minute
}

// idempotencyKey returns the request's key, or the contract's 400.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values(IdempotencyKeyHeader)
	if len(vs) != 1 {
		return "", facevault.Invalid(IdempotencyKeyHeader, "The 'Idempotency-Key' header must be sent once")
	}
	k := vs[0]
	if k == "" || len(k) > MaxIdempotencyKey {
		return "", facevault.Invalid(IdempotencyKeyHeader,
			"The 'Idempotency-Key' header must be 1 to %d printable ASCII characters", MaxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", facevault.Invalid(IdempotencyKeyHeader,
				"The 'Idempotency-Key' header must be 1 to %d printable ASCII characters", MaxIdempotencyKey)
		}
	}
	return k, nil
}

// fingerprint identifies a request: its method, its path (a collection's
// with or without the trailing slash alike) and the SHA-256 of its body.
func fingerprint(r *http.Request, bodySum []byte) string {
	h := sha256.New()
	p := r.URL.EscapedPath()
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	h.Write([]byte(r.Method + " " + p + "\n"))
	h.Write(bodySum)
	return hex.EncodeToString(h.Sum(nil))
}

// serveIdempotent runs h for a POST with an Idempotency-Key header, as
// authed would run it, at most once per key: it claims the key, runs h
// with its answer buffered, stores the answer (a status below 500, other
// than 408 and 429, of a request whose body was read whole) or frees the
// key, and sends the answer. A key held by another request is answered
// from its record: its answer replayed, 422 for a different request, 409
// while it is in progress.
func (s *Server) serveIdempotent(w http.ResponseWriter, r *http.Request, sc facevault.Scope, h handlerFunc) {
	key, err := idempotencyKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.vault.Now()
	claim := &facevault.IdempotentRequest{
		Scope: sc, Key: key, Token: facevault.NewID(now), CreatedAt: now, LeaseUntil: now.Add(s.idemLease),
	}
	held, err := s.vault.Store.BeginIdempotent(r.Context(), claim, now.Add(-facevault.IdempotencyTTL))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if held != nil {
		s.answerHeld(w, r, held)
		return
	}

	// The execution ends at the server's write timeout, before its lease:
	// a request that outlives its lease would run beside its retry.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.writeTimeout())
	defer cancel()
	body := &hashingBody{ReadCloser: r.Body, h: sha256.New()}
	r = r.WithContext(ctx)
	r.Body = body
	cw := &captureWriter{ResponseWriter: w}
	abandon := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idempotencyStoreTimeout)
		defer cancel()
		if err := s.vault.Store.AbandonIdempotent(actx, sc, key, claim.Token); err != nil {
			s.logger.ErrorContext(ctx, "idempotency key not freed; it is free again once its lease passes",
				"requestId", RequestID(ctx), "lease", s.idemLease, "err", err)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			abandon()
			panic(v)
		}
	}()
	if err := h(cw, r, sc); err != nil {
		s.writeError(cw, r, err)
	}

	status := cw.status
	keep := status != 0 && status < 500 && status != http.StatusRequestTimeout &&
		status != http.StatusTooManyRequests && !cw.overflow
	if keep && !body.eof && status < 300 {
		// A success that ignores its body (a redaction): the body is
		// still part of the request; a small one is read to the end.
		io.Copy(io.Discard, io.LimitReader(body, MaxJSONBody))
	}
	if keep && body.eof {
		claim.Fingerprint = fingerprint(r, body.h.Sum(nil))
		claim.Status, claim.Body = status, cw.buf.Bytes()
		if e := auditEntryOf(r); e != nil {
			claim.ClientID, claim.ResourceID = e.ClientID, e.ResourceID
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idempotencyStoreTimeout)
		stored, err := s.vault.Store.FinishIdempotent(fctx, claim)
		cancel()
		switch {
		case err != nil:
			// The request has been executed: its answer goes out all
			// the same.
			s.logger.ErrorContext(ctx, "idempotent answer not stored", "requestId", RequestID(ctx), "err", err)
			abandon()
		case !stored:
			s.logger.WarnContext(ctx, "idempotent answer not stored: its key changed hands, or its client was deleted meanwhile",
				"requestId", RequestID(ctx))
		}
	} else {
		abandon()
	}
	cw.flush()
}

// answerHeld answers a request whose key another request holds.
func (s *Server) answerHeld(w http.ResponseWriter, r *http.Request, held *facevault.IdempotentRequest) {
	if !held.Done() {
		setRetryAfter(w, time.Second)
		s.writeErrorStatus(w, r, Status(facevault.EIdempotencyKeyInUse), &facevault.Error{
			Code:    facevault.EIdempotencyKeyInUse,
			Message: "A request with this Idempotency-Key is still in progress; retry it later",
			Param:   IdempotencyKeyHeader,
		})
		return
	}
	// Only the same request gets the answer: its body is read and hashed
	// first, within the largest legal body.
	h := sha256.New()
	if _, err := io.Copy(h, http.MaxBytesReader(w, r.Body, MaxUploadBody)); err != nil {
		var mbe *http.MaxBytesError
		var fe *facevault.Error
		switch {
		case errors.As(err, &mbe):
			err = tooLarge(MaxUploadBody)
		case errors.As(err, &fe), errors.Is(err, errClientGone):
		default:
			err = facevault.Invalid("", "The request body could not be read")
		}
		s.writeError(w, r, err)
		return
	}
	if fingerprint(r, h.Sum(nil)) != held.Fingerprint {
		s.writeError(w, r, &facevault.Error{
			Code: facevault.EIdempotencyKeyReused,
			Message: "This Idempotency-Key was used with a different request (method, path or body); " +
				"use a new key for a new request",
			Param: IdempotencyKeyHeader,
		})
		return
	}
	noteResource(r, held.ResourceID, held.ClientID)
	w.Header().Set(IdempotentReplayedHeader, "true")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(held.Body)))
	w.WriteHeader(held.Status)
	w.Write(held.Body)
}

// hashingBody hashes a request body as the handler reads it, and notes
// whether it was read to its end.
type hashingBody struct {
	io.ReadCloser
	h   hash.Hash
	eof bool
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// unwrapBody returns the body read through b.
func (b *hashingBody) unwrapBody() io.ReadCloser { return b.ReadCloser }

// captureWriter holds an answer back: its status and body, up to
// maxStoredAnswer, until flush. Headers go to the underlying writer as they
// are set.
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool // more than maxStoredAnswer: sent, not stored
	flushed  bool
}

func (w *captureWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.flushed {
		return w.ResponseWriter.Write(p)
	}
	w.buf.Write(p)
	if w.buf.Len() > maxStoredAnswer {
		w.overflow = true
		w.flush()
	}
	return len(p), nil
}

// flush sends what was held back; from then on writes go through.
func (w *captureWriter) flush() {
	if w.flushed || w.status == 0 {
		return
	}
	w.flushed = true
	w.ResponseWriter.WriteHeader(w.status)
	if w.buf.Len() > 0 {
		w.ResponseWriter.Write(w.buf.Bytes())
	}
	if w.overflow {
		w.buf = bytes.Buffer{}
	}
}

// Unwrap lets http.ResponseController and noteClientGone reach the
// underlying writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
