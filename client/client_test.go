package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault/client"
)

// wantError checks that err is an *Error with the status, type and param.
func wantError(t *testing.T, err error, status int, typ, param string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *client.Error %d %s", err, err, status, typ)
	}
	if e.StatusCode != status || e.Type != typ || e.Param != param {
		t.Fatalf("err = %d %q param %q (%s), want %d %q param %q", e.StatusCode, e.Type, e.Param, e.Message, status, typ, param)
	}
	if e.Message == "" {
		t.Errorf("%v: no message", e)
	}
	if len(e.RequestID) != 24 {
		t.Errorf("%v: RequestID %q, want the X-Request-Id, 24 hex characters", e, e.RequestID)
	}
	return e
}

// tour runs every client and live photo method once against a server.
func tour(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client(t, "")
	jane := newPerson(t, c, "Jane")
	if jane.ID == "" || jane.Type != client.ClientPerson || jane.EntityName != "Jane Doe" || jane.CreatedAt.IsZero() {
		t.Fatalf("created client = %+v", jane)
	}
	got, err := c.GetClient(ctx, jane.ID)
	if err != nil || got.Email != "Jane@example.com" || got.PersonDetails.FirstName != "Jane" {
		t.Fatalf("GetClient = %+v, %v", got, err)
	}
	up, err := c.UpdateClient(ctx, jane.ID, &client.ClientParams{
		PersonDetails: &client.PersonDetails{LastName: "Roe"},
		Metadata:      map[string]string{"tier": "gold"},
		Retention:     &client.RetentionParams{Days: client.Int(30)},
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if up.EntityName != "Jane Roe" || up.PersonDetails.FirstName != "Jane" || up.Metadata["tier"] != "gold" ||
		up.Retention == nil || up.Retention.Days != 30 || !up.UpdatedAt.After(up.CreatedAt) && !up.UpdatedAt.Equal(up.CreatedAt) {
		t.Errorf("updated client = %+v", up)
	}

	img := jpegOf(40 << 10)
	photo, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(img), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		t.Fatalf("UploadLivePhoto: %v", err)
	}
	if photo.ClientID != jane.ID || photo.Size != int64(len(img)) || photo.ContentType != client.ContentTypeJPEG ||
		photo.DownloadLink != "/livePhotos/"+photo.ID+"/download" || photo.PerformLivenessCheck {
		t.Errorf("uploaded photo = %+v", photo)
	}
	if p, err := c.GetLivePhoto(ctx, photo.ID); err != nil || p.ID != photo.ID || p.Size != photo.Size {
		t.Errorf("GetLivePhoto = %+v, %v", p, err)
	}
	page, err := c.ListLivePhotos(ctx, &client.LivePhotoFilter{ClientID: jane.ID})
	if err != nil || page.TotalItems != 1 || len(page.Items) != 1 || page.Items[0].ID != photo.ID {
		t.Errorf("ListLivePhotos = %+v, %v", page, err)
	}
	var buf bytes.Buffer
	d, err := c.DownloadLivePhoto(ctx, photo.ID, &buf)
	if err != nil {
		t.Fatalf("DownloadLivePhoto: %v", err)
	}
	sum := sha256.Sum256(img)
	if !bytes.Equal(buf.Bytes(), img) || !d.Verified || d.SHA256 != hex.EncodeToString(sum[:]) || d.Size != int64(len(img)) ||
		d.ContentType != client.ContentTypeJPEG || d.FileName != "selfie_"+strconv.FormatInt(photo.CreatedAt.UnixMilli(), 10)+".jpg" {
		t.Errorf("download = %+v, %d bytes (want %d, equal to the upload)", d, buf.Len(), len(img))
	}
	if err := c.RedactLivePhoto(ctx, photo.ID); err != nil {
		t.Fatalf("RedactLivePhoto: %v", err)
	}
	if p, err := c.GetLivePhoto(ctx, photo.ID); err != nil || !p.Redacted || p.RedactedAt.IsZero() {
		t.Errorf("redacted photo = %+v, %v", p, err)
	}
	_, err = c.DownloadLivePhoto(ctx, photo.ID, io.Discard)
	wantError(t, err, 404, client.TypeNotFound, "")
	if err := c.DeleteLivePhoto(ctx, photo.ID); err != nil {
		t.Fatalf("DeleteLivePhoto: %v", err)
	}
	if _, err := c.GetLivePhoto(ctx, photo.ID); !client.IsNotFound(err) {
		t.Errorf("GetLivePhoto after delete: %v, want 404", err)
	}
	if err := c.DeleteClient(ctx, jane.ID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := c.GetClient(ctx, jane.ID); !client.IsNotFound(err) {
		t.Errorf("GetClient after delete: %v, want 404", err)
	}
}

// TestBackends runs every client and live photo method on both back ends.
func TestBackends(t *testing.T) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) { tour(t, newEnvOn(t, b)) })
	}
}

