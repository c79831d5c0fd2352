package http

import (
	"errors"
	"net/http"

	"github.com/facevault/facevault"
)

// statuses maps error codes to HTTP statuses. A code not listed is a
// processing error: 422.
var statuses = map[string]int{
	facevault.EInvalid:             http.StatusBadRequest,
	facevault.EUnauthorized:        http.StatusUnauthorized,
	facevault.ENotFound:            http.StatusNotFound,
	facevault.ETimeout:             http.StatusRequestTimeout,
	facevault.ETooLarge:            http.StatusRequestEntityTooLarge,
	facevault.ERateLimited:         http.StatusTooManyRequests,
	facevault.EInternal:            http.StatusInternalServerError,
	facevault.ELegalHold:           http.StatusConflict,
	facevault.EInUse:               http.StatusConflict,
	facevault.EIdempotencyKeyInUse: http.StatusConflict,
}

// Status returns the HTTP status for an error code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusUnprocessableEntity
}

// internalMessage is what a caller sees of any unexpected error; the cause
// goes to the log.
const internalMessage = "An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."

type errorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// writeError answers with err as the contract's JSON error. Errors that are
// not a *facevault.Error are logged with their cause and answered with a
// generic 500, except when the client went away: then nothing is answered,
// and the request is logged with status 499, at info level like any other.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *facevault.Error
	if !errors.As(err, &e) {
		// The request's context ends early only when its connection is
		// gone (or the server is closing it): the error is the
		// cancellation's, however the store worded it.
		if errors.Is(err, errClientGone) || r.Context().Err() != nil {
			s.logger.DebugContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path, "err", err)
			noteClientGone(w)
			return
		}
		s.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path,
			"requestId", RequestID(r.Context()), "err", err)
		e = &facevault.Error{Code: facevault.EInternal, Message: internalMessage}
	}
	if e.Code == facevault.ETimeout {
		s.logger.InfoContext(r.Context(), "request body too slow", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "reason", e.Message)
	}
	s.writeErrorStatus(w, r, Status(e.Code), e)
}

func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, e *facevault.Error) {
	if b, ok := unreadBody(r); ok {
		// An answer before the body was read (a 401, a 429, a 413, a
		// 408): the rest is not worth reading, or not coming. Closing
		// the connection sends the answer at once; otherwise net/http
		// would first read up to 256 KiB of the body to keep the
		// connection, waiting for it as long as the body's deadline
		// allows. It still reads what comes within lingerUnread, so that
		// a client still sending gets the answer rather than a reset.
		w.Header().Set("Connection", "close")
		defer b.abandon()
	}
	s.writeJSON(w, r, status, errorJSON{Type: e.Code, Message: e.Message, Param: e.Param})
}
