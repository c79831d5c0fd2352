package facevault_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

var idPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// FuzzID checks ValidID against the contract's definition of an id, 24
// lowercase hex characters (a regular expression here), and that every
// valid id round-trips through its 12 bytes; and that NewID, at any time,
// makes a valid id whose first 4 bytes are the time's Unix seconds.
func FuzzID(f *testing.F) {
	for _, s := range []string{
		"5eb1b5f231778a0008d1c3f6", "5EB1B5F231778A0008D1C3F6", "5eb1b5f231778a0008d1c3f", "5eb1b5f231778a0008d1c3f60",
		"5eb1b5f231778a0008d1c3g6", "../../../../../etc/passwd", "", "5eb1b5f231778a0008d1c3f\n", "5eb1b5f231778a0008d1c3\u00e9",
		" 5eb1b5f231778a0008d1c3f6", "0x5eb1b5f231778a0008d1c3", "+5eb1b5f231778a0008d1c3f",
	} {
		f.Add(s, int64(1_700_000_000))
	}
	f.Add("000000000000000000000000", int64(-1))
	f.Add("ffffffffffffffffffffffff", int64(1<<32))
	f.Fuzz(func(t *testing.T, s string, sec int64) {
		valid := facevault.ValidID(s)
		if valid != idPattern.MatchString(s) {
			t.Fatalf("ValidID(%q) = %v; the contract says %v", s, valid, !valid)
		}
		if valid {
			b, err := hex.DecodeString(s)
			if err != nil || len(b) != 12 || hex.EncodeToString(b) != s {
				t.Fatalf("valid id %q does not round-trip through its bytes: %x, %v", s, b, err)
			}
		}
		id := facevault.NewID(time.Unix(sec, 0))
		if !facevault.ValidID(id) {
			t.Fatalf("NewID(%d) = %q, not a valid id", sec, id)
		}
		if got, want := id[:8], fmt.Sprintf("%08x", uint32(sec)); got != want {
			t.Fatalf("NewID(%d) = %q, starts %s; want %s", sec, id, got, want)
		}
		if b, _ := hex.DecodeString(id); binary.BigEndian.Uint32(b) != uint32(sec) {
			t.Fatalf("NewID(%d) = %q: seconds do not decode", sec, id)
		}
	})
}

// requiredParams are the fields a create may name in an error although the
// body does not have them: they are required.
var requiredParams = map[string]bool{
	"type": true, "email": true, "personDetails": true, "personDetails.firstName": true,
	"personDetails.lastName": true, "companyDetails": true, "companyDetails.name": true,
}

// paths returns every member of a JSON object and of the objects in it, as
// dotted paths ("personDetails", "personDetails.firstName").
func paths(v any, prefix string, into map[string]bool) map[string]bool {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			p := prefix + k
			into[p] = true
			paths(x, p+".", into)
		}
	}
	return into
}

// refApply is the model of ClientPatch.Apply without its validation: the
// body m, decoded independently with encoding/json, merged into a copy of
// base. Strings are trimmed of spaces, null leaves a field as it is, nested
// objects merge field by field and metadata key by key.
func refApply(base *facevault.Client, m map[string]any) *facevault.Client {
	c := cloneClient(base)
	str := func(dst *string, m map[string]any, k string) {
		if s, ok := m[k].(string); ok {
			*dst = strings.TrimSpace(s)
		}
	}
	str(&c.Email, m, "email")
	str(&c.Mobile, m, "mobile")
	str(&c.Telephone, m, "telephone")
	str(&c.ExternalID, m, "externalId")
	str(&c.JoinedDate, m, "joinedDate")
	if d, ok := m["personDetails"].(map[string]any); ok {
		if c.PersonDetails == nil {
			c.PersonDetails = &facevault.PersonDetails{}
		}
		pd := c.PersonDetails
		for k, dst := range map[string]*string{
			"firstName": &pd.FirstName, "middleName": &pd.MiddleName, "lastName": &pd.LastName, "dob": &pd.DOB,
			"gender": &pd.Gender, "nationality": &pd.Nationality, "birthCountry": &pd.BirthCountry, "ssn": &pd.SSN,
			"socialInsuranceNumber": &pd.SocialInsuranceNumber, "nationalIdentityNumber": &pd.NationalIdentityNumber,
			"taxIdentificationNumber": &pd.TaxIdentificationNumber,
		} {
			str(dst, d, k)
		}
	}
	if d, ok := m["companyDetails"].(map[string]any); ok {
		if c.CompanyDetails == nil {
			c.CompanyDetails = &facevault.CompanyDetails{}
		}
		cd := c.CompanyDetails
		for k, dst := range map[string]*string{
			"name": &cd.Name, "website": &cd.Website, "registrationNumber": &cd.RegistrationNumber,
			"incorporationCountry": &cd.IncorporationCountry, "incorporationType": &cd.IncorporationType,
		} {
			str(dst, d, k)
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if c.Metadata == nil {
			c.Metadata = map[string]string{}
		}
		for k, v := range md {
			s, _ := v.(string)
			c.Metadata[k] = s
		}
	}
	return c
}

func cloneClient(c *facevault.Client) *facevault.Client {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	var out facevault.Client
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	out.ID, out.CreatedAt, out.UpdatedAt = c.ID, c.CreatedAt, c.UpdatedAt
	return &out
}

// sameClient compares two clients, ids and timestamps aside.
func sameClient(a, b *facevault.Client) bool {
	a, b = cloneClient(a), cloneClient(b)
	a.ID, a.CreatedAt, a.UpdatedAt = "", time.Time{}, time.Time{}
	b.ID, b.CreatedAt, b.UpdatedAt = "", time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// decodeBody decodes a body as readJSON does (github.com/go-json-experiment/json
// into a ClientPatch), and independently with encoding/json into a map.
func decodeBody(b []byte) (*facevault.ClientPatch, map[string]any, bool) {
	var p facevault.ClientPatch
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, false
	}
	var m map[string]any
	if err := stdjson.Unmarshal(b, &m); err != nil || m == nil {
		return nil, nil, false
	}
	return &p, m, true
}

// FuzzClientPatch fuzzes the client create and update bodies at the domain
// level (ClientPatch and its validation), taking the bodies the JSON
// decoder accepts. A create (NewClient) either fails with a 400 naming a
// field the body has or a required one, or makes a valid client equal to
// the model (refApply) whose JSON form (what the stores keep) reads back
// as the same client, and which, sent again as a create, makes the same
// client. An update (Apply) on that client (or on a fixed one) either
// fails with a 400 naming a field the update has, or gives the model's
// merge, still valid, with its type unchanged.
func FuzzClientPatch(f *testing.F) {
	person := `{"type":"person","email":"jo@example.com","personDetails":{"firstName":"Jo","lastName":"Doe","dob":"1990-02-01","nationality":"GB","gender":"female"},"metadata":{"tier":"gold"}}`
	company := `{"type":"company","email":" acme@example.com ","companyDetails":{"name":"Acme","incorporationCountry":"US","website":"acme.example"},"joinedDate":"2020-01-31"}`
	for _, c := range [][2]string{
		{person, `{"personDetails":{"middleName":"Q"}}`},
		{person, `{"type":"company"}`},
		{person, `{"email":""}`},
		{person, `{"metadata":{"tier":null}}`},
		{person, `{"metadata":{"a":"1","b":"2"},"mobile":" +44 "}`},
		{company, `{"companyDetails":{"name":"  "}}`},
		{company, `{"personDetails":{"dob":"1990-13-01"}}`},
		{`{"type":"person","email":"x@y.z","personDetails":{"firstName":"A","lastName":"B"},"companyDetails":{"incorporationCountry":"gb"}}`, `{}`},
		{`{"type":"person"}`, `{"joinedDate":"2020-02-30"}`},
		{`{"type":"robot","email":"a@b.c"}`, `{"externalId":"` + strings.Repeat("x", 256) + `"}`},
		{`{"type":"person","email":"Jo <jo@example.com>","personDetails":{"firstName":"J","lastName":"D"}}`, `{"email":"a\u0000b@c.d"}`},
		{`{"email":"a@b.c","metadata":{"k\"ey":"v"}}`, `{"metadata":{"":"v"}}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"\u00a0A","lastName":"B\t"},"metadata":{}}`, `{"personDetails":null}`},
	} {
		f.Add([]byte(c[0]), []byte(c[1]))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	fixed, err := facevault.NewClient(mustPatch(person), now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, create, update []byte) {
		base := fixed
		if p, m, ok := decodeBody(create); ok {
			c, err := facevault.NewClient(p, now)
			if err != nil {
				wantParam(t, "create", err, paths(m, "", map[string]bool{}), requiredParams)
			} else {
				checkClient(t, c, refApply(&facevault.Client{Type: c.Type}, m), now)
				if m["type"] != c.Type {
					t.Fatalf("created a client of type %q from type %v", c.Type, m["type"])
				}
				base = c
			}
		}
		p, m, ok := decodeBody(update)
		if !ok {
			return
		}
		c := cloneClient(base)
		if err := p.Apply(c); err != nil {
			wantParam(t, "update", err, paths(m, "", map[string]bool{}), nil)
			return
		}
		if c.Type != base.Type {
			t.Fatalf("update changed the type from %q to %q", base.Type, c.Type)
		}
		checkClient(t, c, refApply(base, m), now)
	})
}

func mustPatch(s string) *facevault.ClientPatch {
	var p facevault.ClientPatch
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		panic(err)
	}
	return &p
}

// wantParam checks that err is a 400 naming a field of the body or one of
// also.
func wantParam(t *testing.T, what string, err error, have, also map[string]bool) {
	t.Helper()
	var e *facevault.Error
	if !errors.As(err, &e) || e.Code != facevault.EInvalid {
		t.Fatalf("%s: error %v, want a 400", what, err)
	}
	if e.Message == "" || !have[e.Param] && !also[e.Param] {
		t.Fatalf("%s: error %v names %q, which the body does not have (it has %v)", what, err, e.Param, have)
	}
}

// checkClient checks an accepted client: valid, equal to the model, and
// unchanged through its JSON form, both as stored and as a new create.
func checkClient(t *testing.T, c, want *facevault.Client, now time.Time) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("accepted a client that does not validate: %v", err)
	}
	if !sameClient(c, want) {
		t.Fatalf("client %+v, the model says %+v", c, want)
	}
	doc, err := json.Marshal(c, json.Deterministic(true))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back facevault.Client
	if err := json.Unmarshal(doc, &back); err != nil || !sameClient(&back, c) {
		t.Fatalf("JSON form %s reads back as %+v (%v)", doc, back, err)
	}
	var p facevault.ClientPatch
	if err := json.Unmarshal(doc, &p); err != nil {
		t.Fatalf("JSON form %s is not a create body: %v", doc, err)
	}
	again, err := facevault.NewClient(&p, now)
	if err != nil || !sameClient(again, c) {
		t.Fatalf("JSON form %s sent again as a create: %+v, %v", doc, again, err)
	}
}

// FuzzAuthenticate checks Authenticate, the parser of API keys, on any
// string against a key store holding an active test key, an active live
// key and a revoked key: exactly the two active keys are accepted, each in
// its own scope; everything else, a one-character change or the revoked
// key included, is the contract's 401, never an internal error.
func FuzzAuthenticate(f *testing.F) {
	acct := &facevault.Account{ID: "6b05e94e8876735d0bd72139", Name: "acme"}
	store := &keyStore{keys: map[string]*facevault.APIKey{}}
	add := func(secret string, mode facevault.Mode, revoked bool) string {
		k := &facevault.APIKey{ID: facevault.NewID(time.Unix(0, 0)), AccountID: acct.ID, Mode: mode, Hash: facevault.HashKey(secret)}
		if revoked {
			k.RevokedAt = time.Unix(1, 0)
		}
		store.keys[string(k.Hash)] = k
		return secret
	}
	test := add("test_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", facevault.ModeTest, false)
	live := add("live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", facevault.ModeLive, false)
	revoked := add("test_zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONM", facevault.ModeTest, true)
	// A key stored under the wrong mode: its prefix must still decide.
	mislabeled := add("live_mislabeledmislabeledmislabeledmislabele", facevault.ModeTest, false)
	for _, s := range []string{test, live, revoked, mislabeled, "", "test_", test + " ", " " + test, "Bearer " + test,
		strings.ToUpper(test[:4]) + test[4:], test[:len(test)-1], test + "x", "prod_" + test[5:], "test-" + test[5:],
		"test_" + strings.Repeat("a", 300), "test_\x00" + test[6:]} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := facevault.Authenticate(ctx, store, s)
		var want facevault.Mode
		switch s {
		case test:
			want = facevault.ModeTest
		case live:
			want = facevault.ModeLive
		}
		if want != "" {
			if err != nil || sc != (facevault.Scope{AccountID: acct.ID, Mode: want}) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %s scope", s, sc, err, want)
			}
			return
		}
		var e *facevault.Error
		if !errors.As(err, &e) || e.Code != facevault.EUnauthorized || sc != (facevault.Scope{}) {
			t.Fatalf("Authenticate(%q) = %+v, %v; want the contract's 401", s, sc, err)
		}
	})
}
