package http_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// clone deep-copies a JSON-like value.
func clone(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// wantFields checks that obj has exactly the given top-level fields.
func wantFields(t testing.TB, obj map[string]any, fields ...string) {
	t.Helper()
	want := slices.Sorted(slices.Values(fields))
	if got := keys(obj); !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

// TestCreateClient covers POST /v1/clients that succeed.
func TestCreateClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Date(2024, 7, 1, 9, 30, 0, 250e6, time.UTC)
		env.clock.Set(t0)
		t.Run("OK/PersonFull", func(t *testing.T) {
			pd := map[string]any{
				"firstName": "Jane", "middleName": "Q", "lastName": "Doe", "dob": "1990-02-28",
				"gender": "female", "nationality": "GB", "birthCountry": "FR", "ssn": "123-45-6789",
				"socialInsuranceNumber": "SIN1", "nationalIdentityNumber": "NIN1", "taxIdentificationNumber": "TIN1",
			}
			body := map[string]any{
				"type": "person", "email": "jane.doe@example.com", "mobile": "+44 7700 900123",
				"telephone": "+44 20 7946 0000", "externalId": "crm-42", "joinedDate": "2023-12-31",
				"personDetails": pd, "metadata": map[string]any{"tier": "gold", "source": "web"},
			}
			r := env.do(t, "POST", "/v1/clients", env.KeyA, body)
			wantStatus(t, r, http.StatusOK)
			c := r.JSON
			if !idRE.MatchString(str(t, c, "id")) {
				t.Errorf("id = %q", c["id"])
			}
			for _, k := range []string{"type", "email", "mobile", "telephone", "externalId", "joinedDate"} {
				if c[k] != body[k] {
					t.Errorf("%s = %#v, want %#v", k, c[k], body[k])
				}
			}
			if c["entityName"] != "Jane Doe" {
				t.Errorf("entityName = %#v, want \"Jane Doe\"", c["entityName"])
			}
			if got, _ := c["personDetails"].(map[string]any); !maps.Equal(got, pd) {
				t.Errorf("personDetails = %v, want %v", c["personDetails"], pd)
			}
			if got, _ := c["metadata"].(map[string]any); !maps.Equal(got, body["metadata"].(map[string]any)) {
				t.Errorf("metadata = %v", c["metadata"])
			}
			if got := parseTime(t, c, "createdAt"); !got.Equal(t0) {
				t.Errorf("createdAt = %v, want %v", got, t0)
			}
			if got := parseTime(t, c, "updatedAt"); !got.Equal(t0) {
				t.Errorf("updatedAt = %v, want %v", got, t0)
			}
			wantFields(t, c, "id", "type", "entityName", "email", "mobile", "telephone", "externalId", "joinedDate",
				"personDetails", "metadata", "createdAt", "updatedAt")
			g := env.do(t, "GET", "/v1/clients/"+str(t, c, "id"), env.KeyA, nil)
			wantStatus(t, g, http.StatusOK)
			if !reflect.DeepEqual(g.JSON, r.JSON) {
				t.Errorf("GET answers\n%s\ncreate answered\n%s", g.Body, r.Body)
			}
		})
		t.Run("OK/PersonMinimal", func(t *testing.T) {
			r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "person", "email": "min@example.com", "mobile": "", "externalId": nil,
				"personDetails": map[string]any{"firstName": "Min", "lastName": "Imal", "middleName": "", "dob": nil},
				"metadata":      map[string]any{},
			})
			wantStatus(t, r, http.StatusOK)
			// Empty and null fields are left out.
			wantFields(t, r.JSON, "id", "type", "entityName", "email", "personDetails", "createdAt", "updatedAt")
			wantFields(t, r.JSON["personDetails"].(map[string]any), "firstName", "lastName")
			if r.JSON["entityName"] != "Min Imal" {
				t.Errorf("entityName = %#v", r.JSON["entityName"])
			}
		})
		t.Run("OK/Company", func(t *testing.T) {
			cd := map[string]any{"name": "Acme Ltd", "website": "https://acme.example", "registrationNumber": "0123456",
				"incorporationCountry": "GB", "incorporationType": "private_limited"}
			r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "company", "email": "info@acme.example", "companyDetails": cd,
			})
			wantStatus(t, r, http.StatusOK)
			if r.JSON["entityName"] != "Acme Ltd" {
				t.Errorf("entityName = %#v, want \"Acme Ltd\"", r.JSON["entityName"])
			}
			if got, _ := r.JSON["companyDetails"].(map[string]any); !maps.Equal(got, cd) {
				t.Errorf("companyDetails = %v, want %v", r.JSON["companyDetails"], cd)
			}
			wantFields(t, r.JSON, "id", "type", "entityName", "email", "companyDetails", "createdAt", "updatedAt")
		})
		t.Run("OK/UnknownFieldsIgnored", func(t *testing.T) {
			r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "person", "email": "u@example.com", "color": "blue", "nested": map[string]any{"a": []any{1, nil}},
				"personDetails": map[string]any{"firstName": "U", "lastName": "K", "shoeSize": 42},
				"entityName":    "Forged Name", "id": "000000000000000000000000", "createdAt": "2000-01-01T00:00:00.000Z",
			})
			wantStatus(t, r, http.StatusOK)
			wantFields(t, r.JSON, "id", "type", "entityName", "email", "personDetails", "createdAt", "updatedAt")
			wantFields(t, r.JSON["personDetails"].(map[string]any), "firstName", "lastName")
			if r.JSON["entityName"] != "U K" || r.JSON["id"] == "000000000000000000000000" || r.JSON["createdAt"] == "2000-01-01T00:00:00.000Z" {
				t.Errorf("read-only fields taken from the body: %s", r.Body)
			}
		})
		t.Run("OK/TrailingSlash", func(t *testing.T) {
			r := env.do(t, "POST", "/v1/clients/", env.KeyA, map[string]any{
				"type": "company", "email": "slash@example.com", "companyDetails": map[string]any{"name": "Slash"}})
			wantStatus(t, r, http.StatusOK)
			wantStatus(t, env.do(t, "GET", "/v1/clients/"+str(t, r.JSON, "id"), env.KeyA, nil), http.StatusOK)
		})
		t.Run("OK/MetadataAtLimits", func(t *testing.T) {
			md := map[string]any{}
			for i := range 49 {
				md[fmt.Sprintf("k%02d", i)] = "v"
			}
			md[strings.Repeat("k", 40)] = strings.Repeat("v", 500)
			r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "company", "email": "md@example.com", "companyDetails": map[string]any{"name": "MD"}, "metadata": md})
			wantStatus(t, r, http.StatusOK)
			if got, _ := r.JSON["metadata"].(map[string]any); !maps.Equal(got, md) {
				t.Errorf("metadata not echoed: %d keys", len(got))
			}
		})
	})
}

