package facevault_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func ptr(s string) *string { return &s }

func person() *facevault.ClientPatch {
	return &facevault.ClientPatch{
		Type:  ptr("person"),
		Email: ptr("jo@example.com"),
		PersonDetails: &facevault.PersonDetailsPatch{
			FirstName: ptr("Jo"),
			LastName:  ptr("Doe"),
		},
	}
}

func company() *facevault.ClientPatch {
	return &facevault.ClientPatch{
		Type:           ptr("company"),
		Email:          ptr("info@acme.example"),
		CompanyDetails: &facevault.CompanyDetailsPatch{Name: ptr("Acme Ltd")},
	}
}

func metadata(n, keyLen, valLen int) map[string]*string {
	m := map[string]*string{}
	for i := 0; i < n; i++ {
		k := strings.Repeat("k", keyLen-3) + string(rune('a'+i/26%26)) + string(rune('a'+i%26)) + "x"
		m[k[:keyLen]] = ptr(strings.Repeat("v", valLen))
	}
	return m
}

func TestNewClient(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	tests := []struct {
		name   string
		mutate func(p *facevault.ClientPatch)
		base   func() *facevault.ClientPatch
		param  string // "" for success
	}{
		{"OK/Person", func(p *facevault.ClientPatch) {}, person, ""},
		{"OK/Company", func(p *facevault.ClientPatch) {}, company, ""},
		{"OK/FullPerson", func(p *facevault.ClientPatch) {
			d := p.PersonDetails
			d.MiddleName, d.DOB, d.Gender, d.Nationality, d.BirthCountry = ptr("Q"), ptr("1990-02-28"), ptr("female"), ptr("GB"), ptr("FR")
			p.JoinedDate, p.Mobile, p.ExternalID = ptr("2020-01-01"), ptr("+44 7700 900000"), ptr("ext-1")
		}, person, ""},
		{"OK/MetadataAtLimits", func(p *facevault.ClientPatch) { p.Metadata = metadata(50, 40, 500) }, person, ""},
		{"OK/CompanyWithPersonDetails", func(p *facevault.ClientPatch) {
			p.PersonDetails = &facevault.PersonDetailsPatch{FirstName: ptr("Jo")}
		}, company, ""},
		{"ErrTypeMissing", func(p *facevault.ClientPatch) { p.Type = nil }, person, "type"},
		{"ErrTypeEmpty", func(p *facevault.ClientPatch) { p.Type = ptr("") }, person, "type"},
		{"ErrTypeInvalid", func(p *facevault.ClientPatch) { p.Type = ptr("robot") }, person, "type"},
		{"ErrEmailMissing", func(p *facevault.ClientPatch) { p.Email = nil }, person, "email"},
		{"ErrEmailBlank", func(p *facevault.ClientPatch) { p.Email = ptr("   ") }, person, "email"},
		{"ErrEmailInvalid", func(p *facevault.ClientPatch) { p.Email = ptr("not-an-email") }, person, "email"},
		{"ErrEmailWithName", func(p *facevault.ClientPatch) { p.Email = ptr("Jo <jo@example.com>") }, person, "email"},
		{"ErrPersonDetailsMissing", func(p *facevault.ClientPatch) { p.PersonDetails = nil }, person, "personDetails"},
		{"ErrFirstNameMissing", func(p *facevault.ClientPatch) { p.PersonDetails.FirstName = nil }, person, "personDetails.firstName"},
		{"ErrLastNameMissing", func(p *facevault.ClientPatch) { p.PersonDetails.LastName = ptr("") }, person, "personDetails.lastName"},
		{"ErrFirstNameTooLong", func(p *facevault.ClientPatch) { p.PersonDetails.FirstName = ptr(strings.Repeat("a", 256)) }, person, "personDetails.firstName"},
		{"ErrDOB", func(p *facevault.ClientPatch) { p.PersonDetails.DOB = ptr("1990-02-30") }, person, "personDetails.dob"},
		{"ErrDOBFormat", func(p *facevault.ClientPatch) { p.PersonDetails.DOB = ptr("02/01/1990") }, person, "personDetails.dob"},
		{"ErrGender", func(p *facevault.ClientPatch) { p.PersonDetails.Gender = ptr("m") }, person, "personDetails.gender"},
		{"ErrNationality", func(p *facevault.ClientPatch) { p.PersonDetails.Nationality = ptr("GBR") }, person, "personDetails.nationality"},
		{"ErrBirthCountry", func(p *facevault.ClientPatch) { p.PersonDetails.BirthCountry = ptr("gb") }, person, "personDetails.birthCountry"},
		{"ErrJoinedDate", func(p *facevault.ClientPatch) { p.JoinedDate = ptr("2020-13-01") }, person, "joinedDate"},
		{"ErrMobileTooLong", func(p *facevault.ClientPatch) { p.Mobile = ptr(strings.Repeat("1", 256)) }, person, "mobile"},
		{"ErrCompanyDetailsMissing", func(p *facevault.ClientPatch) { p.CompanyDetails = nil }, company, "companyDetails"},
		{"ErrCompanyNameMissing", func(p *facevault.ClientPatch) { p.CompanyDetails.Name = ptr("") }, company, "companyDetails.name"},
		{"ErrIncorporationCountry", func(p *facevault.ClientPatch) {
			p.CompanyDetails.IncorporationCountry = ptr("United Kingdom")
		}, company, "companyDetails.incorporationCountry"},
		{"ErrMetadataTooManyKeys", func(p *facevault.ClientPatch) { p.Metadata = metadata(51, 10, 1) }, person, "metadata"},
		{"ErrMetadataKeyTooLong", func(p *facevault.ClientPatch) { p.Metadata = metadata(1, 41, 1) }, person, "metadata"},
		{"ErrMetadataValueTooLong", func(p *facevault.ClientPatch) { p.Metadata = metadata(1, 5, 501) }, person, "metadata"},
		{"ErrMetadataNullValue", func(p *facevault.ClientPatch) { p.Metadata = map[string]*string{"a": nil} }, person, "metadata"},
		{"ErrMetadataEmptyKey", func(p *facevault.ClientPatch) { p.Metadata = map[string]*string{"": ptr("x")} }, person, "metadata"},
		{"ErrMetadataQuoteInKey", func(p *facevault.ClientPatch) { p.Metadata = map[string]*string{`a"b`: ptr("x")} }, person, "metadata"},
		{"ErrNULInName", func(p *facevault.ClientPatch) { p.PersonDetails.FirstName = ptr("Jo\x00") }, person, "personDetails.firstName"},
		{"ErrNULInMetadata", func(p *facevault.ClientPatch) { p.Metadata = map[string]*string{"a": ptr("x\x00y")} }, person, "metadata"},
		{"ErrMetadataControlInKey", func(p *facevault.ClientPatch) { p.Metadata = map[string]*string{"a\nb": ptr("x")} }, person, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.base()
			tt.mutate(p)
			c, err := facevault.NewClient(p, now)
			if tt.param == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if !facevault.ValidID(c.ID) || !c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
					t.Errorf("got id %q created %v updated %v", c.ID, c.CreatedAt, c.UpdatedAt)
				}
				return
			}
			var e *facevault.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *facevault.Error", err)
			}
			if e.Code != facevault.EInvalid || e.Param != tt.param || e.Message == "" {
				t.Errorf("got code %q param %q message %q, want invalid_request param %q", e.Code, e.Param, e.Message, tt.param)
			}
		})
	}
}

