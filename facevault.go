// Package facevault holds FaceVault's domain: the types every part of the
// service shares (accounts, API keys, clients, live photos), the errors it
// reports, and the small interfaces that storage back ends implement.
//
// The package imports no drivers. Storage lives in one package per
// dependency (sqlite, fsblob), the wire protocol in http, and cmd/facevault
// wires them together.
package facevault

import (
	"time"
)

// Mode is the environment an API key belongs to. All data is partitioned by
// (account, mode): an object made with a test key does not exist for a live
// key of the same account.
type Mode string

// The two modes.
const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// Valid reports whether m is one of the two modes.
func (m Mode) Valid() bool { return m == ModeTest || m == ModeLive }

// Scope is the tenant partition a request acts in: one account, one mode.
// Every store method that touches tenant data takes one.
type Scope struct {
	AccountID string
	Mode      Mode
}

// Account owns API keys and, through them, all tenant data.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// APIKey is a stored API key. The secret itself is never stored: only its
// SHA-256 hash, and a short hint (prefix of the key) to recognise it by.
type APIKey struct {
	ID          string
	AccountID   string
	AccountName string
	Mode        Mode
	Hint        string
	Hash        []byte
	CreatedAt   time.Time
	RevokedAt   time.Time // zero while the key is active
}

// Client types.
const (
	ClientPerson  = "person"
	ClientCompany = "company"
)

// Client is the person or company that live photos belong to. Its JSON
// form, every attribute but the ID and timestamps spelled as on the wire, is
// how stores keep it; omitzero keeps nil and empty apart, so a client reads
// back exactly as it was written.
type Client struct {
	ID             string            `json:"-"`
	Type           string            `json:"type,omitzero"`
	Email          string            `json:"email,omitzero"`
	Mobile         string            `json:"mobile,omitzero"`
	Telephone      string            `json:"telephone,omitzero"`
	ExternalID     string            `json:"externalId,omitzero"`
	JoinedDate     string            `json:"joinedDate,omitzero"` // YYYY-MM-DD
	PersonDetails  *PersonDetails    `json:"personDetails,omitzero"`
	CompanyDetails *CompanyDetails   `json:"companyDetails,omitzero"`
	Metadata       map[string]string `json:"metadata,omitzero"`
	Retention      *Retention        `json:"retention,omitzero"`
	CreatedAt      time.Time         `json:"-"`
	UpdatedAt      time.Time         `json:"-"`
}

// EntityName is the client's display name: "first last" for a person, the
// company name for a company.
func (c *Client) EntityName() string {
	switch {
	case c.Type == ClientPerson && c.PersonDetails != nil:
		name := c.PersonDetails.FirstName
		if c.PersonDetails.LastName != "" {
			if name != "" {
				name += " "
			}
			name += c.PersonDetails.LastName
		}
		return name
	case c.Type == ClientCompany && c.CompanyDetails != nil:
		return c.CompanyDetails.Name
	}
	return ""
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

// Content types of stored live photos, spelled as ComplyCube's API spells
// them on the wire.
const (
	ContentTypeJPEG = "images/jpg"
	ContentTypePNG  = "images/png"
)

// LivePhoto is the record of one uploaded selfie. The image bytes live in a
// BlobStore under the photo's ID; the record never holds them.
type LivePhoto struct {
	ID                   string
	ClientID             string
	ContentType          string
	Size                 int64 // bytes of the decoded image
	Width, Height        int
	SHA256               string // hex digest of the stored bytes; empty once redacted
	PerformLivenessCheck bool
	// LivenessCheck is the result of the liveness check run at upload; nil
	// when PerformLivenessCheck was false, and once its key is destroyed.
	LivenessCheck *LivenessCheck
	// SealedLivenessCheck is the liveness check sealed under the photo's
	// data key, as record stores keep it (see LivenessColumn): the Vault
	// seals it before storing and opens it after reading.
	SealedLivenessCheck []byte
	// SealedEmbedding is the face embedding computed at upload when the
	// liveness check found exactly one face, sealed under the photo's data
	// key; nil when none was computed, and once the photo is redacted. It
	// is never shown through the API.
	SealedEmbedding []byte
	// Enrolled says the photo counts as one of its client's faces for the
	// checks that compare faces: true unless the upload said enrol false,
	// false once redacted.
	Enrolled bool
	// LivenessOutcome and LivenessReasons are what the record store keeps
	// of the liveness check in the clear, for the review queue to filter
	// on: the outcome, and the reason codes of the analyses that say
	// attention (see LivenessReasons). No figure, no face position. Both
	// are empty without a check, and once the photo is redacted.
	LivenessOutcome string
	LivenessReasons []string
	// Review is a reviewer's mark on the photo; nil until one is made.
	Review     *Review
	RedactedAt time.Time // zero unless redacted
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Redacted reports whether the photo's image bytes have been destroyed.
func (p *LivePhoto) Redacted() bool { return !p.RedactedAt.IsZero() }

// Extension is the file extension matching the photo's content type.
func (p *LivePhoto) Extension() string {
	if p.ContentType == ContentTypePNG {
		return "png"
	}
	return "jpg"
}
