package http

import (
	"bufio"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// timeFormat is the contract's timestamp format: ISO-8601 UTC with
// milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

type clientJSON struct {
	ID             string                    `json:"id"`
	Type           string                    `json:"type"`
	EntityName     string                    `json:"entityName,omitempty"`
	Email          string                    `json:"email,omitempty"`
	Mobile         string                    `json:"mobile,omitempty"`
	Telephone      string                    `json:"telephone,omitempty"`
	ExternalID     string                    `json:"externalId,omitempty"`
	JoinedDate     string                    `json:"joinedDate,omitempty"`
	PersonDetails  *facevault.PersonDetails  `json:"personDetails,omitempty"`
	CompanyDetails *facevault.CompanyDetails `json:"companyDetails,omitempty"`
	Metadata       map[string]string         `json:"metadata,omitempty"`
	Retention      *facevault.Retention      `json:"retention,omitempty"`
	CreatedAt      string                    `json:"createdAt"`
	UpdatedAt      string                    `json:"updatedAt"`
}

func toClientJSON(c *facevault.Client) clientJSON {
	return clientJSON{
		ID:             c.ID,
		Type:           c.Type,
		EntityName:     c.EntityName(),
		Email:          c.Email,
		Mobile:         c.Mobile,
		Telephone:      c.Telephone,
		ExternalID:     c.ExternalID,
		JoinedDate:     c.JoinedDate,
		PersonDetails:  c.PersonDetails,
		CompanyDetails: c.CompanyDetails,
		Metadata:       c.Metadata,
		Retention:      c.Retention,
		CreatedAt:      formatTime(c.CreatedAt),
		UpdatedAt:      formatTime(c.UpdatedAt),
	}
}

type livePhotoJSON struct {
	ID                   string `json:"id"`
	ClientID             string `json:"clientId"`
	DownloadLink         string `json:"downloadLink,omitempty"`
	ContentType          string `json:"contentType"`
	PerformLivenessCheck bool   `json:"performLivenessCheck"`
	Size                 int64  `json:"size"`
	// LivenessCheck is absent when the upload asked for no check.
	LivenessCheck *facevault.LivenessCheck `json:"livenessCheck,omitempty"`
	Redacted      bool                     `json:"redacted,omitzero"`
	RedactedAt    string                   `json:"redactedAt,omitempty"`
	CreatedAt     string                   `json:"createdAt"`
	UpdatedAt     string                   `json:"updatedAt"`
}

func toLivePhotoJSON(p *facevault.LivePhoto) livePhotoJSON {
	return livePhotoJSON{
		ID:                   p.ID,
		ClientID:             p.ClientID,
		DownloadLink:         "/livePhotos/" + p.ID + "/download",
		ContentType:          p.ContentType,
		PerformLivenessCheck: p.PerformLivenessCheck,
		Size:                 p.Size,
		LivenessCheck:        p.LivenessCheck,
		Redacted:             p.Redacted(),
		RedactedAt:           formatTime(p.RedactedAt),
		CreatedAt:            formatTime(p.CreatedAt),
		UpdatedAt:            formatTime(p.UpdatedAt),
	}
}

// downloadFileName is the contract's file name for a download.
func downloadFileName(p *facevault.LivePhoto) string {
	return fmt.Sprintf("selfie_%d.%s", p.CreatedAt.UnixMilli(), p.Extension())
}

// writeList answers a list request with the contract's envelope,
// {"page":…,"pageSize":…,"totalItems":…,"pages":…,"items":[…]}, streamed:
// each item is encoded and sent as the sequence yields it, so that a page of
// up to 1,000 large items is never held whole, as objects or as JSON. An
// error reading a later chunk of items, or encoding one, comes after the
// status line is sent: the connection is cut then, rather than a truncated
// list sent as a success.
func writeList[T, J any](s *Server, w http.ResponseWriter, r *http.Request, p facevault.Page, total int, items iter.Seq2[T, error], toJSON func(T) J) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	fmt.Fprintf(bw, `{"page":%d,"pageSize":%d,"totalItems":%d,"pages":%d,"items":[`,
		p.Page, p.PageSize, total, (total+p.PageSize-1)/p.PageSize)
	n := 0
	var err error
	for item, ierr := range items {
		if err = ierr; err != nil {
			break
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		if err = json.MarshalWrite(bw, toJSON(item), json.Deterministic(true)); err != nil {
			break
		}
		if _, err = bw.Write(nil); err != nil {
			break // the caller has gone: stop reading the list
		}
	}
	if err == nil {
		bw.WriteString("]}")
		err = bw.Flush()
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.logger.ErrorContext(r.Context(), "list failed part-way", "path", r.URL.Path, "items", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// listParams are the query parameters every list understands.
var listParams = map[string]bool{
	"page": true, "pageSize": true,
	"createdAfter": true, "createdBefore": true, "updatedAfter": true, "updatedBefore": true,
}

// parseListOptions reads paging and time filters from a query. Bad paging is
// a 400 naming the parameter; a malformed date filter makes the list empty,
// as ComplyCube documents.
func parseListOptions(q map[string][]string) (facevault.ListOptions, error) {
	o := facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: facevault.DefaultPageSize}}
	var err error
	if o.Page.Page, err = intParam(q, "page", 1, 1, 1<<31-1); err != nil {
		return o, err
	}
	if o.PageSize, err = intParam(q, "pageSize", facevault.DefaultPageSize, 1, facevault.MaxPageSize); err != nil {
		return o, err
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{
		{"createdAfter", &o.CreatedAfter}, {"createdBefore", &o.CreatedBefore},
		{"updatedAfter", &o.UpdatedAfter}, {"updatedBefore", &o.UpdatedBefore},
	} {
		vs, ok := q[f.name]
		if !ok {
			continue
		}
		t, ok := parseTime(vs[0])
		if !ok || len(vs) > 1 {
			o.Impossible = true
			continue
		}
		if t.IsZero() && strings.HasSuffix(f.name, "Before") {
			// The zero time means no bound; nothing is before it.
			o.Impossible = true
		}
		*f.dst = t
	}
	return o, nil
}

// listQuery parses the query of a list. A part that does not parse (a bad
// escape, a semicolon, too many parameters) is not dropped, which would
// widen the list: ok is false and the list must match nothing.
func listQuery(r *http.Request) (q url.Values, ok bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	return q, err == nil
}

func intParam(q map[string][]string, name string, def, lo, hi int) (int, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vs) > 1 {
		return 0, facevault.Invalid(name, "The query parameter '%s' must be given once", name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
	if err != nil || n < lo || n > hi {
		if name == "page" {
			return 0, facevault.Invalid(name, "The query parameter 'page' must be an integer of at least 1")
		}
		return 0, facevault.Invalid(name, "The query parameter '%s' must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// timeLayouts are the ISO-8601 forms a date filter may take.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02T15:04Z07:00",
	time.DateOnly,
}

// isoShape is the strict shape of timeLayouts: time.Parse alone also takes
// one-digit hours and offsets of 24 hours or more.
var isoShape = regexp.MustCompile(`^\d{4}-\d\d-\d\d(T([01]\d|2[0-3]):\d\d(:\d\d([.,]\d+)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?$`)

func parseTime(s string) (time.Time, bool) {
	if !isoShape.MatchString(s) {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
