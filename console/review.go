package console

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// ReviewOptions configure the review pages.
type ReviewOptions struct {
	// Thumbnails makes and caches the thumbnails; nil makes a cache of
	// the default size on first use.
	Thumbnails *Thumbnails
	// Audit appends the audit entries of the console's pages and actions;
	// nil appends through the vault's record store.
	Audit facevault.AuditAppender
	// Liveness is the configuration the liveness check runs with, whose
	// thresholds the pages quote; the zero value quotes the defaults.
	Liveness liveness.Config
}

// SetReviewOptions configures the review pages. Call it before serving.
func (c *Console) SetReviewOptions(o ReviewOptions) {
	if o.Liveness == (liveness.Config{}) {
		o.Liveness = liveness.DefaultConfig()
	}
	c.review = o
}

// Thumbnails returns the console's thumbnail cache, to be told of photos
// destroyed (wire its Forget to Vault.Forget).
func (c *Console) Thumbnails() *Thumbnails {
	c.reviewOnce.Do(func() {
		if c.review.Thumbnails == nil {
			c.review.Thumbnails = NewThumbnails(c.vault, 0)
		}
		if c.review.Liveness == (liveness.Config{}) {
			c.review.Liveness = liveness.DefaultConfig()
		}
	})
	return c.review.Thumbnails
}

func (c *Console) auditor() facevault.AuditAppender {
	if c.review.Audit != nil {
		return c.review.Audit
	}
	return c.vault.Store
}

// reviewRoutes are the pages of the review itself: the queue, clients and
// photos.
func (c *Console) reviewRoutes() []Route {
	rv, admin := facevault.RoleReviewer, facevault.RoleAdmin
	return []Route{
		{Pattern: "GET /console/{$}", Role: rv, Scoped: true, Nav: "Home", Handler: c.home},
		{Pattern: "GET /console/queue", Role: rv, Scoped: true, Nav: "Review queue", Handler: c.queue},
		{Pattern: "GET /console/clients", Role: rv, Scoped: true, Nav: "Clients", Handler: c.clients},
		{Pattern: "GET /console/clients/{id}", Role: rv, Scoped: true, Handler: c.client},
		{Pattern: "GET /console/clients/{id}/delete", Role: admin, Scoped: true, Handler: c.confirmDeleteClient},
		{Pattern: "POST /console/clients/{id}/delete", Role: admin, Scoped: true, Handler: c.deleteClient},
		{Pattern: "GET /console/photos/{id}", Role: rv, Scoped: true, Handler: c.photo},
		{Pattern: "GET /console/photos/{id}/image", Role: rv, Scoped: true, Handler: c.photoImage},
		{Pattern: "GET /console/photos/{id}/original", Role: rv, Scoped: true, Handler: c.original},
		{Pattern: "GET /console/photos/{id}/{action}", Role: rv, Scoped: true, Handler: c.confirmPhoto},
		{Pattern: "POST /console/photos/{id}/redact", Role: rv, Scoped: true, Handler: c.redactPhoto},
		{Pattern: "POST /console/photos/{id}/delete", Role: rv, Scoped: true, Handler: c.deletePhoto},
		{Pattern: "POST /console/photos/{id}/review", Role: rv, Scoped: true, Handler: c.reviewPhoto},
		{Pattern: "POST /console/checks/{id}/review", Role: rv, Scoped: true, Handler: c.reviewCheck},
	}
}

// homeData is what the home page shows: what waits in the review queue.
type homeData struct {
	Photos, Checks int
}

// home is the console's first page once an account and mode are chosen:
// how many photos and checks wait for a review.
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	one := facevault.ReviewFilter{ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 1}}}
	var d homeData
	var err error
	if d.Photos, _, err = c.vault.ReviewPhotos(r.Context(), v.Scope, one); err != nil {
		return err
	}
	if d.Checks, _, err = c.vault.ReviewChecks(r.Context(), v.Scope, one); err != nil {
		return err
	}
	return c.render(w, r, v, http.StatusOK, "home", Page{Title: "Home", Data: d})
}

