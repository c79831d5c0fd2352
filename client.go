package facevault

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on client attributes.
const (
	MaxMetadataKeys     = 50
	MaxMetadataKeyLen   = 40
	MaxMetadataValueLen = 500
	maxFieldLen         = 255
	maxEmailLen         = 254
)

// ClientPatch is a create or partial update request for a client. A nil
// field is left as it is; an empty string clears an optional field. Nested
// objects are merged field by field; metadata keys are merged one by one.
type ClientPatch struct {
	Type           *string              `json:"type"`
	Email          *string              `json:"email"`
	Mobile         *string              `json:"mobile"`
	Telephone      *string              `json:"telephone"`
	ExternalID     *string              `json:"externalId"`
	JoinedDate     *string              `json:"joinedDate"`
	PersonDetails  *PersonDetailsPatch  `json:"personDetails"`
	CompanyDetails *CompanyDetailsPatch `json:"companyDetails"`
	Metadata       map[string]*string   `json:"metadata"`
	Retention      *RetentionPatch      `json:"retention"`
}

// PersonDetailsPatch is the personDetails part of a ClientPatch.
type PersonDetailsPatch struct {
	FirstName               *string `json:"firstName"`
	MiddleName              *string `json:"middleName"`
	LastName                *string `json:"lastName"`
	DOB                     *string `json:"dob"`
	Gender                  *string `json:"gender"`
	Nationality             *string `json:"nationality"`
	BirthCountry            *string `json:"birthCountry"`
	SSN                     *string `json:"ssn"`
	SocialInsuranceNumber   *string `json:"socialInsuranceNumber"`
	NationalIdentityNumber  *string `json:"nationalIdentityNumber"`
	TaxIdentificationNumber *string `json:"taxIdentificationNumber"`
}

// CompanyDetailsPatch is the companyDetails part of a ClientPatch.
type CompanyDetailsPatch struct {
	Name                 *string `json:"name"`
	Website              *string `json:"website"`
	RegistrationNumber   *string `json:"registrationNumber"`
	IncorporationCountry *string `json:"incorporationCountry"`
	IncorporationType    *string `json:"incorporationType"`
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = strings.TrimSpace(*v)
	}
}

