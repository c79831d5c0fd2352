// Package storetest is a conformance suite for implementations of
// facevault.Store. Every back end runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) facevault.Store { return mustOpen(t) })
//	}
//
// The suite uses the interface only, so that every implementation is held to
// the same behaviour.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// Run runs the suite. open must return a new, empty store each time it is
// called, and arrange (with t.Cleanup) for it to be closed when t ends.
func Run(t *testing.T, open func(t *testing.T) facevault.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st facevault.Store)
	}{
		{"Accounts", testAccounts},
		{"Keys", testKeys},
		{"Clients", testClients},
		{"UpdateClient", testUpdateClient},
		{"DeleteClient", testDeleteClient},
		{"ClientOrder", testClientOrder},
		{"ClientTimeFilters", testClientTimeFilters},
		{"ClientFilters", testClientFilters},
		{"LivePhotos", testLivePhotos},
		{"LivePhotoOrder", testLivePhotoOrder},
		{"LivePhotoTimeFilters", testLivePhotoTimeFilters},
		{"DeleteLivePhoto", testDeleteLivePhoto},
		{"RedactLivePhoto", testRedactLivePhoto},
		{"ExistingLivePhotos", testExistingLivePhotos},
		{"ExistingClients", testExistingClients},
		{"LivePhotoOwners", testLivePhotoOwners},
		{"Retention", testRetention},
		{"PurgeQueue", testPurgeQueue},
		{"Counts", testCounts},
		{"Chunks", testChunks},
		{"ScopeIsolation", testScopeIsolation},
		{"Leases", testLeases},
		{"StoreIdentity", testStoreIdentity},
		{"AuditAppend", testAuditAppend},
		{"AuditText", testAuditText},
		{"AuditList", testAuditList},
		{"AuditConcurrent", testAuditConcurrent},
		{"Checks", testChecks},
		{"CheckQueue", testCheckQueue},
		{"EnrolledFaces", testEnrolledFaces},
		{"CheckAttempts", testCheckAttempts},
		{"CheckNotices", testCheckNotices},
		{"ReviewPhotos", testReviewPhotos},
		{"ReviewChecks", testReviewChecks},
		{"LivenessSummaries", testLivenessSummaries},
		{"Webhooks", testWebhooks},
		{"WebhookOutbox", testWebhookOutbox},
		{"WebhookClaimsConcurrent", testWebhookClaimsConcurrent},
		{"WebhookPrune", testWebhookPrune},
		{"Idempotency", testIdempotency},
		{"IdempotencyDeletes", testIdempotencyDeletes},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"FaceIndexRows", testFaceIndexRows},
		{"FaceIndexRekey", testFaceIndexRekey},
		{"FaceIndexEnds", testFaceIndexEnds},
		{"ConsoleUsers", testConsoleUsers},
		{"ConsoleLockout", testConsoleLockout},
		{"ConsoleSessions", testConsoleSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is the time the fixtures are made at: millisecond precision, as stored.
var t0 = time.Date(2024, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// all is a page holding every item the tests make.
var all = facevault.Page{Page: 1, PageSize: facevault.MaxPageSize}

// scopes are the tenant partitions the tests use: a is where the data goes,
// aLive is the same account in the other mode, b another account.
type scopes struct {
	a, aLive, b facevault.Scope
}

func mustScopes(t *testing.T, st facevault.Store) scopes {
	t.Helper()
	acme := mustAccount(t, st, "acme")
	globex := mustAccount(t, st, "globex")
	return scopes{
		a:     facevault.Scope{AccountID: acme.ID, Mode: facevault.ModeTest},
		aLive: facevault.Scope{AccountID: acme.ID, Mode: facevault.ModeLive},
		b:     facevault.Scope{AccountID: globex.ID, Mode: facevault.ModeTest},
	}
}

func mustAccount(t *testing.T, st facevault.Store, name string) *facevault.Account {
	t.Helper()
	a, err := st.EnsureAccount(t.Context(), name, t0)
	if err != nil {
		t.Fatalf("EnsureAccount(%q): %v", name, err)
	}
	return a
}

// id returns a valid object ID that sorts as n does.
func id(n int) string { return fmt.Sprintf("%024x", n) }

// newPerson returns a person client created and updated at at.
func newPerson(at time.Time, first, last string) *facevault.Client {
	id := facevault.NewID(at)
	return &facevault.Client{
		ID:            id,
		Type:          facevault.ClientPerson,
		Email:         strings.ToLower(first) + "." + id + "@example.com",
		PersonDetails: &facevault.PersonDetails{FirstName: first, LastName: last},
		CreatedAt:     at,
		UpdatedAt:     at,
	}
}

// newPhoto returns a live photo record of client created and updated at
// at.
func newPhoto(at time.Time, client string) *facevault.LivePhoto {
	return &facevault.LivePhoto{
		ID:                   facevault.NewID(at),
		ClientID:             client,
		ContentType:          facevault.ContentTypeJPEG,
		Size:                 48_213,
		Width:                640,
		Height:               480,
		SHA256:               strings.Repeat("ab", 32),
		PerformLivenessCheck: true,
		CreatedAt:            at,
		UpdatedAt:            at,
	}
}

func mustCreateClient(t *testing.T, st facevault.Store, s facevault.Scope, c *facevault.Client) *facevault.Client {
	t.Helper()
	if err := st.CreateClient(t.Context(), s, c); err != nil {
		t.Fatalf("CreateClient(%s): %v", c.ID, err)
	}
	return c
}

func mustCreatePhoto(t *testing.T, st facevault.Store, s facevault.Scope, p *facevault.LivePhoto) *facevault.LivePhoto {
	t.Helper()
	if err := st.CreateLivePhoto(t.Context(), s, p); err != nil {
		t.Fatalf("CreateLivePhoto(%s): %v", p.ID, err)
	}
	return p
}

// wantNotFound fails t unless err wraps facevault.ErrNotFound.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
	}
}

