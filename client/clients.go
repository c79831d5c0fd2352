package client

import (
	"context"
	"iter"
	"net/url"
	"sort"
	"time"
)

// Client types.
const (
	ClientPerson  = "person"
	ClientCompany = "company"
)

// ClientRecord is a client of the service (docs/contract.md, section 5): a
// person or company whose live photos are kept. (The Go type is not named
// Client, which is this package's API client.)
type ClientRecord struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// EntityName is derived by the service: "first last" of a person, the
	// name of a company.
	EntityName     string            `json:"entityName,omitempty"`
	Email          string            `json:"email,omitempty"`
	Mobile         string            `json:"mobile,omitempty"`
	Telephone      string            `json:"telephone,omitempty"`
	ExternalID     string            `json:"externalId,omitempty"`
	JoinedDate     string            `json:"joinedDate,omitempty"`
	PersonDetails  *PersonDetails    `json:"personDetails,omitempty"`
	CompanyDetails *CompanyDetails   `json:"companyDetails,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	// Retention is the client's retention rule and legal hold; nil when
	// none is set.
	Retention *Retention `json:"retention,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// PersonDetails describes a client of type person.
type PersonDetails struct {
	FirstName               string `json:"firstName,omitempty"`
	MiddleName              string `json:"middleName,omitempty"`
	LastName                string `json:"lastName,omitempty"`
	DOB                     string `json:"dob,omitempty"`
	Gender                  string `json:"gender,omitempty"`
	Nationality             string `json:"nationality,omitempty"`
	BirthCountry            string `json:"birthCountry,omitempty"`
	SSN                     string `json:"ssn,omitempty"`
	SocialInsuranceNumber   string `json:"socialInsuranceNumber,omitempty"`
	NationalIdentityNumber  string `json:"nationalIdentityNumber,omitempty"`
	TaxIdentificationNumber string `json:"taxIdentificationNumber,omitempty"`
}

// CompanyDetails describes a client of type company.
type CompanyDetails struct {
	Name                 string `json:"name,omitempty"`
	Website              string `json:"website,omitempty"`
	RegistrationNumber   string `json:"registrationNumber,omitempty"`
	IncorporationCountry string `json:"incorporationCountry,omitempty"`
	IncorporationType    string `json:"incorporationType,omitempty"`
}

// Retention is a client's retention rule and legal hold (section 8).
type Retention struct {
	// Days, when positive, deletes each of the client's photos that many
	// days after its upload, in place of the account's default.
	Days int `json:"days,omitempty"`
	// RetainUntil, when set (RFC 3339), deletes every photo of the client
	// at that time.
	RetainUntil string `json:"retainUntil,omitempty"`
	// LegalHold suspends every deletion of the client and its photos.
	LegalHold bool `json:"legalHold,omitempty"`
}

// ClientParams are the fields of a client to create, or to change in an
// update. Empty fields are not sent: an update leaves them as they are.
// Create needs Type and Email, and PersonDetails.FirstName and LastName for
// a person or CompanyDetails.Name for a company.
type ClientParams struct {
	Type           string          `json:"type,omitempty"`
	Email          string          `json:"email,omitempty"`
	Mobile         string          `json:"mobile,omitempty"`
	Telephone      string          `json:"telephone,omitempty"`
	ExternalID     string          `json:"externalId,omitempty"`
	JoinedDate     string          `json:"joinedDate,omitempty"`
	PersonDetails  *PersonDetails  `json:"personDetails,omitempty"`
	CompanyDetails *CompanyDetails `json:"companyDetails,omitempty"`
	// Metadata: at most 50 keys of up to 40 characters, values of up to
	// 500. An update merges it into the client's.
	Metadata  map[string]string `json:"metadata,omitempty"`
	Retention *RetentionParams  `json:"retention,omitempty"`
}

// RetentionParams change a client's retention; nil fields are left as they
// are. Days 0 and RetainUntil "" clear theirs.
type RetentionParams struct {
	Days        *int    `json:"days,omitempty"`
	RetainUntil *string `json:"retainUntil,omitempty"`
	LegalHold   *bool   `json:"legalHold,omitempty"`
}

// ClientFilter selects clients in a list: each non-empty field must equal
// the client's, all together.
type ClientFilter struct {
	ListOptions
	Type       string
	Email      string
	ExternalID string
	// Details filters on personDetails and companyDetails fields by their
	// dotted names, such as "personDetails.lastName".
	Details map[string]string
	// Metadata filters on metadata values by key.
	Metadata map[string]string
}

func (f *ClientFilter) values() url.Values {
	if f == nil {
		return url.Values{}
	}
	q := f.ListOptions.values()
	setIf(q, "type", f.Type)
	setIf(q, "email", f.Email)
	setIf(q, "externalId", f.ExternalID)
	for _, k := range sortedKeys(f.Details) {
		q.Set(k, f.Details[k])
	}
	for _, k := range sortedKeys(f.Metadata) {
		q.Set("metadata."+k, f.Metadata[k])
	}
	return q
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (f *ClientFilter) options() ListOptions {
	if f == nil {
		return ListOptions{}
	}
	return f.ListOptions
}

// CreateClient creates a client. 400 with Param naming the field if a
// field is missing or invalid.
func (c *Client) CreateClient(ctx context.Context, p *ClientParams, opts ...CallOption) (*ClientRecord, error) {
	var out ClientRecord
	if err := c.postJSON(ctx, "/clients", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetClient returns a client, or a 404 *Error.
func (c *Client) GetClient(ctx context.Context, id string) (*ClientRecord, error) {
	var out ClientRecord
	if err := c.getJSON(ctx, "/clients/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateClient changes the fields p sets (nested objects are merged; the
// type cannot change) and returns the client as it then is.
func (c *Client) UpdateClient(ctx context.Context, id string, p *ClientParams, opts ...CallOption) (*ClientRecord, error) {
	var out ClientRecord
	if err := c.postJSON(ctx, "/clients/"+pathEscape(id), p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteClient deletes a client with its live photos and checks; 409
// TypeLegalHold while it is under legal hold.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.del(ctx, "/clients/"+pathEscape(id))
}

// ListClients returns one page of the clients f selects (nil: all), newest
// first.
func (c *Client) ListClients(ctx context.Context, f *ClientFilter) (*Page[ClientRecord], error) {
	return listPage[ClientRecord](ctx, c, "/clients", f.values())
}

// Clients yields every client f selects (nil: all), newest first, fetching
// the pages as the loop reaches them. A failure is yielded with a nil
// client and ends the sequence.
func (c *Client) Clients(ctx context.Context, f *ClientFilter) iter.Seq2[*ClientRecord, error] {
	o := f.options()
	return all[ClientRecord](ctx, c, "/clients", f.values(), o.Page, o.PageSize)
}