// TestCreateClientInvalid covers every validation error of a create.
func TestCreateClientInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		person := map[string]any{
			"type": "person", "email": "v@example.com",
			"personDetails": map[string]any{"firstName": "Val", "lastName": "Idate"},
		}
		company := map[string]any{
			"type": "company", "email": "c@example.com", "companyDetails": map[string]any{"name": "Co"},
		}
		// with returns base with path (dotted) set to v, or deleted if v is
		// the deleted marker.
		type deleted struct{}
		with := func(base map[string]any, path string, v any) map[string]any {
			m := clone(base)
			parts := strings.Split(path, ".")
			cur := m
			for _, p := range parts[:len(parts)-1] {
				next, ok := cur[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					cur[p] = next
				}
				cur = next
			}
			if _, del := v.(deleted); del {
				delete(cur, parts[len(parts)-1])
			} else {
				cur[parts[len(parts)-1]] = v
			}
			return m
		}
		many := map[string]any{}
		for i := range 51 {
			many[fmt.Sprintf("key%02d", i)] = "v"
		}
		cases := []struct {
			name       string
			body       map[string]any
			param, msg string
		}{
			{"ErrTypeMissing", with(person, "type", deleted{}), "type", ""},
			{"ErrTypeEmpty", with(person, "type", ""), "type", ""},
			{"ErrTypeInvalid", with(person, "type", "robot"), "type", ""},
			{"ErrTypeCase", with(person, "type", "Person"), "type", ""},
			{"ErrTypeNumber", with(person, "type", 1), "type", ""},
			{"ErrEmailMissing", with(person, "email", deleted{}), "email", ""},
			{"ErrEmailEmpty", with(person, "email", ""), "email", ""},
			{"ErrEmailInvalid", with(person, "email", "not-an-email"), "email", ""},
			{"ErrEmailNoDomain", with(person, "email", "jane@"), "email", ""},
			{"ErrEmailDisplayName", with(person, "email", "Jane <jane@example.com>"), "email", ""},
			{"ErrEmailNumber", with(person, "email", 42), "email", ""},
			{"ErrPersonDetailsMissing", with(person, "personDetails", deleted{}), "personDetails",
				"'personDetails' must be provided when client type is `person`"},
			{"ErrPersonDetailsNull", with(person, "personDetails", nil), "personDetails",
				"'personDetails' must be provided when client type is `person`"},
			{"ErrPersonDetailsString", with(person, "personDetails", "Jane Doe"), "personDetails", ""},
			{"ErrFirstNameMissing", with(person, "personDetails.firstName", deleted{}), "personDetails.firstName", ""},
			{"ErrFirstNameEmpty", with(person, "personDetails.firstName", "  "), "personDetails.firstName", ""},
			{"ErrFirstNameNumber", with(person, "personDetails.firstName", 7), "personDetails.firstName", ""},
			{"ErrLastNameMissing", with(person, "personDetails.lastName", deleted{}), "personDetails.lastName", ""},
			{"ErrFirstNameTooLong", with(person, "personDetails.firstName", strings.Repeat("a", 256)), "personDetails.firstName", ""},
			{"ErrCompanyDetailsMissing", with(company, "companyDetails", deleted{}), "companyDetails", ""},
			{"ErrCompanyNameMissing", with(company, "companyDetails.name", deleted{}), "companyDetails.name", ""},
			{"ErrCompanyNameEmpty", with(company, "companyDetails.name", ""), "companyDetails.name", ""},
			{"ErrCompanyOnlyPersonDetails", with(with(company, "companyDetails", deleted{}), "personDetails", map[string]any{"firstName": "A", "lastName": "B"}), "companyDetails", ""},
			{"ErrIncorporationCountry", with(company, "companyDetails.incorporationCountry", "United Kingdom"), "companyDetails.incorporationCountry", ""},
			{"ErrDOBMonth13", with(person, "personDetails.dob", "1990-13-01"), "personDetails.dob", ""},
			{"ErrDOBFeb30", with(person, "personDetails.dob", "1990-02-30"), "personDetails.dob", ""},
			{"ErrDOBSlashes", with(person, "personDetails.dob", "01/02/1990"), "personDetails.dob", ""},
			{"ErrDOBTimestamp", with(person, "personDetails.dob", "1990-01-02T00:00:00Z"), "personDetails.dob", ""},
			{"ErrJoinedDateShort", with(person, "joinedDate", "2020-1-1"), "joinedDate", ""},
			{"ErrJoinedDateWords", with(person, "joinedDate", "yesterday"), "joinedDate", ""},
			{"ErrGenderInvalid", with(person, "personDetails.gender", "x"), "personDetails.gender", ""},
			{"ErrGenderCase", with(person, "personDetails.gender", "MALE"), "personDetails.gender", ""},
			{"ErrNationalityAlpha3", with(person, "personDetails.nationality", "GBR"), "personDetails.nationality", ""},
			{"ErrNationalityLowerCase", with(person, "personDetails.nationality", "gb"), "personDetails.nationality", ""},
			{"ErrNationalityName", with(person, "personDetails.nationality", "British"), "personDetails.nationality", ""},
			{"ErrBirthCountry", with(person, "personDetails.birthCountry", "1"), "personDetails.birthCountry", ""},
			{"ErrMetadataArray", with(person, "metadata", []any{"a", "b"}), "metadata", ""},
			{"ErrMetadataString", with(person, "metadata", "tier=gold"), "metadata", ""},
			{"ErrMetadataNumberValue", with(person, "metadata", map[string]any{"tier": 1}), "metadata", ""},
			{"ErrMetadataBoolValue", with(person, "metadata", map[string]any{"vip": true}), "metadata", ""},
			{"ErrMetadataObjectValue", with(person, "metadata", map[string]any{"a": map[string]any{"b": "c"}}), "metadata", ""},
			{"ErrMetadataNullValue", with(person, "metadata", map[string]any{"a": nil}), "metadata", ""},
			{"ErrMetadata51Keys", with(person, "metadata", many), "metadata", ""},
			{"ErrMetadataKey41", with(person, "metadata", map[string]any{strings.Repeat("k", 41): "v"}), "metadata", ""},
			{"ErrMetadataEmptyKey", with(person, "metadata", map[string]any{"": "v"}), "metadata", ""},
			{"ErrMetadataValue501", with(person, "metadata", map[string]any{"k": strings.Repeat("v", 501)}), "metadata", ""},
			{"ErrExternalIDNumber", with(person, "externalId", 12345), "externalId", ""},
			{"ErrMobileObject", with(person, "mobile", map[string]any{"n": "1"}), "mobile", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := env.do(t, "POST", "/v1/clients", env.KeyA, c.body, invalid(c.name)...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", c.msg, c.param)
			})
		}
		e, _ := env.list(t, env.KeyA, "/v1/clients")
		wantEnvelope(t, e, 1, 100, 0, 0, 0)
	})
}

