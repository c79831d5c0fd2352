package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Error types the service answers with (docs/contract.md, section 3), in
// Error.Type.
const (
	TypeInvalidRequest        = "invalid_request"
	TypeUnauthorized          = "unauthorized"
	TypeNotFound              = "resource_not_found"
	TypeLegalHold             = "legal_hold"
	TypeLivePhotoInUse        = "live_photo_in_use"
	TypeRequestTimeout        = "request_timeout"
	TypeRequestTooLarge       = "request_too_large"
	TypeRateLimitExceeded     = "rate_limit_exceeded"
	TypeInternalServerError   = "internal_server_error"
	TypeIdempotencyKeyInUse   = "idempotency_key_in_use"
	TypeNoFaceDetected        = "no_face_detected"
	TypeMultipleFacesDetected = "multiple_faces_detected"
	TypeImageUnreadable       = "image_unreadable"
	TypeCheckTypeUnavailable  = "check_type_unavailable"
	TypeCheckNotComplete      = "check_not_complete"
	TypeLivePhotoRedacted     = "live_photo_redacted"
	TypeFaceDataUnavailable   = "face_data_unavailable"
	TypeImageTooLargeToCheck  = "image_too_large_to_check"
)

// Error is an unsuccessful answer of the service: its HTTP status and the
// JSON error body {"type","message","param"}. Use errors.As to get it from
// any error a method returns, or the Is helpers (IsNotFound, …).
type Error struct {
	// StatusCode is the HTTP status, such as 404.
	StatusCode int
	// Type is the error's type, such as "resource_not_found" (the Type
	// constants); empty if the answer had no JSON error body (a proxy's
	// page, say).
	Type string
	// Message says what went wrong and what to fix.
	Message string
	// Param names the request field, query parameter or header at fault,
	// where one is.
	Param string
	// RequestID is the answer's X-Request-Id: quote it when reporting a
	// problem, it finds the request in the service's log and audit log.
	RequestID string
}

// Error formats the status, type, message, param and request id.
func (e *Error) Error() string {
	s := fmt.Sprintf("facevault: %d", e.StatusCode)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// readError makes the *Error of an unsuccessful answer, and closes its body.
func readError(resp *http.Response) error {
	defer resp.Body.Close()
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var body struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Param   string `json:"param"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil {
		e.Type, e.Message, e.Param = body.Type, body.Message, body.Param
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports whether err is a 404: an unknown id (or one of another
// account or mode, which the service answers alike).
func IsNotFound(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusNotFound
}

// IsInvalid reports whether err is a 400: a missing or malformed field,
// named by the Error's Param.
func IsInvalid(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusBadRequest
}

// IsUnauthorized reports whether err is a 401: the API key is missing,
// unknown or revoked.
func IsUnauthorized(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusUnauthorized
}

// IsConflict reports whether err is a 409, such as a legal hold or a live
// photo in use by a check.
func IsConflict(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusConflict
}

// IsUnprocessable reports whether err is a 422: the request was well formed
// but cannot be processed; the Error's Type says why.
func IsUnprocessable(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusUnprocessableEntity
}

// IsRateLimited reports whether err is a 429 (after the Client's retries).
func IsRateLimited(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusTooManyRequests
}

// HasType reports whether err is an *Error of the given type, such as
// TypeLegalHold.
func HasType(err error, typ string) bool {
	e, ok := asError(err)
	return ok && e.Type == typ
}

// NetworkError is a request that got no answer: the connection failed or
// was cut before a response's headers arrived.
type NetworkError struct {
	Op  string // method and path, such as "GET /clients/…"
	Err error
}

// Error names the request and the failure.
func (e *NetworkError) Error() string { return "facevault: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the failure, for errors.Is and errors.As.
func (e *NetworkError) Unwrap() error { return e.Err }

// NotRetriedError is a failed upload that would have been retried, but
// whose image reader had already been read from and could not be rewound
// (it is not an io.Seeker). Err is the failure (an *Error or a
// *NetworkError). To have such uploads retried, pass an io.ReadSeeker (a
// *bytes.Reader, an *os.File).
type NotRetriedError struct{ Err error }

// Error says what failed and why it was not retried.
func (e *NotRetriedError) Error() string {
	return e.Err.Error() + " (not retried: the image reader cannot be rewound)"
}

// Unwrap returns the failure, for errors.Is and errors.As.
func (e *NotRetriedError) Unwrap() error { return e.Err }

// ErrNotRetried matches a *NotRetriedError with errors.Is.
var ErrNotRetried = errors.New("facevault: not retried: the image reader cannot be rewound")

// Is makes errors.Is(err, ErrNotRetried) true.
func (e *NotRetriedError) Is(target error) bool { return target == ErrNotRetried }

// IntegrityError is a download whose bytes do not match the SHA-256 the
// service sent with them, or that ended short. The bytes written to the
// caller's writer are not the stored image and must be discarded.
type IntegrityError struct {
	LivePhotoID string
	// Want is the service's digest, Got that of the bytes received (both
	// lowercase hex); Written is how many bytes went to the writer.
	Want, Got string
	Written   int64
}

// Error says which download failed its check, and to discard the bytes.
func (e *IntegrityError) Error() string {
	return fmt.Sprintf("facevault: download of live photo %s: the %d bytes received have SHA-256 %s, not %s as sent: discard them",
		e.LivePhotoID, e.Written, e.Got, e.Want)
}

// ErrIntegrity matches an *IntegrityError with errors.Is.
var ErrIntegrity = errors.New("facevault: downloaded image does not match its digest")

// Is makes errors.Is(err, ErrIntegrity) true.
func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }
