package http_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// iso formats a time as a list filter.
func iso(t time.Time) string { return url.QueryEscape(t.UTC().Format("2006-01-02T15:04:05.000Z")) }

// pagingErrors are the page/pageSize values the contract refuses.
var pagingErrors = []struct{ name, query, param string }{
	{"ErrPage0", "page=0", "page"},
	{"ErrPageNegative", "page=-1", "page"},
	{"ErrPageAbc", "page=abc", "page"},
	{"ErrPageFraction", "page=1.5", "page"},
	{"ErrPageEmpty", "page=", "page"},
	{"ErrPageHuge", "page=99999999999999999999", "page"},
	{"ErrPageSize0", "pageSize=0", "pageSize"},
	{"ErrPageSize1001", "pageSize=1001", "pageSize"},
	{"ErrPageSizeNegative", "pageSize=-10", "pageSize"},
	{"ErrPageSizeAbc", "pageSize=abc", "pageSize"},
	{"ErrPageSizeEmpty", "pageSize=", "pageSize"},
}

// malformedDates are date filters that match nothing.
var malformedDates = []string{
	"createdAfter=yesterday",
	"createdAfter=",
	"createdBefore=2024-13-45T00:00:00.000Z",
	"createdBefore=not-a-date",
	"updatedAfter=abc",
	"updatedBefore=2024-02-30T00:00:00Z",
	"createdAfter=1700000000000",
}

// TestListLivePhotos covers GET /v1/livePhotos (sections 4 and 6).
func TestListLivePhotos(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t1 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		t2, t3, t4 := t1.Add(time.Second), t1.Add(time.Minute), t1.Add(time.Hour)
		env.clock.Set(t1)
		clientID := env.newClientID(t, env.KeyA)
		otherClient := env.newClientID(t, env.KeyA)
		type photo struct {
			id      string
			created time.Time
		}
		var ps []photo
		for i, at := range []time.Time{t1, t1, t2, t3, t3} {
			env.clock.Set(at)
			img := images().jpeg
			if i%2 == 1 {
				img = images().png
			}
			ps = append(ps, photo{str(t, env.upload(t, env.KeyA, clientID, img), "id"), at})
		}
		env.upload(t, env.KeyA, otherClient, images().jpeg) // not listed
		// Newest first, ties by id descending.
		slices.SortFunc(ps, func(a, b photo) int {
			if c := b.created.Compare(a.created); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		all := make([]string, len(ps))
		for i, p := range ps {
			all[i] = p.id
		}
		idsAt := func(times ...time.Time) []string {
			var ids []string
			for _, p := range ps {
				if slices.ContainsFunc(times, p.created.Equal) {
					ids = append(ids, p.id)
				}
			}
			return ids
		}
		base := "/v1/livePhotos?clientId=" + clientID

		t.Run("OK", func(t *testing.T) {
			env, ids := env.list(t, env.KeyA, base)
			wantEnvelope(t, env, 1, 100, 5, 1, 5)
			if !slices.Equal(ids, all) {
				t.Errorf("order = %v, want %v", ids, all)
			}
			for _, it := range env["items"].([]any) {
				p := it.(map[string]any)
				if p["clientId"] != clientID || p["data"] != nil || p["downloadLink"] == nil {
					t.Errorf("item %v", p)
				}
			}
		})
		t.Run("OK/TrailingSlash", func(t *testing.T) {
			env, ids := env.list(t, env.KeyA, "/v1/livePhotos/?clientId="+clientID)
			wantEnvelope(t, env, 1, 100, 5, 1, 5)
			if !slices.Equal(ids, all) {
				t.Errorf("order = %v, want %v", ids, all)
			}
		})
		t.Run("OK/Pages", func(t *testing.T) {
			var got []string
			for page := 1; page <= 3; page++ {
				e, ids := env.list(t, env.KeyA, base+"&pageSize=2&page="+strconv.Itoa(page))
				wantEnvelope(t, e, page, 2, 5, 3, min(2, 5-2*(page-1)))
				got = append(got, ids...)
			}
			if !slices.Equal(got, all) {
				t.Errorf("pages give %v, want %v", got, all)
			}
		})
		t.Run("OK/PageSizeBounds", func(t *testing.T) {
			e, ids := env.list(t, env.KeyA, base+"&pageSize=1")
			wantEnvelope(t, e, 1, 1, 5, 5, 1)
			if !slices.Equal(ids, all[:1]) {
				t.Errorf("ids = %v, want %v", ids, all[:1])
			}
			e, _ = env.list(t, env.KeyA, base+"&pageSize=1000")
			wantEnvelope(t, e, 1, 1000, 5, 1, 5)
		})
		t.Run("OK/PastTheEnd", func(t *testing.T) {
			e, _ := env.list(t, env.KeyA, base+"&pageSize=2&page=4")
			wantEnvelope(t, e, 4, 2, 5, 3, 0)
			e, _ = env.list(t, env.KeyA, base+"&page=1000000")
			wantEnvelope(t, e, 1000000, 100, 5, 1, 0)
		})
		t.Run("ErrClientIDMissing", func(t *testing.T) {
			for _, p := range []string{"/v1/livePhotos", "/v1/livePhotos/", "/v1/livePhotos?clientId=", "/v1/livePhotos?page=1&pageSize=10", "/v1/livePhotos?clientid=" + clientID} {
				r := env.do(t, "GET", p, env.KeyA, nil, invalid("no clientId")...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "The query parameter 'clientId' is required", "clientId")
			}
		})
		t.Run("OK/UnknownClient", func(t *testing.T) {
			for _, id := range []string{unknownID(), "nope", strings.ToUpper(clientID)} {
				e, _ := env.list(t, env.KeyA, "/v1/livePhotos?clientId="+id)
				wantEnvelope(t, e, 1, 100, 0, 0, 0)
			}
		})
		for _, c := range pagingErrors {
			t.Run(c.name, func(t *testing.T) {
				r := env.do(t, "GET", base+"&"+c.query, env.KeyA, nil, invalid(c.name)...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "", c.param)
			})
		}
		dateCases := []struct {
			name, query string
			want        []string
		}{
			{"CreatedAfterIsStrict", "createdAfter=" + iso(t1), idsAt(t2, t3)},
			{"CreatedAfterJustBefore", "createdAfter=" + iso(t1.Add(-time.Millisecond)), all},
			{"CreatedBeforeIsStrict", "createdBefore=" + iso(t3), idsAt(t1, t2)},
			{"CreatedBeforeJustAfter", "createdBefore=" + iso(t3.Add(time.Millisecond)), all},
			{"CreatedBetween", "createdAfter=" + iso(t1) + "&createdBefore=" + iso(t3), idsAt(t2)},
			{"CreatedEmptyRange", "createdAfter=" + iso(t2) + "&createdBefore=" + iso(t2), nil},
			{"CreatedAfterNoMillis", "createdAfter=2024-05-01T10:00:00Z", idsAt(t2, t3)},
			{"CreatedAfterDateOnly", "createdAfter=2024-05-01", all},
			{"CreatedBeforeDateOnly", "createdBefore=2024-05-01", nil},
			{"CreatedAfterWithOffset", "createdAfter=" + url.QueryEscape("2024-05-01T12:00:00.500+02:00"), idsAt(t2, t3)},
		}
		for _, c := range dateCases {
			t.Run("OK/"+c.name, func(t *testing.T) {
				e, ids := env.list(t, env.KeyA, base+"&"+c.query)
				wantEnvelope(t, e, 1, 100, len(c.want), min(len(c.want), 1), len(c.want))
				if !slices.Equal(ids, c.want) {
					t.Errorf("ids = %v, want %v", ids, c.want)
				}
			})
		}
		// Redaction moves updatedAt of one photo to t4.
		redacted := ps[2].id // created at t2
		env.clock.Set(t4)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+redacted+"/redact", env.KeyA, nil), http.StatusOK)
		notRedacted := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == redacted })
		updateCases := []struct {
			name, query string
			want        []string
		}{
			{"UpdatedAfter", "updatedAfter=" + iso(t3), []string{redacted}},
			{"UpdatedAfterIsStrict", "updatedAfter=" + iso(t4), nil},
			{"UpdatedBeforeIsStrict", "updatedBefore=" + iso(t4), notRedacted},
			{"UpdatedBefore", "updatedBefore=" + iso(t3), idsAt(t1)},
			{"UpdatedAndCreated", "updatedAfter=" + iso(t1) + "&createdBefore=" + iso(t3), []string{redacted}},
		}
		for _, c := range updateCases {
			t.Run("OK/"+c.name, func(t *testing.T) {
				e, ids := env.list(t, env.KeyA, base+"&"+c.query)
				wantEnvelope(t, e, 1, 100, len(c.want), min(len(c.want), 1), len(c.want))
				if !slices.Equal(ids, c.want) {
					t.Errorf("ids = %v, want %v", ids, c.want)
				}
			})
		}
		for _, q := range malformedDates {
			t.Run("OK/MalformedDate/"+q, func(t *testing.T) {
				e, _ := env.list(t, env.KeyA, base+"&"+q)
				wantEnvelope(t, e, 1, 100, 0, 0, 0)
			})
		}
	})
}