// Paging of the console's lists.
const (
	queuePageSize = 20
	gridPageSize  = 24
	maxPageSize   = 100
)

// pageOf reads the page and pageSize query parameters: 1 and def unless
// given; a value that is not a number in range is a 400.
func pageOf(q url.Values, def int) (facevault.Page, error) {
	p := facevault.Page{Page: 1, PageSize: def}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return p, BadRequest("The page must be a whole number from 1.")
		}
		p.Page = n
	}
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return p, BadRequest("The page size must be a whole number from 1 to %d.", maxPageSize)
		}
		p.PageSize = n
	}
	return p, nil
}

// Pager is the navigation between the pages of a list.
type Pager struct {
	Page, Pages, Total int
	Prev, Next         string // links; "" at the ends
}

func pagerOf(r *http.Request, p facevault.Page, total int) Pager {
	pages := max(1, (total+p.PageSize-1)/p.PageSize)
	pg := Pager{Page: p.Page, Pages: pages, Total: total}
	link := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Page > 1 {
		pg.Prev = link(min(p.Page-1, pages))
	}
	if p.Page < pages {
		pg.Next = link(p.Page + 1)
	}
	return pg
}

// collect reads a page's sequence.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// dateLayout is how date inputs send a date.
const dateLayout = "2006-01-02"

// queueFilter is the review queue's form, as sent.
type queueFilter struct {
	Kind, Client, Outcome, Reason, Reviewed, From, To string
}

// Option is a choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

func options(current string, pairs ...string) []Option {
	var out []Option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == current})
	}
	return out
}

// queueData is what the queue page shows.
type queueData struct {
	Filter                         queueFilter
	Kinds, Outcomes, Reasons, Revs []Option
	Photos                         []*photoView
	Checks                         []*checkView
	Pager                          Pager
	Notice                         string
}

// photoView is a live photo as the pages show it.
type photoView struct {
	*facevault.LivePhoto
	ClientName string
	Reasons    []string // in words
	Findings   []Finding
	Overlay    *overlay
}

// checkView is a check as the pages show it.
type checkView struct {
	*facevault.Check
	Reasons  []string
	Findings []Finding
}

// overlay is the face box and landmarks drawn over a photo, in the upright
// image's pixels (an SVG viewBox of W×H).
type overlay struct {
	W, H      int
	Box       *facevault.FaceBox
	Points    []point
	R, Stroke float64
}

type point struct {
	X, Y  int
	Label string
}

func overlayOf(p *facevault.LivePhoto) *overlay {
	if p.LivenessCheck == nil || p.LivenessCheck.Breakdown.QualityAnalysis == nil {
		return nil
	}
	b := p.LivenessCheck.Breakdown.QualityAnalysis.Breakdown
	if b.FaceBox == nil || b.ImageWidthPixels <= 0 || b.ImageHeightPixels <= 0 {
		return nil
	}
	side := float64(max(b.ImageWidthPixels, b.ImageHeightPixels))
	o := &overlay{W: b.ImageWidthPixels, H: b.ImageHeightPixels, Box: b.FaceBox, R: side / 120, Stroke: side / 200}
	if l := b.Landmarks; l != nil {
		o.Points = []point{
			{l.RightEye.X, l.RightEye.Y, "right eye"}, {l.LeftEye.X, l.LeftEye.Y, "left eye"},
			{l.Nose.X, l.Nose.Y, "nose"}, {l.Mouth.X, l.Mouth.Y, "mouth"},
			{l.RightEar.X, l.RightEar.Y, "right ear"}, {l.LeftEar.X, l.LeftEar.Y, "left ear"},
		}
	}
	return o
}

func (c *Console) viewPhoto(p *facevault.LivePhoto, clientName string) *photoView {
	pv := &photoView{LivePhoto: p, ClientName: clientName, Overlay: overlayOf(p)}
	for _, code := range p.LivenessReasons {
		pv.Reasons = append(pv.Reasons, reasonLabel(code))
	}
	if p.LivenessCheck != nil {
		if len(pv.Reasons) == 0 {
			for _, code := range facevault.LivenessReasons(p.LivenessCheck) {
				pv.Reasons = append(pv.Reasons, reasonLabel(code))
			}
		}
		c.Thumbnails() // the thresholds are set once
		pv.Findings = explainLiveness(p.LivenessCheck, c.review.Liveness)
	}
	return pv
}

// clientNames returns the display name of each client, read once each; a
// client gone meanwhile has none.
func (c *Console) clientName(r *http.Request, v *Viewer, names map[string]string, id string) (string, error) {
	if n, ok := names[id]; ok {
		return n, nil
	}
	cl, err := c.vault.Client(r.Context(), v.Scope, id)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		names[id] = ""
		return "", nil
	} else if err != nil {
		return "", err
	}
	names[id] = displayName(cl)
	return names[id], nil
}

// displayName is a client's name, or its email or id when it has none.
func displayName(cl *facevault.Client) string {
	if n := cl.EntityName(); n != "" {
		return n
	}
	if cl.Email != "" {
		return cl.Email
	}
	return cl.ID
}

// queue shows the review queue: live photos, or checks, whose outcome is
// attention (or as filtered), newest first.
func (c *Console) queue(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, q := r.Context(), r.URL.Query()
	fq := queueFilter{Kind: q.Get("kind"), Client: strings.TrimSpace(q.Get("client")), Outcome: q.Get("outcome"),
		Reason: q.Get("reason"), Reviewed: q.Get("reviewed"), From: q.Get("from"), To: q.Get("to")}
	if fq.Kind != "" && fq.Kind != "checks" {
		return BadRequest("Show photos or checks.")
	}
	page, err := pageOf(q, queuePageSize)
	if err != nil {
		return err
	}
	f := facevault.ReviewFilter{ListOptions: facevault.ListOptions{Page: page}, ClientID: fq.Client,
		Outcome: fq.Outcome, Reason: fq.Reason, Reviewed: fq.Reviewed}
	if fq.From != "" {
		t, err := time.Parse(dateLayout, fq.From)
		if err != nil {
			return BadRequest("The 'from' date must be a date such as 2026-11-30.")
		}
		f.CreatedAfter = t.Add(-time.Millisecond)
	}
	if fq.To != "" {
		t, err := time.Parse(dateLayout, fq.To)
		if err != nil {
			return BadRequest("The 'to' date must be a date such as 2026-11-30.")
		}
		f.CreatedBefore = t.Add(24 * time.Hour)
	}
	d := queueData{Filter: fq, Notice: q.Get("done"),
		Kinds:    options(fq.Kind, "", "Live photos", "checks", "Checks"),
		Outcomes: options(fq.Outcome, "", "Attention", facevault.OutcomeClear, "Clear"),
		Revs:     options(fq.Reviewed, "", "Not reviewed yet", facevault.ReviewedYes, "Reviewed", facevault.ReviewedBoth, "Both"),
	}
	codes := facevault.PhotoReasons
	if fq.Kind == "checks" {
		codes = facevault.CheckReasons
	}
	d.Reasons = []Option{{Value: "", Label: "Any reason", Selected: fq.Reason == ""}}
	for _, code := range codes {
		d.Reasons = append(d.Reasons, Option{Value: code, Label: reasonLabel(code), Selected: code == fq.Reason})
	}
	names := map[string]string{}
	var total int
	if fq.Kind == "checks" {
		n, seq, err := c.vault.ReviewChecks(ctx, v.Scope, f)
		if err != nil {
			return err
		}
		checks, err := collect(seq)
		if err != nil {
			return err
		}
		total = n
		for _, ch := range checks {
			cv := &checkView{Check: ch, Findings: explainCheck(ch)}
			for _, code := range facevault.CheckAttentionReasons(ch.Result) {
				cv.Reasons = append(cv.Reasons, reasonLabel(code))
			}
			d.Checks = append(d.Checks, cv)
		}
	} else {
		n, seq, err := c.vault.ReviewPhotos(ctx, v.Scope, f)
		if err != nil {
			return err
		}
		photos, err := collect(seq)
		if err != nil {
			return err
		}
		total = n
		for _, p := range photos {
			name, err := c.clientName(r, v, names, p.ClientID)
			if err != nil {
				return err
			}
			d.Photos = append(d.Photos, c.viewPhoto(p, name))
		}
	}
	d.Pager = pagerOf(r, page, total)
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerViewQueue, facevault.ActionList, facevault.AuditLivePhoto, "", fq.Client, http.StatusOK)); err != nil {
		return err
	}
	return c.render(w, r, v, http.StatusOK, "queue", Page{Title: "Review queue", Data: d})
}

// clientSearchFields are the attributes the client search offers.
var clientSearchFields = []string{"", "All clients", "id", "Client id", "email", "Email", "personDetails.lastName", "Last name",
	"personDetails.firstName", "First name", "companyDetails.name", "Company name", "externalId", "External id"}

// clientsData is what the clients page shows.
type clientsData struct {
	Field, Value string
	Fields       []Option
	Clients      []*facevault.Client
	Pager        Pager
	Notice       string
}

// clients lists the scope's clients, newest first, or those whose
// attribute equals the value searched for.
func (c *Console) clients(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, q := r.Context(), r.URL.Query()
	d := clientsData{Field: q.Get("field"), Value: strings.TrimSpace(q.Get("q")), Notice: q.Get("done")}
	d.Fields = options(d.Field, clientSearchFields...)
	page, err := pageOf(q, queuePageSize)
	if err != nil {
		return err
	}
	if d.Field == "id" && d.Value != "" {
		http.Redirect(w, r, "/console/clients/"+url.PathEscape(d.Value), http.StatusSeeOther)
		return nil
	}
	f := facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: page}}
	if d.Field != "" {
		if !validField(d.Field) {
			return BadRequest("Search by one of the fields offered.")
		}
		if d.Value == "" {
			return BadRequest("Type what to search for.")
		}
		f.Fields = map[string]string{d.Field: d.Value}
	}
	total, seq, err := c.vault.Clients(ctx, v.Scope, f)
	if err != nil {
		return err
	}
	if d.Clients, err = collect(seq); err != nil {
		return err
	}
	d.Pager = pagerOf(r, page, total)
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerViewClients, facevault.ActionList, facevault.AuditClient, "", "", http.StatusOK)); err != nil {
		return err
	}
	return c.render(w, r, v, http.StatusOK, "clients", Page{Title: "Clients", Data: d})
}

func validField(f string) bool {
	for i := 2; i < len(clientSearchFields); i += 2 {
		if clientSearchFields[i] == f && f != "id" {
			return true
		}
	}
	return false
}

// clientData is what a client's page shows.
type clientData struct {
	Client *facevault.Client
	Name   string
	Photos []*photoView
	Pager  Pager
	Checks []*checkView
	// ChecksTotal counts all the client's checks; Checks holds the newest.
	ChecksTotal int
	Notice      string
}

// clientChecksShown is how many of a client's checks its page lists.
const clientChecksShown = 50

// client shows a client: details, photos in a grid (paged), checks.
func (c *Console) client(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	page, err := pageOf(r.URL.Query(), gridPageSize)
	if err != nil {
		return err
	}
	cl, err := c.vault.Client(ctx, v.Scope, id)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return NotFound("This client")
	} else if err != nil {
		return err
	}
	d := clientData{Client: cl, Name: displayName(cl), Notice: r.URL.Query().Get("done")}
	total, seq, err := c.vault.LivePhotos(ctx, v.Scope, id, facevault.ListOptions{Page: page})
	if err != nil {
		return err
	}
	photos, err := collect(seq)
	if err != nil {
		return err
	}
	for _, p := range photos {
		d.Photos = append(d.Photos, c.viewPhoto(p, d.Name))
	}
	d.Pager = pagerOf(r, page, total)
	n, cseq, err := c.vault.Checks(ctx, v.Scope, facevault.CheckFilter{ClientID: id,
		ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: clientChecksShown}}})
	if err != nil {
		return err
	}
	checks, err := collect(cseq)
	if err != nil {
		return err
	}
	d.ChecksTotal = n
	for _, ch := range checks {
		cv := &checkView{Check: ch, Findings: explainCheck(ch)}
		for _, code := range facevault.CheckAttentionReasons(ch.Result) {
			cv.Reasons = append(cv.Reasons, reasonLabel(code))
		}
		d.Checks = append(d.Checks, cv)
	}
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerViewClient, facevault.ActionRead, facevault.AuditClient, id, id, http.StatusOK)); err != nil {
		return err
	}
	return c.render(w, r, v, http.StatusOK, "client", Page{Title: d.Name, Data: d})
}

