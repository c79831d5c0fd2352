package facevault

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error codes. Each is the `type` string FaceVault puts on the wire; the http
// package maps each to an HTTP status in one table.
const (
	EInvalid      = "invalid_request"       // 400: a field, header or parameter is wrong
	EUnauthorized = "unauthorized"          // 401: missing, unknown or revoked key
	ENotFound     = "resource_not_found"    // 404: unknown route or id
	ETimeout      = "request_timeout"       // 408: the request body did not arrive in time
	ETooLarge     = "request_too_large"     // 413: body larger than any legal request
	ERateLimited  = "rate_limit_exceeded"   // 429: too many requests
	EInternal     = "internal_server_error" // 500: anything unexpected
)

// Error is an error a caller can act on: a code, a message that says what to
// fix, and, where one field is at fault, the name of that field. Any error
// that is not an *Error is internal: its text goes to the log, never to the
// caller.
type Error struct {
	Code    string
	Message string
	Param   string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("facevault: %s: %s (param %s)", e.Code, e.Message, e.Param)
	}
	return fmt.Sprintf("facevault: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a 400 error naming the parameter at fault.
func Invalid(param, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Message: fmt.Sprintf(format, args...), Param: param}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrNotFound is returned (wrapped) by stores when the record asked for does
// not exist in the caller's scope. The service turns it into the contract's
// "Invalid ... id" error.
var ErrNotFound = errors.New("facevault: not found")

// ErrExist is returned (wrapped) by stores asked to put something where
// something already is, and never to overwrite it: restoring a quarantined
// image over an image of the same key.
var ErrExist = errors.New("facevault: already exists")

// ErrClientNotFound returns the contract's 404 for a client id. The id is
// quoted as Clip shortens it.
func ErrClientNotFound(id string) *Error {
	return Errorf(ENotFound, "Invalid client id '%s'", Clip(id))
}

// ErrLivePhotoNotFound returns the contract's 404 for a live photo id. The
// id is quoted as Clip shortens it.
func ErrLivePhotoNotFound(id string) *Error {
	return Errorf(ENotFound, "Invalid live photo id '%s'", Clip(id))
}

// MaxClip is the most characters of a caller's string that an error message
// repeats: ids are 24, paths of the API's routes at most 48.
const MaxClip = 64

// Clip returns a caller's string (an id, a path, a method, a field name) as
// an error message may repeat it: unchanged if it is valid UTF-8 of at most
// MaxClip characters; otherwise its first MaxClip characters followed by
// "…", and with each run of invalid bytes replaced by U+FFFD. A caller cannot make
// an answer grow with what it sent.
func Clip(s string) string {
	if len(s) <= MaxClip && utf8.ValidString(s) {
		return s
	}
	const maxBytes = 4*MaxClip + 4 // more than MaxClip characters of any kind
	cut := len(s) > maxBytes
	if cut {
		s = s[:maxBytes]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	n := 0
	for i := range s {
		if n == MaxClip {
			return s[:i] + "…"
		}
		n++
	}
	if cut {
		return s + "…"
	}
	return s
}