// utc is t in UTC without a monotonic reading, for comparisons.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// normClient is c with its times in UTC and empty details and metadata
// nil, so that stores that do not keep nil and empty apart compare equal.
func normClient(c *facevault.Client) facevault.Client {
	n := *c
	n.CreatedAt, n.UpdatedAt = utc(n.CreatedAt), utc(n.UpdatedAt)
	if n.PersonDetails != nil && *n.PersonDetails == (facevault.PersonDetails{}) {
		n.PersonDetails = nil
	}
	if n.CompanyDetails != nil && *n.CompanyDetails == (facevault.CompanyDetails{}) {
		n.CompanyDetails = nil
	}
	if len(n.Metadata) == 0 {
		n.Metadata = nil
	}
	return n
}

func fmtClient(c *facevault.Client) string {
	n := normClient(c)
	s := fmt.Sprintf("%+v", n)
	if n.PersonDetails != nil {
		s += fmt.Sprintf(" personDetails=%+v", *n.PersonDetails)
	}
	if n.CompanyDetails != nil {
		s += fmt.Sprintf(" companyDetails=%+v", *n.CompanyDetails)
	}
	return s
}

func checkClient(t *testing.T, what string, got, want *facevault.Client) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil client, want %s", what, fmtClient(want))
		return
	}
	if !reflect.DeepEqual(normClient(got), normClient(want)) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, fmtClient(got), fmtClient(want))
	}
}

func normPhoto(p *facevault.LivePhoto) facevault.LivePhoto {
	n := *p
	n.CreatedAt, n.UpdatedAt, n.RedactedAt = utc(n.CreatedAt), utc(n.UpdatedAt), utc(n.RedactedAt)
	return n
}