// photoData is what a photo's page shows.
type photoData struct {
	Photo  *photoView
	Client *facevault.Client
	Notice string
}

// lookPhoto reads a photo of the viewer's scope and its client.
func (c *Console) lookPhoto(r *http.Request, v *Viewer) (*facevault.LivePhoto, *facevault.Client, error) {
	id := r.PathValue("id")
	p, err := c.vault.LivePhoto(r.Context(), v.Scope, id)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return nil, nil, NotFound("This live photo")
	} else if err != nil {
		return nil, nil, err
	}
	cl, err := c.vault.Client(r.Context(), v.Scope, p.ClientID)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return nil, nil, NotFound("This live photo")
	} else if err != nil {
		return nil, nil, err
	}
	return p, cl, nil
}

// photo shows a live photo's full result.
func (c *Console) photo(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	p, cl, err := c.lookPhoto(r, v)
	if err != nil {
		return err
	}
	if err := c.audit(r.Context(), c.auditEntry(r, v, TriggerViewPhoto, facevault.ActionRead, facevault.AuditLivePhoto, p.ID, p.ClientID, http.StatusOK)); err != nil {
		return err
	}
	d := photoData{Photo: c.viewPhoto(p, displayName(cl)), Client: cl, Notice: r.URL.Query().Get("done")}
	return c.render(w, r, v, http.StatusOK, "photo", Page{Title: "Live photo " + p.ID, Data: d})
}

// photoImage serves a thumbnail (size=small, the default, or large) of a
// photo that exists in the viewer's scope and is not redacted: the record
// is read first, every time, whatever the cache holds.
func (c *Console) photoImage(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	side := ThumbSmall
	switch r.URL.Query().Get("size") {
	case "", "small":
	case "large":
		side = ThumbLarge
	default:
		return BadRequest("The size must be small or large.")
	}
	p, err := c.vault.LivePhoto(r.Context(), v.Scope, r.PathValue("id"))
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return NotFound("This live photo")
	} else if err != nil {
		return err
	}
	if p.Redacted() {
		return &Error{Status: http.StatusGone, Message: "This live photo has been redacted: its image is destroyed."}
	}
	b, err := c.Thumbnails().Get(r.Context(), v.Scope, p, side)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return &Error{Status: http.StatusGone, Message: "This live photo has been redacted: its image is destroyed."}
	} else if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}