// TestListClients covers GET /v1/clients: filters, paging, order.
func TestListClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		bodies := []map[string]any{
			{"type": "person", "email": "alice@example.com", "externalId": "ext-1",
				"personDetails": map[string]any{"firstName": "Alice", "lastName": "Smith"},
				"metadata":      map[string]any{"tier": "gold", "region": "eu"}},
			{"type": "person", "email": "bob@example.com", "externalId": "ext-2",
				"personDetails": map[string]any{"firstName": "Bob", "lastName": "Smith"},
				"metadata":      map[string]any{"tier": "silver"}},
			{"type": "company", "email": "acme@example.com",
				"companyDetails": map[string]any{"name": "Acme Ltd", "incorporationCountry": "GB"},
				"metadata":       map[string]any{"tier": "gold"}},
			{"type": "company", "email": "globex@example.com",
				"companyDetails": map[string]any{"name": "Globex"}},
			{"type": "person", "email": "alice2@example.com", "externalId": "ext-5",
				"personDetails": map[string]any{"firstName": "Alice", "lastName": "Jones", "nationality": "GB"}},
		}
		ids := make([]string, len(bodies))
		for i, b := range bodies {
			env.clock.Set(at(i))
			r := env.do(t, "POST", "/v1/clients", env.KeyA, b)
			wantStatus(t, r, http.StatusOK)
			ids[i] = str(t, r.JSON, "id")
		}
		// Clients of other tenants never show.
		env.newClientID(t, env.KeyB)
		env.newClientID(t, env.KeyALive)
		c := func(is ...int) []string {
			var out []string
			for _, i := range is {
				out = append(out, ids[i])
			}
			return out
		}
		all := c(4, 3, 2, 1, 0)

		t.Run("OK", func(t *testing.T) {
			e, got := env.list(t, env.KeyA, "/v1/clients")
			wantEnvelope(t, e, 1, 100, 5, 1, 5)
			if !slices.Equal(got, all) {
				t.Errorf("ids = %v, want %v", got, all)
			}
			first := e["items"].([]any)[0].(map[string]any)
			if first["entityName"] != "Alice Jones" || first["email"] != "alice2@example.com" {
				t.Errorf("first item %v", first)
			}
		})
		t.Run("OK/TrailingSlash", func(t *testing.T) {
			e, got := env.list(t, env.KeyA, "/v1/clients/")
			wantEnvelope(t, e, 1, 100, 5, 1, 5)
			if !slices.Equal(got, all) {
				t.Errorf("ids = %v, want %v", got, all)
			}
		})
		t.Run("OK/Pages", func(t *testing.T) {
			var got []string
			for _, p := range []string{"1", "2", "3"} {
				_, ids := env.list(t, env.KeyA, "/v1/clients?pageSize=2&page="+p)
				got = append(got, ids...)
			}
			if !slices.Equal(got, all) {
				t.Errorf("pages give %v, want %v", got, all)
			}
			e, _ := env.list(t, env.KeyA, "/v1/clients?pageSize=2&page=9")
			wantEnvelope(t, e, 9, 2, 5, 3, 0)
		})
		for _, pe := range pagingErrors {
			t.Run(pe.name, func(t *testing.T) {
				r := env.do(t, "GET", "/v1/clients?"+pe.query, env.KeyA, nil, invalid(pe.name)...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "", pe.param)
			})
		}
		filters := []struct {
			name, query string
			want        []string
		}{
			{"TypePerson", "type=person", c(4, 1, 0)},
			{"TypeCompany", "type=company", c(3, 2)},
			{"Email", "email=bob%40example.com", c(1)},
			{"ExternalID", "externalId=ext-5", c(4)},
			{"FirstName", "personDetails.firstName=Alice", c(4, 0)},
			{"LastName", "personDetails.lastName=Smith", c(1, 0)},
			{"FirstAndLastName", "personDetails.firstName=Alice&personDetails.lastName=Smith", c(0)},
			{"Nationality", "personDetails.nationality=GB", c(4)},
			{"CompanyName", "companyDetails.name=Acme+Ltd", c(2)},
			{"CompanyNameEscaped", "companyDetails.name=Acme%20Ltd", c(2)},
			{"CompanyCountry", "companyDetails.incorporationCountry=GB", c(2)},
			{"Metadata", "metadata.tier=gold", c(2, 0)},
			{"MetadataOtherKey", "metadata.region=eu", c(0)},
			{"MetadataAndType", "metadata.tier=gold&type=company", c(2)},
			{"ThreeFilters", "type=person&metadata.tier=gold&personDetails.lastName=Smith", c(0)},
			{"NoMatchAND", "type=person&personDetails.lastName=Jones&metadata.tier=gold", nil},
			{"FilterAndDate", "type=person&createdAfter=" + iso(at(0)), c(4, 1)},
			{"NoMatchValue", "email=nobody%40example.com", nil},
			{"TypeUnknownValue", "type=robot", nil},
			{"MetadataUnknownKey", "metadata.colour=red", nil},
			{"PartialValue", "email=alice", nil},
			{"UnknownFilter", "foo=bar", nil},
			{"UnknownNestedFilter", "personDetails.shoeSize=42", nil},
			{"UnknownFilterWithKnown", "type=person&foo=bar", nil},
		}
		for _, f := range filters {
			t.Run("OK/Filter/"+f.name, func(t *testing.T) {
				e, got := env.list(t, env.KeyA, "/v1/clients?"+f.query)
				wantEnvelope(t, e, 1, 100, len(f.want), min(len(f.want), 1), len(f.want))
				if !slices.Equal(got, f.want) {
					t.Errorf("ids = %v, want %v", got, f.want)
				}
			})
		}
		t.Run("OK/FilterPaged", func(t *testing.T) {
			e, got := env.list(t, env.KeyA, "/v1/clients?type=person&pageSize=2&page=2")
			wantEnvelope(t, e, 2, 2, 3, 2, 1)
			if !slices.Equal(got, c(0)) {
				t.Errorf("ids = %v, want %v", got, c(0))
			}
		})
		t.Run("OK/DateFilters", func(t *testing.T) {
			e, got := env.list(t, env.KeyA, "/v1/clients?createdAfter="+iso(at(1))+"&createdBefore="+iso(at(4)))
			wantEnvelope(t, e, 1, 100, 2, 1, 2)
			if !slices.Equal(got, c(3, 2)) {
				t.Errorf("ids = %v, want %v", got, c(3, 2))
			}
			env.clock.Set(at(10))
			wantStatus(t, env.do(t, "POST", "/v1/clients/"+ids[1], env.KeyA, map[string]any{"mobile": "+1 555 0101"}), http.StatusOK)
			_, got = env.list(t, env.KeyA, "/v1/clients?updatedAfter="+iso(at(4)))
			if !slices.Equal(got, c(1)) {
				t.Errorf("updatedAfter: ids = %v, want %v", got, c(1))
			}
			_, got = env.list(t, env.KeyA, "/v1/clients?updatedAfter="+iso(at(10)))
			if len(got) != 0 {
				t.Errorf("updatedAfter is not strict: %v", got)
			}
			_, got = env.list(t, env.KeyA, "/v1/clients?updatedBefore="+iso(at(10)))
			if !slices.Equal(got, c(4, 3, 2, 0)) {
				t.Errorf("updatedBefore: ids = %v, want %v", got, c(4, 3, 2, 0))
			}
		})
		for _, q := range malformedDates {
			t.Run("OK/MalformedDate/"+q, func(t *testing.T) {
				e, _ := env.list(t, env.KeyA, "/v1/clients?"+q)
				wantEnvelope(t, e, 1, 100, 0, 0, 0)
			})
		}
		t.Run("OK/OtherTenants", func(t *testing.T) {
			for _, k := range []string{env.KeyB, env.KeyALive} {
				e, got := env.list(t, k, "/v1/clients")
				wantEnvelope(t, e, 1, 100, 1, 1, 1)
				for _, id := range got {
					if slices.Contains(ids, id) {
						t.Errorf("another tenant lists %s", id)
					}
				}
			}
		})
	})
}
