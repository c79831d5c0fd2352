package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// fullPerson is a person client with every attribute set.
func fullPerson(at time.Time) *facevault.Client {
	c := newPerson(at, "Ada", "Lovelace")
	c.Mobile = "+447700900123"
	c.Telephone = "+442079460000"
	c.ExternalID = "ext-ada"
	c.JoinedDate = "2019-01-02"
	c.PersonDetails = &facevault.PersonDetails{
		FirstName:               "Ada",
		MiddleName:              "Augusta",
		LastName:                "Lovelace",
		DOB:                     "1815-12-10",
		Gender:                  "female",
		Nationality:             "GB",
		BirthCountry:            "FR",
		SSN:                     "078-05-1120",
		SocialInsuranceNumber:   "046 454 286",
		NationalIdentityNumber:  "AB123456C",
		TaxIdentificationNumber: "TIN-ADA",
	}
	c.Metadata = map[string]string{"tier": "gold", "a.b": "dotted", "empty": ""}
	return c
}

// fullCompany is a company client with every attribute set.
func fullCompany(at time.Time) *facevault.Client {
	id := facevault.NewID(at)
	return &facevault.Client{
		ID:         id,
		Type:       facevault.ClientCompany,
		Email:      "ops." + id + "@example.com",
		Mobile:     "+15555550100",
		Telephone:  "+15555550199",
		ExternalID: "ext-acme",
		JoinedDate: "2020-02-29",
		CompanyDetails: &facevault.CompanyDetails{
			Name:                 "Acme Corp",
			Website:              "https://acme.example",
			RegistrationNumber:   "RN-0001",
			IncorporationCountry: "US",
			IncorporationType:    "corporation",
		},
		Metadata:  map[string]string{"tier": "silver", "a": "dotted"},
		CreatedAt: at,
		UpdatedAt: at,
	}
}

func testClients(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	person := mustCreateClient(t, st, sc.a, fullPerson(t0))
	company := mustCreateClient(t, st, sc.a, fullCompany(t0))
	minimal := mustCreateClient(t, st, sc.a, newPerson(t0, "Min", "Imal"))

	t.Run("OK", func(t *testing.T) {
		for _, want := range []*facevault.Client{person, company, minimal} {
			got, err := st.Client(ctx, sc.a, want.ID)
			if err != nil {
				t.Fatalf("Client(%s): %v", want.ID, err)
			}
			checkClient(t, "Client", got, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, id := range []string{id(1), "", "not an id", person.ID + "'--", strings.ToUpper(person.ID)} {
			got, err := st.Client(ctx, sc.a, id)
			wantNotFound(t, "Client("+id+")", err)
			if got != nil {
				t.Errorf("Client(%q) = %+v, want nil", id, got)
			}
		}
	})

	t.Run("MillisecondPrecision", func(t *testing.T) {
		// Times are kept to the millisecond and read back in UTC.
		zone := time.FixedZone("UTC-7", -7*3600)
		c := newPerson(t0, "Nano", "Second")
		c.CreatedAt = t0.Add(999_999 * time.Nanosecond).In(zone)
		c.UpdatedAt = t0.Add(time.Second + 1).In(zone)
		mustCreateClient(t, st, sc.a, c)
		got, err := st.Client(ctx, sc.a, c.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("Client times = %v, %v; want %v, %v", got.CreatedAt, got.UpdatedAt, t0, t0.Add(time.Second))
		}
		if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("Client times are in %v, %v; want UTC", got.CreatedAt.Location(), got.UpdatedAt.Location())
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		dup := newPerson(t0, "Dup", "Licate")
		dup.ID = person.ID
		if err := st.CreateClient(ctx, sc.a, dup); err == nil {
			t.Errorf("CreateClient with an existing ID: err = nil, want an error")
		}
		got, err := st.Client(ctx, sc.a, person.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		checkClient(t, "Client after a duplicate create", got, person)
	})
}

func testUpdateClient(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	orig := fullPerson(t0)
	mustCreateClient(t, st, sc.a, orig)

	t.Run("OK", func(t *testing.T) {
		later := t0.Add(time.Minute)
		var want facevault.Client
		got, err := st.UpdateClient(ctx, sc.a, orig.ID, func(c *facevault.Client) error {
			checkClient(t, "fn's client", c, orig)
			c.Email = "new.address@example.com"
			c.ExternalID = "ext-new"
			c.PersonDetails.FirstName = "Augusta"
			c.CompanyDetails = &facevault.CompanyDetails{Name: "Analytical Engines"}
			c.Metadata["tier"] = "platinum"
			c.UpdatedAt = later
			want = *c
			want.PersonDetails = new(*c.PersonDetails)
			want.CompanyDetails = new(*c.CompanyDetails)
			want.Metadata = map[string]string{"tier": "platinum", "a.b": "dotted", "empty": ""}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		checkClient(t, "UpdateClient", got, &want)
		stored, err := st.Client(ctx, sc.a, orig.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		checkClient(t, "Client after UpdateClient", stored, &want)
		if !stored.CreatedAt.Equal(t0) || !stored.UpdatedAt.Equal(later) {
			t.Errorf("times after UpdateClient = %v, %v; want %v, %v", stored.CreatedAt, stored.UpdatedAt, t0, later)
		}

		// Filters see the new values, not the old ones.
		for _, tc := range []struct {
			field, value string
			want         []string
		}{
			{"email", "new.address@example.com", []string{orig.ID}},
			{"email", orig.Email, nil},
			{"externalId", "ext-new", []string{orig.ID}},
			{"externalId", "ext-ada", nil},
			{"personDetails.firstName", "Augusta", []string{orig.ID}},
			{"companyDetails.name", "Analytical Engines", []string{orig.ID}},
			{"metadata.tier", "platinum", []string{orig.ID}},
			{"metadata.tier", "gold", nil},
		} {
			cs, n := listClients(t, st, sc.a, facevault.ClientFilter{
				ListOptions: facevault.ListOptions{Page: all},
				Fields:      map[string]string{tc.field: tc.value},
			})
			checkIDs(t, tc.field+"="+tc.value, clientIDs(cs), tc.want)
			if n != len(tc.want) {
				t.Errorf("%s=%s: total %d, want %d", tc.field, tc.value, n, len(tc.want))
			}
		}
	})

	t.Run("FnError", func(t *testing.T) {
		before, err := st.Client(ctx, sc.a, orig.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		errFn := errors.New("storetest: fn failed")
		got, err := st.UpdateClient(ctx, sc.a, orig.ID, func(c *facevault.Client) error {
			c.Email = "half.done@example.com"
			c.Metadata = nil
			c.UpdatedAt = t0.Add(time.Hour)
			return errFn
		})
		if err != errFn {
			t.Errorf("UpdateClient: err = %v, want fn's error as is", err)
		}
		if got != nil {
			t.Errorf("UpdateClient = %+v, want nil", got)
		}
		after, err := st.Client(ctx, sc.a, orig.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		checkClient(t, "Client after a failed update", after, before)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		called := false
		got, err := st.UpdateClient(ctx, sc.a, id(7), func(*facevault.Client) error {
			called = true
			return nil
		})
		wantNotFound(t, "UpdateClient(unknown)", err)
		if got != nil || called {
			t.Errorf("UpdateClient(unknown) = %+v, fn called %v; want nil, not called", got, called)
		}
	})
}

func testDeleteClient(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)

	t.Run("OK", func(t *testing.T) {
		c := mustCreateClient(t, st, sc.a, newPerson(t0, "Del", "Ete"))
		other := mustCreateClient(t, st, sc.a, newPerson(t0, "Kee", "P"))
		var photos []*facevault.LivePhoto
		for i := range 3 {
			photos = append(photos, mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Duration(i)*time.Second), c.ID)))
		}
		kept := mustCreatePhoto(t, st, sc.a, newPhoto(t0, other.ID))
		_, before := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: all}})

		if err := st.DeleteClient(ctx, sc.a, c.ID, t0.Add(time.Hour)); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}

		// From the commit on, the client and its photos are gone for every
		// method.
		_, err := st.Client(ctx, sc.a, c.ID)
		wantNotFound(t, "Client after DeleteClient", err)
		_, err = st.UpdateClient(ctx, sc.a, c.ID, func(*facevault.Client) error { return nil })
		wantNotFound(t, "UpdateClient after DeleteClient", err)
		for _, p := range photos {
			_, err := st.LivePhoto(ctx, sc.a, p.ID)
			wantNotFound(t, "LivePhoto after DeleteClient", err)
			_, err = st.DeleteLivePhoto(ctx, sc.a, p.ID, t0.Add(time.Hour))
			wantNotFound(t, "DeleteLivePhoto after DeleteClient", err)
			_, err = st.RedactLivePhoto(ctx, sc.a, p.ID, t0.Add(time.Hour))
			wantNotFound(t, "RedactLivePhoto after DeleteClient", err)
		}
		if ps, n := listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: all}); len(ps) != 0 || n != 0 {
			t.Errorf("LivePhotos after DeleteClient = %d items, total %d; want none", len(ps), n)
		}
		cs, after := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: all}})
		if slices.Contains(clientIDs(cs), c.ID) || after != before-1 || len(cs) != after {
			t.Errorf("Clients after DeleteClient = %q, total %d; want it gone and the total %d", clientIDs(cs), after, before-1)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{DeletedClients: 1})
		// The records are still there, and the sweep must leave their bytes
		// alone until the purge removes them.
		wantExisting(t, st, append(photoIDs(photos), kept.ID), append(photoIDs(photos), kept.ID))

		// Deleting again is ErrNotFound.
		wantNotFound(t, "DeleteClient again", st.DeleteClient(ctx, sc.a, c.ID, t0.Add(time.Hour)))

		// The purge drains the records in batches, queuing their keys.
		var drained []string
		for _, n := range []int{2, 2, 2} {
			keys, err := st.DrainDeletedClients(ctx, t0.Add(2*time.Hour), n)
			if err != nil {
				t.Fatalf("DrainDeletedClients(%d): %v", n, err)
			}
			if len(keys) > n {
				t.Fatalf("DrainDeletedClients(%d) returned %d keys", n, len(keys))
			}
			drained = append(drained, keys...)
		}
		slices.Sort(drained)
		want := slices.Sorted(slices.Values(photoIDs(photos)))
		checkIDs(t, "keys drained", drained, want)
		wantBacklog(t, st, facevault.PurgeBacklog{Keys: 3})
		due, err := st.DuePurges(ctx, t0.Add(2*time.Hour), 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		checkIDs(t, "keys due", purgeKeys(due), want)
		wantExisting(t, st, append(photoIDs(photos), kept.ID), append(photoIDs(photos), kept.ID))

		if err := st.FinishPurges(ctx, want); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
		wantExisting(t, st, append(photoIDs(photos), kept.ID), []string{kept.ID})
		if _, err := st.Client(ctx, sc.a, other.ID); err != nil {
			t.Errorf("Client(other): %v", err)
		}
		ps, n := listPhotos(t, st, sc.a, other.ID, facevault.ListOptions{Page: all})
		if n != 1 || len(ps) != 1 {
			t.Errorf("photos of the other client = %d, total %d; want 1", len(ps), n)
		}
	})

	t.Run("NoPhotos", func(t *testing.T) {
		c := mustCreateClient(t, st, sc.a, newPerson(t0, "No", "Photos"))
		if err := st.DeleteClient(ctx, sc.a, c.ID, t0); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		_, err := st.Client(ctx, sc.a, c.ID)
		wantNotFound(t, "Client after DeleteClient", err)
		wantBacklog(t, st, facevault.PurgeBacklog{DeletedClients: 1})
		keys, err := st.DrainDeletedClients(ctx, t0, 10)
		if err != nil || len(keys) != 0 {
			t.Fatalf("DrainDeletedClients = %q, %v; want none", keys, err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
	})

	t.Run("ManyClientsInBatches", func(t *testing.T) {
		// Several deleted clients with more photos than a batch: every
		// batch holds at most n records, and all are drained in the end.
		var all []string
		for i := range 3 {
			c := mustCreateClient(t, st, sc.aLive, newPerson(t0, "Batch", fmt.Sprint(i)))
			for j := range 5 {
				all = append(all, mustCreatePhoto(t, st, sc.aLive, newPhoto(t0.Add(time.Duration(j)*time.Millisecond), c.ID)).ID)
			}
			if err := st.DeleteClient(ctx, sc.aLive, c.ID, t0); err != nil {
				t.Fatalf("DeleteClient: %v", err)
			}
		}
		wantBacklog(t, st, facevault.PurgeBacklog{DeletedClients: 3})
		var drained []string
		for range 20 {
			keys, err := st.DrainDeletedClients(ctx, t0, 4)
			if err != nil {
				t.Fatalf("DrainDeletedClients: %v", err)
			}
			if len(keys) > 4 {
				t.Fatalf("a batch of 4 drained %d records", len(keys))
			}
			if len(keys) == 0 {
				break
			}
			drained = append(drained, keys...)
		}
		slices.Sort(drained)
		slices.Sort(all)
		checkIDs(t, "drained", drained, all)
		wantBacklog(t, st, facevault.PurgeBacklog{Keys: len(all)})
		if err := st.FinishPurges(ctx, all); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantNotFound(t, "DeleteClient(unknown)", st.DeleteClient(ctx, sc.a, id(9), t0))
	})
}

func testClientOrder(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	// Three clients share a creation time and are stored in an order that is
	// neither ascending nor descending by ID.
	at := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(time.Millisecond), t0.Add(time.Millisecond), t0.Add(2 * time.Millisecond)}
	ids := []string{id(5), id(2), id(4), id(3), id(1)}
	createdAt := map[string]time.Time{}
	for i, cid := range ids {
		c := newPerson(at[i], "Order", "Test")
		c.ID = cid
		c.Email = "order" + cid + "@example.com"
		mustCreateClient(t, st, sc.a, c)
		createdAt[cid] = at[i]
	}
	// Noise in other scopes.
	mustCreateClient(t, st, sc.aLive, newPerson(t0.Add(time.Millisecond), "Other", "Mode"))
	mustCreateClient(t, st, sc.b, newPerson(t0.Add(time.Millisecond), "Other", "Account"))

	full := newest(ids, createdAt)
	checkIDs(t, "expected order", full, []string{id(1), id(4), id(3), id(2), id(5)})
	for _, tc := range pageCases {
		t.Run(tc.name, func(t *testing.T) {
			cs, n := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: tc.page}})
			checkIDs(t, "Clients", clientIDs(cs), full[tc.from:tc.to])
			if n != len(ids) {
				t.Errorf("Clients total = %d, want %d", n, len(ids))
			}
		})
	}
	t.Run("Filtered", func(t *testing.T) {
		cs, n := listClients(t, st, sc.a, facevault.ClientFilter{
			ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 2, PageSize: 2},
				TimeRange: facevault.TimeRange{CreatedAfter: t0}},
			Fields: map[string]string{"type": facevault.ClientPerson},
		})
		checkIDs(t, "Clients", clientIDs(cs), full[2:4])
		if n != 4 {
			t.Errorf("Clients total = %d, want 4", n)
		}
	})
}