// original downloads a photo's image as it was stored.
func (c *Console) original(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx := r.Context()
	p, img, err := c.vault.OpenImage(ctx, v.Scope, r.PathValue("id"))
	if fe, ok := errors.AsType[*facevault.Error](err); ok && fe.Code == facevault.ENotFound {
		return &Error{Status: http.StatusNotFound, Message: fe.Message}
	} else if err != nil {
		return err
	}
	defer img.Close()
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerDownloadPhoto, facevault.ActionDownload, facevault.AuditLivePhoto, p.ID, p.ClientID, http.StatusOK)); err != nil {
		return err
	}
	ct := "image/jpeg"
	if p.ContentType == facevault.ContentTypePNG {
		ct = "image/png"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(p.Size, 10))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="livephoto-%s.%s"`, p.ID, p.Extension()))
	w.Header().Set("Cache-Control", "no-store")
	if _, err := copyImage(w, img); err != nil {
		c.logger.WarnContext(ctx, "console: download cut off", "livePhotoId", p.ID, "err", err)
	}
	return nil
}

// confirmData is what a confirmation page shows.
type confirmData struct {
	Action  string // redact, delete, deleteClient
	Photo   *facevault.LivePhoto
	Client  *facevault.Client
	Name    string
	Photos  int
	Checks  int
	Post    string
	Cancel  string
	Heading string
}

// confirmPhoto asks to confirm redacting or deleting a photo, naming what
// will be destroyed.
func (c *Console) confirmPhoto(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	action := r.PathValue("action")
	if action != "redact" && action != "delete" {
		return NotFound("This page")
	}
	p, cl, err := c.lookPhoto(r, v)
	if err != nil {
		return err
	}
	d := confirmData{Action: action, Photo: p, Client: cl, Name: displayName(cl),
		Post: "/console/photos/" + p.ID + "/" + action, Cancel: "/console/photos/" + p.ID}
	title := "Redact live photo " + p.ID + "?"
	if action == "delete" {
		title = "Delete live photo " + p.ID + "?"
	}
	return c.render(w, r, v, http.StatusOK, "confirm", Page{Title: title, Data: d})
}

// redactPhoto redacts a photo: its image, key and face data are destroyed;
// its record stays.
func (c *Console) redactPhoto(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	p, err := c.vault.RedactLivePhoto(ctx, v.Scope, id)
	if err != nil {
		c.auditFailure(r, v, TriggerRedactPhoto, facevault.ActionRedact, facevault.AuditLivePhoto, id, "", err)
		return err
	}
	c.Thumbnails().Forget(p.ID, "")
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerRedactPhoto, facevault.ActionRedact, facevault.AuditLivePhoto, p.ID, p.ClientID, http.StatusSeeOther)); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/queue?done="+url.QueryEscape("Redacted live photo "+p.ID+": its image, key and face data are destroyed."), http.StatusSeeOther)
	return nil
}

// deletePhoto deletes a photo, record and all.
func (c *Console) deletePhoto(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	p, err := c.vault.LivePhoto(ctx, v.Scope, id)
	if err != nil {
		c.auditFailure(r, v, TriggerDeletePhoto, facevault.ActionDelete, facevault.AuditLivePhoto, id, "", err)
		return err
	}
	if err := c.vault.DeleteLivePhoto(ctx, v.Scope, id); err != nil {
		c.auditFailure(r, v, TriggerDeletePhoto, facevault.ActionDelete, facevault.AuditLivePhoto, id, p.ClientID, err)
		return err
	}
	c.Thumbnails().Forget(id, "")
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerDeletePhoto, facevault.ActionDelete, facevault.AuditLivePhoto, id, p.ClientID, http.StatusSeeOther)); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/clients/"+p.ClientID+"?done="+url.QueryEscape("Deleted live photo "+id+"."), http.StatusSeeOther)
	return nil
}

// confirmDeleteClient asks an admin to confirm deleting a client, with
// the counts of what goes with it.
func (c *Console) confirmDeleteClient(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	cl, err := c.vault.Client(ctx, v.Scope, id)
	if facevault.ErrorCode(err) == facevault.ENotFound {
		return NotFound("This client")
	} else if err != nil {
		return err
	}
	one := facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 1}}
	photos, _, err := c.vault.LivePhotos(ctx, v.Scope, id, one)
	if err != nil {
		return err
	}
	checks, _, err := c.vault.Checks(ctx, v.Scope, facevault.CheckFilter{ClientID: id, ListOptions: one})
	if err != nil {
		return err
	}
	d := confirmData{Action: "deleteClient", Client: cl, Name: displayName(cl), Photos: photos, Checks: checks,
		Post: "/console/clients/" + cl.ID + "/delete", Cancel: "/console/clients/" + cl.ID}
	return c.render(w, r, v, http.StatusOK, "confirm", Page{Title: "Delete client " + d.Name + "?", Data: d})
}

// deleteClient deletes a client with its photos and checks.
func (c *Console) deleteClient(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	cl, err := c.vault.Client(ctx, v.Scope, id)
	if err == nil {
		err = c.vault.DeleteClient(ctx, v.Scope, id)
	}
	if err != nil {
		c.auditFailure(r, v, TriggerDeleteClient, facevault.ActionDelete, facevault.AuditClient, id, id, err)
		if facevault.ErrorCode(err) == facevault.ENotFound {
			return NotFound("This client")
		}
		return err
	}
	c.Thumbnails().Forget("", id)
	if err := c.audit(ctx, c.auditEntry(r, v, TriggerDeleteClient, facevault.ActionDelete, facevault.AuditClient, id, id, http.StatusSeeOther)); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/clients?done="+url.QueryEscape("Deleted client "+displayName(cl)+" with its photos and checks."), http.StatusSeeOther)
	return nil
}

// reviewPhoto marks a photo reviewed with a note.
func (c *Console) reviewPhoto(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	p, err := c.vault.MarkPhotoReviewed(ctx, v.Scope, id, v.User.Name, r.PostFormValue("note"))
	if err != nil {
		c.auditFailure(r, v, TriggerReviewPhoto, facevault.ActionUpdate, facevault.AuditLivePhoto, id, "", err)
		return err
	}
	e := c.auditEntry(r, v, TriggerReviewPhoto, facevault.ActionUpdate, facevault.AuditLivePhoto, p.ID, p.ClientID, http.StatusSeeOther)
	e.Diff = &facevault.AuditDiff{Action: facevault.ActionUpdate, Path: []string{"review"}}
	if err := c.audit(ctx, e); err != nil {
		return err
	}
	next := localNext(r.PostFormValue("next"))
	if next == "" {
		next = "/console/photos/" + p.ID
	}
	http.Redirect(w, r, withDone(next, "Marked live photo "+p.ID+" reviewed."), http.StatusSeeOther)
	return nil
}

// reviewCheck marks a check reviewed with a note.
func (c *Console) reviewCheck(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id := r.Context(), r.PathValue("id")
	ch, err := c.vault.MarkCheckReviewed(ctx, v.Scope, id, v.User.Name, r.PostFormValue("note"))
	if err != nil {
		c.auditFailure(r, v, TriggerReviewCheck, facevault.ActionUpdate, facevault.AuditCheck, id, "", err)
		return err
	}
	e := c.auditEntry(r, v, TriggerReviewCheck, facevault.ActionUpdate, facevault.AuditCheck, ch.ID, ch.ClientID, http.StatusSeeOther)
	e.Diff = &facevault.AuditDiff{Action: facevault.ActionUpdate, Path: []string{"review"}}
	if err := c.audit(ctx, e); err != nil {
		return err
	}
	next := localNext(r.PostFormValue("next"))
	if next == "" {
		next = "/console/queue?kind=checks"
	}
	http.Redirect(w, r, withDone(next, "Marked check "+ch.ID+" reviewed."), http.StatusSeeOther)
	return nil
}

// withDone adds a notice to a console path.
func withDone(path, msg string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set("done", msg)
	u.RawQuery = q.Encode()
	return u.String()
}

// auditFailure records an action that failed; its own failure is logged.
func (c *Console) auditFailure(r *http.Request, v *Viewer, trigger, action, resourceType, id, clientID string, cause error) {
	status := http.StatusInternalServerError
	switch facevault.ErrorCode(cause) {
	case facevault.ENotFound:
		status = http.StatusNotFound
	case "":
	default:
		status = http.StatusBadRequest
		if facevault.ErrorCode(cause) == facevault.EInUse {
			status = http.StatusConflict
		}
	}
	if err := c.audit(r.Context(), c.auditEntry(r, v, trigger, action, resourceType, id, clientID, status)); err != nil {
		c.logger.ErrorContext(r.Context(), "console: audit entry not written", "trigger", trigger, "resourceId", id,
			"user", v.User.Name, "err", err)
	}
}

// copyImage copies an image to the response.
func copyImage(w http.ResponseWriter, img io.Reader) (int64, error) { return io.Copy(w, img) }