func checkPhoto(t *testing.T, what string, got, want *facevault.LivePhoto) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil live photo, want %+v", what, normPhoto(want))
		return
	}
	if !reflect.DeepEqual(normPhoto(got), normPhoto(want)) {
		t.Errorf("%s:\ngot  %+v\nwant %+v", what, normPhoto(got), normPhoto(want))
	}
}

// clientIDs returns the IDs of cs, in order.
func clientIDs(cs []*facevault.Client) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// photoIDs returns the IDs of ps, in order.
func photoIDs(ps []*facevault.LivePhoto) []string {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// checkIDs fails t unless got and want hold the same IDs in the same order.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got IDs %q, want %q", what, got, want)
	}
}

// newest sorts the IDs of objects created at the given times as lists do:
// newest first, ties broken by ID, highest first.
func newest(ids []string, created map[string]time.Time) []string {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(x, y string) int {
		if c := created[y].Compare(created[x]); c != 0 {
			return c
		}
		return strings.Compare(y, x)
	})
	return s
}

// listClients lists the clients of s matching f, failing t on error.
func listClients(t *testing.T, st facevault.Store, s facevault.Scope, f facevault.ClientFilter) ([]*facevault.Client, int) {
	t.Helper()
	cs, n, err := st.Clients(t.Context(), s, f)
	if err != nil {
		t.Fatalf("Clients(%+v): %v", f, err)
	}
	return cs, n
}

// listPhotos lists the photos of client in s, failing t on error.
func listPhotos(t *testing.T, st facevault.Store, s facevault.Scope, client string, o facevault.ListOptions) ([]*facevault.LivePhoto, int) {
	t.Helper()
	ps, n, err := st.LivePhotos(t.Context(), s, client, o)
	if err != nil {
		t.Fatalf("LivePhotos(%s, %+v): %v", client, o, err)
	}
	return ps, n
}

// pageCases are the paging cases run over a list of five items.
var pageCases = []struct {
	name     string
	page     facevault.Page
	from, to int // the slice of the full list the page holds
}{
	{"FirstPage", facevault.Page{Page: 1, PageSize: 2}, 0, 2},
	{"MiddlePage", facevault.Page{Page: 2, PageSize: 2}, 2, 4},
	{"LastPartialPage", facevault.Page{Page: 3, PageSize: 2}, 4, 5},
	{"PagePastTheEnd", facevault.Page{Page: 4, PageSize: 2}, 5, 5},
	{"FarPastTheEnd", facevault.Page{Page: 1000, PageSize: 1000}, 5, 5},
	{"ExactFit", facevault.Page{Page: 1, PageSize: 5}, 0, 5},
	{"OneLarge", facevault.Page{Page: 1, PageSize: facevault.MaxPageSize}, 0, 5},
	{"PageOfOne", facevault.Page{Page: 5, PageSize: 1}, 4, 5},
}

// timeCase is a list filter on createdAt and updatedAt over three objects
// made by makeTimed, and the indexes of the objects it must keep.
type timeCase struct {
	name string
	o    facevault.ListOptions
	want []int
}