func testClientTimeFilters(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	var ids []string
	for i := range 3 {
		c := newPerson(created(i), "Timed", "Client")
		c.UpdatedAt = updated(i)
		mustCreateClient(t, st, sc.a, c)
		ids = append(ids, c.ID)
	}
	mustCreateClient(t, st, sc.b, newPerson(created(1), "Other", "Account"))
	for _, tc := range timeCases() {
		t.Run(tc.name, func(t *testing.T) {
			cs, n := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: tc.o})
			want := wantTimed(ids, tc.want)
			checkIDs(t, "Clients", clientIDs(cs), want)
			if n != len(want) {
				t.Errorf("Clients total = %d, want %d", n, len(want))
			}
		})
	}
}

// attr returns the value of the filterable attribute field of c.
func attr(c *facevault.Client, field string) string {
	p, co := c.PersonDetails, c.CompanyDetails
	if p == nil {
		p = &facevault.PersonDetails{}
	}
	if co == nil {
		co = &facevault.CompanyDetails{}
	}
	return map[string]string{
		"type":                                  c.Type,
		"email":                                 c.Email,
		"mobile":                                c.Mobile,
		"telephone":                             c.Telephone,
		"externalId":                            c.ExternalID,
		"joinedDate":                            c.JoinedDate,
		"personDetails.firstName":               p.FirstName,
		"personDetails.middleName":              p.MiddleName,
		"personDetails.lastName":                p.LastName,
		"personDetails.dob":                     p.DOB,
		"personDetails.gender":                  p.Gender,
		"personDetails.nationality":             p.Nationality,
		"personDetails.birthCountry":            p.BirthCountry,
		"personDetails.ssn":                     p.SSN,
		"personDetails.socialInsuranceNumber":   p.SocialInsuranceNumber,
		"personDetails.nationalIdentityNumber":  p.NationalIdentityNumber,
		"personDetails.taxIdentificationNumber": p.TaxIdentificationNumber,
		"companyDetails.name":                   co.Name,
		"companyDetails.website":                co.Website,
		"companyDetails.registrationNumber":     co.RegistrationNumber,
		"companyDetails.incorporationCountry":   co.IncorporationCountry,
		"companyDetails.incorporationType":      co.IncorporationType,
	}[field]
}