// NewClient builds and validates a client from a create request.
func NewClient(p *ClientPatch, now time.Time) (*Client, error) {
	if p.Type == nil || *p.Type == "" {
		return nil, Invalid("type", "'type' is required and must be 'person' or 'company'")
	}
	c := &Client{ID: NewID(now), Type: *p.Type, CreatedAt: now, UpdatedAt: now}
	if err := p.Apply(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply merges the patch into c and validates the result. The type of a
// client cannot change. On error c may be partly modified: callers apply
// patches inside a transaction that the error rolls back.
func (p *ClientPatch) Apply(c *Client) error {
	if p.Type != nil && *p.Type != c.Type {
		return Invalid("type", "The client 'type' cannot be changed")
	}
	set(&c.Email, p.Email)
	set(&c.Mobile, p.Mobile)
	set(&c.Telephone, p.Telephone)
	set(&c.ExternalID, p.ExternalID)
	set(&c.JoinedDate, p.JoinedDate)
	if d := p.PersonDetails; d != nil {
		if c.PersonDetails == nil {
			c.PersonDetails = &PersonDetails{}
		}
		pd := c.PersonDetails
		set(&pd.FirstName, d.FirstName)
		set(&pd.MiddleName, d.MiddleName)
		set(&pd.LastName, d.LastName)
		set(&pd.DOB, d.DOB)
		set(&pd.Gender, d.Gender)
		set(&pd.Nationality, d.Nationality)
		set(&pd.BirthCountry, d.BirthCountry)
		set(&pd.SSN, d.SSN)
		set(&pd.SocialInsuranceNumber, d.SocialInsuranceNumber)
		set(&pd.NationalIdentityNumber, d.NationalIdentityNumber)
		set(&pd.TaxIdentificationNumber, d.TaxIdentificationNumber)
	}
	if d := p.CompanyDetails; d != nil {
		if c.CompanyDetails == nil {
			c.CompanyDetails = &CompanyDetails{}
		}
		cd := c.CompanyDetails
		set(&cd.Name, d.Name)
		set(&cd.Website, d.Website)
		set(&cd.RegistrationNumber, d.RegistrationNumber)
		set(&cd.IncorporationCountry, d.IncorporationCountry)
		set(&cd.IncorporationType, d.IncorporationType)
	}
	if p.Metadata != nil {
		if c.Metadata == nil {
			c.Metadata = make(map[string]string, len(p.Metadata))
		}
		for k, v := range p.Metadata {
			if v == nil {
				return Invalid("metadata", "Metadata value of '%s' must be a string", Clip(k))
			}
			c.Metadata[k] = *v
		}
	}
	if p.Retention != nil {
		if err := p.Retention.apply(c); err != nil {
			return err
		}
	}
	return c.Validate()
}

// Validate checks a client against the contract's rules and returns an
// *Error naming the first field at fault.
func (c *Client) Validate() error {
	switch c.Type {
	case ClientPerson, ClientCompany:
	default:
		return Invalid("type", "'type' must be 'person' or 'company'")
	}
	if c.Email == "" {
		return Invalid("email", "'email' is required")
	}
	if len(c.Email) > maxEmailLen || !validEmail(c.Email) {
		return Invalid("email", "'email' must be a valid email address")
	}
	for _, f := range []struct{ param, v string }{
		{"mobile", c.Mobile}, {"telephone", c.Telephone}, {"externalId", c.ExternalID},
	} {
		if err := checkText(f.param, f.v); err != nil {
			return err
		}
	}
	if c.JoinedDate != "" && !validDate(c.JoinedDate) {
		return Invalid("joinedDate", "'joinedDate' must be a date in the format YYYY-MM-DD")
	}
	switch c.Type {
	case ClientPerson:
		if c.PersonDetails == nil {
			return Invalid("personDetails", "'personDetails' must be provided when client type is `person`")
		}
		if err := c.PersonDetails.validate(); err != nil {
			return err
		}
	case ClientCompany:
		if c.CompanyDetails == nil {
			return Invalid("companyDetails", "'companyDetails' must be provided when client type is `company`")
		}
		if err := c.CompanyDetails.validate(); err != nil {
			return err
		}
	}
	// Details of the other type are accepted for compatibility but must
	// still be well formed.
	if c.Type == ClientCompany && c.PersonDetails != nil {
		if err := c.PersonDetails.validateFields(); err != nil {
			return err
		}
	}
	if c.Type == ClientPerson && c.CompanyDetails != nil {
		if err := c.CompanyDetails.validateFields(); err != nil {
			return err
		}
	}
	return validateMetadata(c.Metadata)
}

func (d *PersonDetails) validate() error {
	if d.FirstName == "" {
		return Invalid("personDetails.firstName", "'personDetails.firstName' is required")
	}
	if d.LastName == "" {
		return Invalid("personDetails.lastName", "'personDetails.lastName' is required")
	}
	return d.validateFields()
}

func (d *PersonDetails) validateFields() error {
	for _, f := range []struct{ param, v string }{
		{"personDetails.firstName", d.FirstName}, {"personDetails.middleName", d.MiddleName},
		{"personDetails.lastName", d.LastName}, {"personDetails.ssn", d.SSN},
		{"personDetails.socialInsuranceNumber", d.SocialInsuranceNumber},
		{"personDetails.nationalIdentityNumber", d.NationalIdentityNumber},
		{"personDetails.taxIdentificationNumber", d.TaxIdentificationNumber},
	} {
		if err := checkText(f.param, f.v); err != nil {
			return err
		}
	}
	if d.DOB != "" && !validDate(d.DOB) {
		return Invalid("personDetails.dob", "'personDetails.dob' must be a date in the format YYYY-MM-DD")
	}
	switch d.Gender {
	case "", "male", "female", "other":
	default:
		return Invalid("personDetails.gender", "'personDetails.gender' must be 'male', 'female' or 'other'")
	}
	if d.Nationality != "" && !validCountry(d.Nationality) {
		return Invalid("personDetails.nationality", "'personDetails.nationality' must be an ISO 3166-1 alpha-2 country code")
	}
	if d.BirthCountry != "" && !validCountry(d.BirthCountry) {
		return Invalid("personDetails.birthCountry", "'personDetails.birthCountry' must be an ISO 3166-1 alpha-2 country code")
	}
	return nil
}

func (d *CompanyDetails) validate() error {
	if d.Name == "" {
		return Invalid("companyDetails.name", "'companyDetails.name' is required")
	}
	return d.validateFields()
}

func (d *CompanyDetails) validateFields() error {
	for _, f := range []struct{ param, v string }{
		{"companyDetails.name", d.Name}, {"companyDetails.website", d.Website},
		{"companyDetails.registrationNumber", d.RegistrationNumber},
		{"companyDetails.incorporationType", d.IncorporationType},
	} {
		if err := checkText(f.param, f.v); err != nil {
			return err
		}
	}
	if d.IncorporationCountry != "" && !validCountry(d.IncorporationCountry) {
		return Invalid("companyDetails.incorporationCountry", "'companyDetails.incorporationCountry' must be an ISO 3166-1 alpha-2 country code")
	}
	return nil
}

func validateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return Invalid("metadata", "'metadata' can have at most %d keys", MaxMetadataKeys)
	}
	for k, v := range m {
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLen {
			return Invalid("metadata", "Metadata keys must be 1 to %d characters long", MaxMetadataKeyLen)
		}
		// Keys are filterable as metadata.<key> query parameters; a key
		// no filter could name is refused rather than stored.
		if strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
			return Invalid("metadata", "Metadata key %q must not contain quotes, backslashes or control characters", k)
		}
		if utf8.RuneCountInString(v) > MaxMetadataValueLen {
			return Invalid("metadata", "Metadata value of '%s' must be at most %d characters long", k, MaxMetadataValueLen)
		}
		if strings.ContainsRune(v, 0) {
			return Invalid("metadata", "Metadata value of '%s' must not contain NUL characters", k)
		}
	}
	return nil
}

func checkText(param, v string) error {
	if utf8.RuneCountInString(v) > maxFieldLen {
		return Invalid(param, "'%s' must be at most %d characters long", param, maxFieldLen)
	}
	if strings.ContainsRune(v, 0) {
		return Invalid(param, "'%s' must not contain NUL characters", param)
	}
	return nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == len(time.DateOnly)
}

func validCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