// Object i of the time filter tests is created at created(i) and updated at
// updated(i): creation order and update order are opposite.
func created(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
func updated(i int) time.Time { return t0.Add(time.Hour - time.Duration(i)*time.Millisecond) }

func timeCases() []timeCase {
	const us = time.Microsecond
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	tr := func(r facevault.TimeRange) facevault.ListOptions {
		return facevault.ListOptions{Page: all, TimeRange: r}
	}
	return []timeCase{
		{"NoBounds", tr(facevault.TimeRange{}), []int{0, 1, 2}},
		{"CreatedAfterIsStrict", tr(facevault.TimeRange{CreatedAfter: created(1)}), []int{2}},
		{"CreatedAfterSubMillisecond", tr(facevault.TimeRange{CreatedAfter: created(1).Add(-us)}), []int{1, 2}},
		{"CreatedAfterSubMillisecondAbove", tr(facevault.TimeRange{CreatedAfter: created(1).Add(us)}), []int{2}},
		{"CreatedAfterOtherZone", tr(facevault.TimeRange{CreatedAfter: created(1).In(zone)}), []int{2}},
		{"CreatedAfterAll", tr(facevault.TimeRange{CreatedAfter: created(2)}), nil},
		{"CreatedBeforeIsStrict", tr(facevault.TimeRange{CreatedBefore: created(1)}), []int{0}},
		{"CreatedBeforeSubMillisecond", tr(facevault.TimeRange{CreatedBefore: created(1).Add(us)}), []int{0, 1}},
		{"CreatedBeforeSubMillisecondBelow", tr(facevault.TimeRange{CreatedBefore: created(1).Add(-us)}), []int{0}},
		{"CreatedBeforeAll", tr(facevault.TimeRange{CreatedBefore: created(0)}), nil},
		{"CreatedBetween", tr(facevault.TimeRange{CreatedAfter: created(0), CreatedBefore: created(2)}), []int{1}},
		{"CreatedEmptyRange", tr(facevault.TimeRange{CreatedAfter: created(1), CreatedBefore: created(1)}), nil},
		{"UpdatedAfterIsStrict", tr(facevault.TimeRange{UpdatedAfter: updated(1)}), []int{0}},
		{"UpdatedAfterSubMillisecond", tr(facevault.TimeRange{UpdatedAfter: updated(1).Add(-us)}), []int{0, 1}},
		{"UpdatedBeforeIsStrict", tr(facevault.TimeRange{UpdatedBefore: updated(1)}), []int{2}},
		{"UpdatedBeforeSubMillisecond", tr(facevault.TimeRange{UpdatedBefore: updated(1).Add(us)}), []int{1, 2}},
		{"UpdatedBetween", tr(facevault.TimeRange{UpdatedAfter: updated(2), UpdatedBefore: updated(0)}), []int{1}},
		{"CreatedAndUpdated", tr(facevault.TimeRange{CreatedAfter: created(0), UpdatedAfter: updated(2)}), []int{1}},
		{"Impossible", facevault.ListOptions{Page: all, Impossible: true}, nil},
		{"ImpossibleWithBounds", facevault.ListOptions{Page: all, Impossible: true,
			TimeRange: facevault.TimeRange{CreatedAfter: created(0).Add(-time.Hour)}}, nil},
	}
}

// wantTimed returns the IDs of the objects the case keeps, newest first.
func wantTimed(ids []string, keep []int) []string {
	want := []string{}
	for i := len(ids) - 1; i >= 0; i-- {
		if slices.Contains(keep, i) {
			want = append(want, ids[i])
		}
	}
	return want
}

// purgeKeys returns the keys of ps, in order.
func purgeKeys(ps []facevault.Purge) []string {
	keys := []string{}
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	return keys
}

// wantBacklog fails t unless the store's purge backlog is want.
func wantBacklog(t *testing.T, st facevault.Store, want facevault.PurgeBacklog) {
	t.Helper()
	got, err := st.PurgeBacklog(t.Context())
	if err != nil {
		t.Fatalf("PurgeBacklog: %v", err)
	}
	if got != want {
		t.Errorf("PurgeBacklog = %+v, want %+v", got, want)
	}
}

// wantExisting fails t unless ExistingLivePhotos(ids) holds exactly want.
func wantExisting(t *testing.T, st facevault.Store, ids, want []string) {
	t.Helper()
	got, err := st.ExistingLivePhotos(t.Context(), ids)
	if err != nil {
		t.Fatalf("ExistingLivePhotos: %v", err)
	}
	var present []string
	for id, ok := range got {
		if ok {
			present = append(present, id)
		}
	}
	slices.Sort(present)
	checkIDs(t, "ExistingLivePhotos", present, slices.Sorted(slices.Values(want)))
}