func testClientFilters(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	person := fullPerson(t0)
	person.Metadata[`we"ird`] = "quoted"
	person.Metadata[`back\slash`] = "escaped"
	person.Metadata["line\nbreak"] = "control"
	person.Metadata["ünï"] = "côdé"
	mustCreateClient(t, st, sc.a, person)
	company := mustCreateClient(t, st, sc.a, fullCompany(t0.Add(time.Millisecond)))
	plain := newPerson(t0.Add(2*time.Millisecond), "Plain", "Person")
	plain.Metadata = map[string]string{"tier": "gold' OR '1'='1"}
	mustCreateClient(t, st, sc.a, plain)
	// The same attributes in the other mode and another account.
	mustCreateClient(t, st, sc.aLive, fullPerson(t0))
	mustCreateClient(t, st, sc.b, fullPerson(t0))

	list := func(t *testing.T, fields map[string]string, page facevault.Page) ([]string, int) {
		t.Helper()
		cs, n := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: page}, Fields: fields})
		return clientIDs(cs), n
	}

	// Every filterable attribute, on the client that has it set.
	t.Run("Fields", func(t *testing.T) {
		for _, field := range facevault.ClientFilterFields {
			t.Run(field, func(t *testing.T) {
				for _, c := range []*facevault.Client{person, company} {
					v := attr(c, field)
					if v == "" {
						continue
					}
					var want []string
					for _, o := range []*facevault.Client{plain, company, person} { // newest first
						if attr(o, field) == v {
							want = append(want, o.ID)
						}
					}
					got, n := list(t, map[string]string{field: v}, all)
					checkIDs(t, field+"="+v, got, want)
					if n != len(want) {
						t.Errorf("%s=%s: total %d, want %d", field, v, n, len(want))
					}
				}
			})
		}
	})

	tests := []struct {
		name   string
		fields map[string]string
		want   []string
	}{
		{"NoFilter", nil, []string{plain.ID, company.ID, person.ID}},
		{"EmptyFilter", map[string]string{}, []string{plain.ID, company.ID, person.ID}},
		{"TypePerson", map[string]string{"type": "person"}, []string{plain.ID, person.ID}},
		{"TypeCompany", map[string]string{"type": "company"}, []string{company.ID}},
		{"Email", map[string]string{"email": person.Email}, []string{person.ID}},
		{"EmailIsExact", map[string]string{"email": strings.ToUpper(person.Email)}, nil},
		{"EmailIsNotAPattern", map[string]string{"email": "%"}, nil},
		{"ExternalID", map[string]string{"externalId": "ext-acme"}, []string{company.ID}},
		{"NestedValueIsExact", map[string]string{"personDetails.firstName": "ada"}, nil},
		{"Metadata", map[string]string{"metadata.tier": "gold"}, []string{person.ID}},
		{"MetadataOtherValue", map[string]string{"metadata.tier": "silver"}, []string{company.ID}},
		{"MetadataNoMatch", map[string]string{"metadata.tier": "bronze"}, nil},
		{"MetadataUnknownKey", map[string]string{"metadata.colour": "gold"}, nil},
		{"MetadataKeyWithDot", map[string]string{"metadata.a.b": "dotted"}, []string{person.ID}},
		{"MetadataKeyBeforeDot", map[string]string{"metadata.a": "dotted"}, []string{company.ID}},
		{"MetadataUnicode", map[string]string{"metadata.ünï": "côdé"}, []string{person.ID}},
		{"MetadataKeyIsNotAPath", map[string]string{"metadata.tier.x": "gold"}, nil},
		{"MetadataValueInjection", map[string]string{"metadata.tier": "gold' OR '1'='1"}, []string{plain.ID}},
		{"MetadataKeyInjection", map[string]string{"metadata.tier') OR 1=1 --": "x"}, nil},
		{"MetadataPathInjection", map[string]string{"metadata.tier\".\"x": "gold"}, nil},
		{"ValueInjection", map[string]string{"email": "' OR '1'='1"}, nil},
		{"And", map[string]string{"type": "person", "metadata.tier": "gold", "externalId": "ext-ada"}, []string{person.ID}},
		{"AndNoMatch", map[string]string{"type": "company", "metadata.tier": "gold"}, nil},
		{"AndAcrossKinds", map[string]string{"email": person.Email, "personDetails.lastName": "Lovelace", "joinedDate": "2019-01-02"}, []string{person.ID}},
		{"UnknownField", map[string]string{"nickname": "Ada"}, nil},
		{"UnknownFieldWithKnown", map[string]string{"type": "person", "nickname": "Ada"}, nil},
		{"UnknownNestedField", map[string]string{"personDetails.nickname": "Ada"}, nil},
		{"ObjectField", map[string]string{"personDetails": "Ada"}, nil},
		{"MetadataObject", map[string]string{"metadata": "gold"}, nil},
		{"IDIsNotAFilter", map[string]string{"id": person.ID}, nil},
		{"CreatedAtIsNotAFilter", map[string]string{"createdAt": "2024-03-14"}, nil},
		{"WrongCase", map[string]string{"Email": person.Email}, nil},
		{"SQLInField", map[string]string{"email = email OR 1": "x"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := list(t, tc.fields, all)
			checkIDs(t, "Clients", got, tc.want)
			if n != len(tc.want) {
				t.Errorf("Clients total = %d, want %d", n, len(tc.want))
			}
		})
	}

	// Keys SQLite cannot spell in a JSON path may match nothing, but must
	// never fail nor match the wrong client.
	t.Run("MetadataKeyHardToQuote", func(t *testing.T) {
		for key, value := range map[string]string{`we"ird`: "quoted", `back\slash`: "escaped", "line\nbreak": "control"} {
			got, n := list(t, map[string]string{"metadata." + key: value}, all)
			if len(got) > 1 || len(got) == 1 && got[0] != person.ID || n != len(got) {
				t.Errorf("metadata.%q=%q: got %q, total %d; want nothing or the one client", key, value, got, n)
			}
		}
	})

	t.Run("Paged", func(t *testing.T) {
		got, n := list(t, map[string]string{"type": "person"}, facevault.Page{Page: 2, PageSize: 1})
		checkIDs(t, "Clients", got, []string{person.ID})
		if n != 2 {
			t.Errorf("Clients total = %d, want 2", n)
		}
		got, n = list(t, map[string]string{"type": "person"}, facevault.Page{Page: 3, PageSize: 1})
		checkIDs(t, "Clients", got, nil)
		if n != 2 {
			t.Errorf("Clients total past the end = %d, want 2", n)
		}
	})

	t.Run("Impossible", func(t *testing.T) {
		cs, n, err := st.Clients(ctx, sc.a, facevault.ClientFilter{
			ListOptions: facevault.ListOptions{Page: all, Impossible: true},
			Fields:      map[string]string{"type": "person"},
		})
		if err != nil || len(cs) != 0 || n != 0 {
			t.Errorf("Clients(Impossible) = %d items, total %d, %v; want none", len(cs), n, err)
		}
	})

	t.Run("ReadsWholeClient", func(t *testing.T) {
		cs, _ := listClients(t, st, sc.a, facevault.ClientFilter{
			ListOptions: facevault.ListOptions{Page: all},
			Fields:      map[string]string{"email": person.Email},
		})
		if len(cs) != 1 {
			t.Fatalf("Clients returned %d items, want 1", len(cs))
		}
		checkClient(t, "listed client", cs[0], person)
	})
}