// TestClientLists: filters and the paging of ListClients and Clients, the
// iterator fetching pages only as the loop reaches them.
func TestClientLists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := newProxy(t, e.URL, nil)
	c := e.client(t, p.srv.URL)
	var ids []string
	for i := range 7 {
		r, err := c.CreateClient(ctx, &client.ClientParams{
			Type: client.ClientCompany, Email: "c@example.com", ExternalID: "ext-" + strconv.Itoa(i%2),
			CompanyDetails: &client.CompanyDetails{Name: "Acme " + strconv.Itoa(i)},
			Metadata:       map[string]string{"n": strconv.Itoa(i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	slices.Reverse(ids) // lists are newest first
	newPerson(t, c, "Jane")

	f := &client.ClientFilter{Type: client.ClientCompany, ListOptions: client.ListOptions{PageSize: 3}}
	page, err := c.ListClients(ctx, f)
	if err != nil || page.TotalItems != 7 || page.Pages != 3 || page.PageSize != 3 || page.Page != 1 || len(page.Items) != 3 {
		t.Fatalf("ListClients = %+v, %v", page, err)
	}
	f.Page = 3
	if page, err := c.ListClients(ctx, f); err != nil || len(page.Items) != 1 || page.Items[0].ID != ids[6] {
		t.Fatalf("ListClients page 3 = %+v, %v", page, err)
	}
	f.Page = 0

	before := len(p.requests())
	var got []string
	for r, err := range c.Clients(ctx, f) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("Clients yielded %v, want %v", got, ids)
	}
	if n := len(p.requests()) - before; n != 3 {
		t.Errorf("Clients fetched %d pages, want 3", n)
	}
	before = len(p.requests())
	got = nil
	for r, err := range c.Clients(ctx, f) {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, r.ID); len(got) == 4 {
			break
		}
	}
	if n := len(p.requests()) - before; n != 2 || !slices.Equal(got, ids[:4]) {
		t.Errorf("a loop that broke after 4 items fetched %d pages (want 2) and got %v", n, got)
	}
	for _, r := range p.requests()[before:] {
		if q := r.URL.Query(); q.Get("type") != "company" || q.Get("pageSize") != "3" {
			t.Errorf("list request %s, want type=company&pageSize=3", r.URL.RawQuery)
		}
	}

	cases := []struct {
		name string
		f    *client.ClientFilter
		want int
	}{
		{"nil filter", nil, 8},
		{"externalId", &client.ClientFilter{ExternalID: "ext-1"}, 3},
		{"metadata", &client.ClientFilter{Metadata: map[string]string{"n": "4"}}, 1},
		{"details", &client.ClientFilter{Details: map[string]string{"personDetails.firstName": "Jane"}}, 1},
		{"email", &client.ClientFilter{Email: "c@example.com"}, 7},
		{"createdAfter the future", &client.ClientFilter{ListOptions: client.ListOptions{CreatedAfter: time.Now().Add(time.Hour)}}, 0},
		{"createdBefore the future", &client.ClientFilter{ListOptions: client.ListOptions{CreatedBefore: time.Now().Add(time.Hour)}}, 8},
	}
	for _, tc := range cases {
		n := 0
		for _, err := range c.Clients(ctx, tc.f) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != tc.want {
			t.Errorf("%s: %d clients, want %d", tc.name, n, tc.want)
		}
	}

	// A failing page ends the iteration with the error.
	var errs int
	for r, err := range c.Clients(ctx, &client.ClientFilter{ListOptions: client.ListOptions{PageSize: 5000}}) {
		if r != nil || err == nil {
			t.Fatalf("yielded %v, %v; want only an error", r, err)
		}
		wantError(t, err, 400, client.TypeInvalidRequest, "pageSize")
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded, want 1", errs)
	}
}

// TestLivePhotoLists pages through a client's photos.
func TestLivePhotoLists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(t, "")
	jane := newPerson(t, c, "Jane")
	var ids []string
	for i := range 5 {
		p, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(jpegOf(35<<10 + i)),
			PerformLivenessCheck: client.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{p.ID}, ids...)
	}
	var got []string
	for p, err := range c.LivePhotos(ctx, &client.LivePhotoFilter{ClientID: jane.ID, ListOptions: client.ListOptions{PageSize: 2}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("LivePhotos = %v, want %v", got, ids)
	}
	_, err := c.ListLivePhotos(ctx, &client.LivePhotoFilter{})
	wantError(t, err, 400, client.TypeInvalidRequest, "clientId")
}

// TestErrors: the service's errors as *Error, with param, type and request
// id, and the helpers.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(t, "")

	_, err := c.CreateClient(ctx, &client.ClientParams{Type: client.ClientPerson})
	wantError(t, err, 400, client.TypeInvalidRequest, "email")
	if !client.IsInvalid(err) || client.IsNotFound(err) {
		t.Errorf("IsInvalid/IsNotFound wrong for %v", err)
	}

	_, err = c.GetClient(ctx, "0123456789abcdef01234567")
	wantError(t, err, 404, client.TypeNotFound, "")
	if !client.IsNotFound(err) || !client.HasType(err, client.TypeNotFound) {
		t.Errorf("IsNotFound false for %v", err)
	}
	if !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Invalid client id") {
		t.Errorf("Error() = %q", err)
	}

	jane := newPerson(t, c, "Jane")
	_, err = c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(jpegOf(10 << 10))})
	wantError(t, err, 400, client.TypeInvalidRequest, "data")
	_, err = c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: "0123456789abcdef01234567", Image: bytes.NewReader(jpegOf(40 << 10))})
	wantError(t, err, 404, client.TypeNotFound, "")

	// 409: a client under legal hold cannot be deleted.
	if _, err := c.UpdateClient(ctx, jane.ID, &client.ClientParams{Retention: &client.RetentionParams{LegalHold: client.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteClient(ctx, jane.ID)
	wantError(t, err, 409, client.TypeLegalHold, "")
	if !client.IsConflict(err) {
		t.Errorf("IsConflict false for %v", err)
	}
	_, err = c.UpdateClient(ctx, jane.ID, &client.ClientParams{Retention: &client.RetentionParams{Days: client.Int(-1)}})
	wantError(t, err, 400, client.TypeInvalidRequest, "retention.days")

	// 422: a check of a photo without face data.
	p, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(jpegOf(40 << 10)), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateCheck(ctx, &client.CheckParams{ClientID: jane.ID, Type: client.CheckFaceAuthentication, LivePhotoID: p.ID})
	wantError(t, err, 422, client.TypeFaceDataUnavailable, "livePhotoId")
	if !client.IsUnprocessable(err) {
		t.Errorf("IsUnprocessable false for %v", err)
	}
	_, err = c.CreateCheck(ctx, &client.CheckParams{ClientID: jane.ID, Type: "nonsense", LivePhotoID: p.ID})
	wantError(t, err, 400, client.TypeInvalidRequest, "type")
	_, err = c.CreateCheck(ctx, &client.CheckParams{ClientID: jane.ID, Type: client.CheckAgeEstimation, LivePhotoID: p.ID})
	wantError(t, err, 422, client.TypeCheckTypeUnavailable, "type")

	// 401 with another key.
	bad, err := client.New(e.URL, "test_nonsense")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GetRetention(ctx)
	wantError(t, err, 401, client.TypeUnauthorized, "")
	if !client.IsUnauthorized(err) {
		t.Errorf("IsUnauthorized false for %v", err)
	}
}

// TestNew checks New's arguments.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url, key string
		opts     []client.Option
	}{
		{"ftp://x", "k", nil},
		{"https://", "k", nil},
		{"https://x", "", nil},
		{"https://x", "k", []client.Option{client.WithRetries(-1)}},
		{"https://x", "k", []client.Option{client.WithBackoff(0, time.Second)}},
		{"https://x", "k", []client.Option{client.WithHTTPClient(nil)}},
		{"https://x", "k", []client.Option{client.WithJitter(nil)}},
	} {
		if _, err := client.New(tc.url, tc.key, tc.opts...); err == nil {
			t.Errorf("New(%q, %q, %d options) succeeded", tc.url, tc.key, len(tc.opts))
		}
	}
	// The base URL may carry a path prefix, with or without /v1.
	e := newEnv(t)
	p := newProxy(t, e.URL, nil)
	for _, base := range []string{p.srv.URL, p.srv.URL + "/", p.srv.URL + "/v1", p.srv.URL + "/v1/"} {
		c, err := client.New(base, e.Key, client.WithUserAgent("tests/1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetRetention(context.Background()); err != nil {
			t.Errorf("base %s: %v", base, err)
		}
	}
	for _, r := range p.requests() {
		if r.URL.Path != "/v1/retention" || r.Header.Get("User-Agent") != "tests/1" || r.Header.Get("Authorization") != e.Key {
			t.Errorf("request %s %s, User-Agent %q", r.Method, r.URL.Path, r.Header.Get("User-Agent"))
		}
	}
}