// TestUpdateClient covers POST /v1/clients/{id}: partial, merged updates.
func TestUpdateClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
		env.clock.Set(t0)
		created := env.createClient(t, env.KeyA, map[string]any{
			"mobile": "+1 555 0100", "externalId": "ext-9",
			"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe", "dob": "1990-01-02", "nationality": "GB"},
			"metadata":      map[string]any{"a": "1", "b": "2"},
		})
		id := str(t, created, "id")
		path := "/v1/clients/" + id
		step := 0
		update := func(t *testing.T, body any, hdr ...string) *response {
			t.Helper()
			step++
			env.clock.Set(t0.Add(time.Duration(step) * time.Minute))
			return env.do(t, "POST", path, env.KeyA, body, hdr...)
		}
		current := func(t *testing.T) map[string]any {
			t.Helper()
			r := env.do(t, "GET", path, env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			return r.JSON
		}

		t.Run("OK/MergeNested", func(t *testing.T) {
			r := update(t, map[string]any{"personDetails": map[string]any{"middleName": "Q", "firstName": "Janet"},
				"metadata": map[string]any{"c": "3", "a": "one"}})
			wantStatus(t, r, http.StatusOK)
			pd := r.JSON["personDetails"].(map[string]any)
			want := map[string]any{"firstName": "Janet", "middleName": "Q", "lastName": "Doe", "dob": "1990-01-02", "nationality": "GB"}
			if !maps.Equal(pd, want) {
				t.Errorf("personDetails = %v, want %v", pd, want)
			}
			md := r.JSON["metadata"].(map[string]any)
			if wantMD := map[string]any{"a": "one", "b": "2", "c": "3"}; !maps.Equal(md, wantMD) {
				t.Errorf("metadata = %v, want %v", md, wantMD)
			}
			if r.JSON["entityName"] != "Janet Doe" {
				t.Errorf("entityName = %#v, want \"Janet Doe\"", r.JSON["entityName"])
			}
			for _, k := range []string{"email", "mobile", "externalId", "type", "id", "createdAt"} {
				if r.JSON[k] != created[k] {
					t.Errorf("%s = %#v, want unchanged %#v", k, r.JSON[k], created[k])
				}
			}
			if got := parseTime(t, r.JSON, "updatedAt"); !got.Equal(t0.Add(time.Minute)) {
				t.Errorf("updatedAt = %v, want %v", got, t0.Add(time.Minute))
			}
			if cur := current(t); !reflect.DeepEqual(cur, r.JSON) {
				t.Errorf("GET after update = %v, update answered %v", cur, r.JSON)
			}
		})
		t.Run("OK/EmptyBody", func(t *testing.T) {
			before := current(t)
			r := update(t, map[string]any{})
			wantStatus(t, r, http.StatusOK)
			for _, k := range []string{"email", "mobile", "personDetails", "metadata", "createdAt"} {
				if fmt.Sprint(r.JSON[k]) != fmt.Sprint(before[k]) {
					t.Errorf("%s changed by an empty update: %v -> %v", k, before[k], r.JSON[k])
				}
			}
		})
		t.Run("OK/SameType", func(t *testing.T) {
			wantStatus(t, update(t, map[string]any{"type": "person"}), http.StatusOK)
		})
		t.Run("OK/ClearWithEmptyString", func(t *testing.T) {
			r := update(t, map[string]any{"mobile": "", "personDetails": map[string]any{"dob": "", "middleName": ""}})
			wantStatus(t, r, http.StatusOK)
			if _, has := r.JSON["mobile"]; has {
				t.Errorf("mobile still present: %s", r.Body)
			}
			pd := r.JSON["personDetails"].(map[string]any)
			for _, k := range []string{"dob", "middleName"} {
				if _, has := pd[k]; has {
					t.Errorf("personDetails.%s still present: %v", k, pd)
				}
			}
			if pd["nationality"] != "GB" || r.JSON["externalId"] != "ext-9" {
				t.Errorf("other fields lost: %s", r.Body)
			}
			cur := current(t)
			if _, has := cur["mobile"]; has {
				t.Errorf("mobile still stored: %v", cur)
			}
		})
		t.Run("OK/UnknownFieldsIgnored", func(t *testing.T) {
			r := update(t, map[string]any{"favouriteColour": "blue", "telephone": "+1 555 0199"})
			wantStatus(t, r, http.StatusOK)
			if _, has := r.JSON["favouriteColour"]; has || r.JSON["telephone"] != "+1 555 0199" {
				t.Errorf("update: %s", r.Body)
			}
		})
		t.Run("OK/ChangeField", func(t *testing.T) {
			r := update(t, map[string]any{"externalId": "ext-10"})
			wantStatus(t, r, http.StatusOK)
			if r.JSON["externalId"] != "ext-10" {
				t.Errorf("externalId = %#v", r.JSON["externalId"])
			}
		})
		snapshot := func(t *testing.T) string {
			c := current(t)
			return fmt.Sprint(c)
		}
		before := snapshot(t)
		errs := []struct {
			name  string
			body  any
			param string
		}{
			{"ErrTypeChange", map[string]any{"type": "company", "companyDetails": map[string]any{"name": "X"}}, "type"},
			{"ErrTypeInvalid", map[string]any{"type": "robot"}, "type"},
			{"ErrClearEmail", map[string]any{"email": ""}, "email"},
			{"ErrEmailInvalid", map[string]any{"email": "nope"}, "email"},
			{"ErrClearFirstName", map[string]any{"personDetails": map[string]any{"firstName": ""}}, "personDetails.firstName"},
			{"ErrClearLastName", map[string]any{"personDetails": map[string]any{"lastName": ""}}, "personDetails.lastName"},
			{"ErrDOB", map[string]any{"personDetails": map[string]any{"dob": "1990-02-30"}}, "personDetails.dob"},
			{"ErrGender", map[string]any{"personDetails": map[string]any{"gender": "unknown"}}, "personDetails.gender"},
			{"ErrNationality", map[string]any{"personDetails": map[string]any{"nationality": "gbr"}}, "personDetails.nationality"},
			{"ErrJoinedDate", map[string]any{"joinedDate": "2024/01/01"}, "joinedDate"},
			{"ErrMetadataArray", map[string]any{"metadata": []any{"x"}}, "metadata"},
			{"ErrMetadataNumber", map[string]any{"metadata": map[string]any{"n": 5}}, "metadata"},
			{"ErrMetadataValue501", map[string]any{"metadata": map[string]any{"long": strings.Repeat("x", 501)}}, "metadata"},
			{"ErrMetadataKey41", map[string]any{"metadata": map[string]any{strings.Repeat("x", 41): "v"}}, "metadata"},
			{"ErrMetadataMergedOver50", func() map[string]any {
				md := map[string]any{}
				for i := range 48 { // 3 keys exist already: 51 in all
					md[fmt.Sprintf("m%02d", i)] = "v"
				}
				return map[string]any{"metadata": md}
			}(), "metadata"},
			{"ErrPersonDetailsString", map[string]any{"personDetails": "Jane"}, "personDetails"},
			{"ErrValidThenInvalid", map[string]any{"mobile": "+1 555 0142", "personDetails": map[string]any{"gender": "?"}}, "personDetails.gender"},
		}
		for _, e := range errs {
			t.Run(e.name, func(t *testing.T) {
				r := update(t, e.body, invalid(e.name)...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "", e.param)
				if got := snapshot(t); got != before {
					t.Errorf("a refused update changed the client:\nbefore %s\nafter  %s", before, got)
				}
			})
		}
		t.Run("ErrBadJSON", func(t *testing.T) {
			wantError(t, env.do(t, "POST", path, env.KeyA, `{"mobile":`, invalid("not JSON")...), http.StatusBadRequest, "invalid_request", "", "")
		})
		t.Run("ErrUnknownID", func(t *testing.T) {
			u := unknownID()
			r := env.do(t, "POST", "/v1/clients/"+u, env.KeyA, map[string]any{"mobile": "1"})
			wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+u+"'", "")
		})
		t.Run("OK/Company", func(t *testing.T) {
			c := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "company", "email": "co@example.com", "companyDetails": map[string]any{"name": "Old Name", "website": "https://old.example"}})
			wantStatus(t, c, http.StatusOK)
			r := env.do(t, "POST", "/v1/clients/"+str(t, c.JSON, "id"), env.KeyA, map[string]any{"companyDetails": map[string]any{"name": "New Name"}})
			wantStatus(t, r, http.StatusOK)
			cd := r.JSON["companyDetails"].(map[string]any)
			if cd["name"] != "New Name" || cd["website"] != "https://old.example" || r.JSON["entityName"] != "New Name" {
				t.Errorf("company update: %s", r.Body)
			}
			r = env.do(t, "POST", "/v1/clients/"+str(t, c.JSON, "id"), env.KeyA, map[string]any{"type": "person",
				"personDetails": map[string]any{"firstName": "A", "lastName": "B"}})
			wantError(t, r, http.StatusBadRequest, "invalid_request", "", "type")
		})
	})
}
