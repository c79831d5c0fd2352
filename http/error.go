package http

import (
	"errors"
	"net/http"

	"github.com/facevault/facevault"
)

// statuses maps error codes to HTTP statuses. A code not listed is a
// processing error: 422.
var statuses = map[string]int{
	facevault.EInvalid:      http.StatusBadRequest,
	facevault.EUnauthorized: http.StatusUnauthorized,
	facevault.ENotFound:     http.StatusNotFound,
	facevault.ETooLarge:     http.StatusRequestEntityTooLarge,
	facevault.ERateLimited:  http.StatusTooManyRequests,
	facevault.EInternal:     http.StatusInternalServerError,
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
// generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *facevault.Error
	if !errors.As(err, &e) {
		s.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &facevault.Error{Code: facevault.EInternal, Message: internalMessage}
	}
	s.writeErrorStatus(w, r, Status(e.Code), e)
}

func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, e *facevault.Error) {
	if status == http.StatusRequestEntityTooLarge {
		// The rest of the body is not worth reading: drop the connection.
		w.Header().Set("Connection", "close")
	}
	s.writeJSON(w, r, status, errorJSON{Type: e.Code, Message: e.Message, Param: e.Param})
}