// clientOps are every ClientStore method, run against one client ID; each
// returns the error the store gave.
func clientOps(st facevault.Store, s facevault.Scope, clientID string, called *bool) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Client": func(ctx context.Context) error {
			_, err := st.Client(ctx, s, clientID)
			return err
		},
		"UpdateClient": func(ctx context.Context) error {
			_, err := st.UpdateClient(ctx, s, clientID, func(c *facevault.Client) error {
				*called = true
				c.Email = "hijacked@example.com"
				return nil
			})
			return err
		},
		"DeleteClient": func(ctx context.Context) error {
			return st.DeleteClient(ctx, s, clientID, t0.Add(time.Hour))
		},
	}
}

// testExistingClients: the clients that exist, in any scope, and are not
// deleted; deleted ones are not, even before their photos are drained.
func testExistingClients(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	a := mustCreateClient(t, st, sc.a, newPerson(t0, "A", "A"))
	live := mustCreateClient(t, st, sc.aLive, newPerson(t0, "L", "L"))
	b := mustCreateClient(t, st, sc.b, newPerson(t0, "B", "B"))
	gone := mustCreateClient(t, st, sc.a, newPerson(t0, "G", "G"))
	mustCreatePhoto(t, st, sc.a, newPhoto(t0, gone.ID))
	if err := st.DeleteClient(ctx, sc.a, gone.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ids := []string{a.ID, live.ID, b.ID, gone.ID, id(999999), "not an id", "\x00"}
	got, err := st.ExistingClients(ctx, ids)
	if err != nil {
		t.Fatalf("ExistingClients: %v", err)
	}
	var present []string
	for _, id := range ids {
		if got[id] {
			present = append(present, id)
		}
	}
	checkIDs(t, "ExistingClients", present, []string{a.ID, live.ID, b.ID})
	if got, err := st.ExistingClients(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ExistingClients(nil) = %v, %v", got, err)
	}
	// More than one batch.
	many := make([]string, 0, 1200)
	for i := range 1199 {
		many = append(many, id(500000+i))
	}
	many = append(many, b.ID)
	if got, err := st.ExistingClients(ctx, many); err != nil || len(got) != 1 || !got[b.ID] {
		t.Errorf("ExistingClients of %d ids = %v, %v; want only %s", len(many), got, err, b.ID)
	}
}