func TestPersonDetailsMissingMessage(t *testing.T) {
	p := person()
	p.PersonDetails = nil
	_, err := facevault.NewClient(p, time.Now())
	want := "'personDetails' must be provided when client type is `person`"
	if e, ok := err.(*facevault.Error); !ok || e.Message != want {
		t.Errorf("got %v, want message %q", err, want)
	}
}

func TestClientPatchApply(t *testing.T) {
	now := time.Now()
	p := person()
	p.PersonDetails.MiddleName = ptr("Q")
	p.Mobile = ptr("123")
	p.Metadata = map[string]*string{"a": ptr("1"), "b": ptr("2")}
	c, err := facevault.NewClient(p, now)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK/MergesNested", func(t *testing.T) {
		c := *c
		pd := *c.PersonDetails
		c.PersonDetails = &pd
		c.Metadata = map[string]string{"a": "1", "b": "2"}
		patch := &facevault.ClientPatch{
			PersonDetails: &facevault.PersonDetailsPatch{LastName: ptr("Smith")},
			Metadata:      map[string]*string{"b": ptr("3"), "c": ptr("4")},
			Mobile:        ptr(""),
		}
		if err := patch.Apply(&c); err != nil {
			t.Fatal(err)
		}
		if got := c.PersonDetails; got.FirstName != "Jo" || got.MiddleName != "Q" || got.LastName != "Smith" {
			t.Errorf("got person details %+v, want Jo Q Smith", got)
		}
		if got := c.Metadata; len(got) != 3 || got["a"] != "1" || got["b"] != "3" || got["c"] != "4" {
			t.Errorf("got metadata %v", got)
		}
		if c.Mobile != "" {
			t.Errorf("got mobile %q, want it cleared", c.Mobile)
		}
		if got, want := c.EntityName(), "Jo Smith"; got != want {
			t.Errorf("got entity name %q, want %q", got, want)
		}
	})
	t.Run("ErrTypeChange", func(t *testing.T) {
		c := *c
		err := (&facevault.ClientPatch{Type: ptr("company")}).Apply(&c)
		if e, ok := err.(*facevault.Error); !ok || e.Param != "type" {
			t.Errorf("got %v, want invalid_request param type", err)
		}
	})
	t.Run("OK/SameType", func(t *testing.T) {
		c := *c
		if err := (&facevault.ClientPatch{Type: ptr("person")}).Apply(&c); err != nil {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ErrClearRequired", func(t *testing.T) {
		c := *c
		pd := *c.PersonDetails
		c.PersonDetails = &pd
		err := (&facevault.ClientPatch{PersonDetails: &facevault.PersonDetailsPatch{FirstName: ptr("")}}).Apply(&c)
		if e, ok := err.(*facevault.Error); !ok || e.Param != "personDetails.firstName" {
			t.Errorf("got %v, want param personDetails.firstName", err)
		}
	})
}

func TestEntityName(t *testing.T) {
	tests := []struct {
		c    facevault.Client
		want string
	}{
		{facevault.Client{Type: "person", PersonDetails: &facevault.PersonDetails{FirstName: "Jo", MiddleName: "Q", LastName: "Doe"}}, "Jo Doe"},
		{facevault.Client{Type: "person", PersonDetails: &facevault.PersonDetails{LastName: "Doe"}}, "Doe"},
		{facevault.Client{Type: "company", CompanyDetails: &facevault.CompanyDetails{Name: "Acme"}}, "Acme"},
		{facevault.Client{Type: "company", PersonDetails: &facevault.PersonDetails{FirstName: "Jo"}}, ""},
	}
	for _, tt := range tests {
		if got := tt.c.EntityName(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.c, got, tt.want)
		}
	}
}
