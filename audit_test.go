package facevault_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// sampleEntry is an entry with every field set.
func sampleEntry() *facevault.AuditEntry {
	return &facevault.AuditEntry{
		ID: "6b05e99c0b8a1e2f4c5d6e7f", AccountID: "6b05e90a77c1d2e3f4a5b6c8", Mode: facevault.ModeLive,
		KeyID: "6b05e90a77c1d2e3f4a5b6c7", Trigger: "updateClient", Action: facevault.ActionUpdate,
		ResourceType: facevault.AuditClient, ResourceID: "6b05e94e8876735d0bd72139", ClientID: "6b05e94e8876735d0bd72139",
		Outcome: facevault.OutcomeSuccess, Status: 200, RequestID: "6b05e99c41f2a0b1c2d3e4f5", Source: "10.0.3.7",
		Diff:  &facevault.AuditDiff{Action: facevault.ActionUpdate, Path: []string{"email"}},
		Count: 1, CreatedAt: time.Date(2026, 11, 24, 19, 46, 2, 117_000_000, time.UTC),
		Seq: 42, PrevHash: strings.Repeat("9f", 32),
	}
}

// TestComputeHash: the hash is the one docs/contract.md section 7 defines
// (pinned, so that a change to the encoding cannot go unnoticed: it would
// break every chain already stored), and every field goes into it.
func TestComputeHash(t *testing.T) {
	e := sampleEntry()
	got, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	// Computed independently, from the encoding docs/contract.md gives.
	const want = "a12289438c9b9f255822049c6e7e74a2d81d0f073b22a4d31fd94b0af3ce0846"
	if got != want {
		t.Errorf("ComputeHash = %s, want %s", got, want)
	}
	for name, change := range map[string]func(e *facevault.AuditEntry){
		"ID":           func(e *facevault.AuditEntry) { e.ID = "6b05e99c0b8a1e2f4c5d6e7e" },
		"AccountID":    func(e *facevault.AuditEntry) { e.AccountID += "x" },
		"Mode":         func(e *facevault.AuditEntry) { e.Mode = facevault.ModeTest },
		"KeyID":        func(e *facevault.AuditEntry) { e.KeyID = "" },
		"Trigger":      func(e *facevault.AuditEntry) { e.Trigger = "getClient" },
		"Action":       func(e *facevault.AuditEntry) { e.Action = facevault.ActionRead },
		"ResourceType": func(e *facevault.AuditEntry) { e.ResourceType = facevault.AuditLivePhoto },
		"ResourceID":   func(e *facevault.AuditEntry) { e.ResourceID = "" },
		"ClientID":     func(e *facevault.AuditEntry) { e.ClientID = "" },
		"Outcome":      func(e *facevault.AuditEntry) { e.Outcome = facevault.OutcomeFailure },
		"Status":       func(e *facevault.AuditEntry) { e.Status = 201 },
		"RequestID":    func(e *facevault.AuditEntry) { e.RequestID = "" },
		"Source":       func(e *facevault.AuditEntry) { e.Source = "10.0.3.8" },
		"Diff":         func(e *facevault.AuditEntry) { e.Diff.Path = append(e.Diff.Path, "mobile") },
		"NoDiff":       func(e *facevault.AuditEntry) { e.Diff = nil },
		"Count":        func(e *facevault.AuditEntry) { e.Count = 2 },
		"CreatedAt":    func(e *facevault.AuditEntry) { e.CreatedAt = e.CreatedAt.Add(time.Millisecond) },
		"Seq":          func(e *facevault.AuditEntry) { e.Seq = 43 },
		"PrevHash":     func(e *facevault.AuditEntry) { e.PrevHash = facevault.GenesisHash },
		// Lengths delimit the fields: moving bytes from one to the next
		// is a change too.
		"Boundary": func(e *facevault.AuditEntry) { e.Trigger, e.Action = "updateClientu", "pdate" },
	} {
		c := sampleEntry()
		change(c)
		if h, _ := c.ComputeHash(); h == got {
			t.Errorf("changing %s leaves the hash as it was", name)
		}
	}
}

// TestComputeHashConsoleUser: an entry with a console user hashes as
// version 2, with the name as its last field, pinned like version 1; one
// without hashes exactly as before, so that entries written before the
// field existed still verify.
func TestComputeHashConsoleUser(t *testing.T) {
	e := sampleEntry()
	v1, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	e.ConsoleUser = "Rita Reviewer"
	got, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	// The encoding of docs/contract.md, written out here independently.
	h := sha256.New()
	for _, f := range []string{"facevault-audit-v2", e.ID, "42", e.AccountID, "live", e.KeyID, e.Trigger, e.Action,
		e.ResourceType, e.ResourceID, e.ClientID, e.Outcome, "200", e.RequestID, e.Source,
		`{"action":"update","path":["email"]}`, "1", "1795549562117", e.PrevHash, "Rita Reviewer"} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	if want := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("ComputeHash with a console user = %s, want %s", got, want)
	}
	if got == v1 {
		t.Error("the console user does not change the hash")
	}
	e.ConsoleUser = "Rita Reviewex"
	if h, _ := e.ComputeHash(); h == got {
		t.Error("changing the console user leaves the hash as it was")
	}
	if err := (&facevault.AuditEntry{AccountID: "a", Mode: facevault.ModeTest, Count: 1, ConsoleUser: "x\x00"}).Check(); err == nil {
		t.Error("Check accepts a console user with a NUL")
	}
}

// memLog is an AuditLog held in memory, for VerifyAudit: chains of entries
// and heads, to be tampered with freely.
type memLog struct {
	facevault.AuditLog
	heads      []facevault.AuditHead
	chains     map[facevault.AuditChainID][]*facevault.AuditEntry
	unreadable map[int64]bool // seqs of entries that do not decode
}

func (m *memLog) AuditHeads(context.Context) ([]facevault.AuditHead, error) { return m.heads, nil }

func (m *memLog) AuditChain(_ context.Context, c facevault.AuditChainID, after int64, n int) ([]*facevault.AuditEntry, error) {
	var out []*facevault.AuditEntry
	for _, e := range m.chains[c] {
		if e.Seq <= after || len(out) == n {
			continue
		}
		if m.unreadable[e.Seq] {
			return out, &facevault.UnreadableEntryError{Seq: e.Seq, ID: e.ID, Err: errors.New("not JSON")}
		}
		c := *e
		out = append(out, &c)
	}
	return out, nil
}

// newMemLog makes one chain of n entries, hashed as a store would.
func newMemLog(t *testing.T, n int) (*memLog, facevault.AuditChainID) {
	t.Helper()
	c := facevault.AuditChainID{AccountID: "a", Mode: facevault.ModeTest}
	m := &memLog{chains: map[facevault.AuditChainID][]*facevault.AuditEntry{}, unreadable: map[int64]bool{}}
	prev := facevault.GenesisHash
	for i := range n {
		e := sampleEntry()
		e.AccountID, e.Mode, e.Seq, e.PrevHash = c.AccountID, c.Mode, int64(i+1), prev
		e.ID = facevault.NewID(e.CreatedAt)
		h, err := e.ComputeHash()
		if err != nil {
			t.Fatal(err)
		}
		e.Hash, prev = h, h
		m.chains[c] = append(m.chains[c], e)
	}
	m.heads = []facevault.AuditHead{{AuditChainID: c, Seq: int64(n), Hash: prev}}
	return m, c
}

// TestVerifyAudit: every kind of tampering is reported as the first break
// of its chain, and an intact chain, however long (several batches), is
// not.
func TestVerifyAudit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(m *memLog, c facevault.AuditChainID)
		seq    int64
		reason string
	}{
		{"OK", func(*memLog, facevault.AuditChainID) {}, 0, ""},
		{"FieldChanged", func(m *memLog, c facevault.AuditChainID) { m.chains[c][1500].Status = 500 }, 1501, "entry 1501 has been changed: its fields do not hash to its hash"},
		{"HashRecomputed", func(m *memLog, c facevault.AuditChainID) {
			e := m.chains[c][1500]
			e.Status = 500
			e.Hash, _ = e.ComputeHash()
		}, 1502, "entry 1502 does not carry the hash of entry 1501"},
		{"Deleted", func(m *memLog, c facevault.AuditChainID) {
			m.chains[c] = slices.Delete(m.chains[c], 999, 1000)
		}, 1000, "entry 1000 is missing (the next entry is 1001)"},
		{"FirstDeleted", func(m *memLog, c facevault.AuditChainID) { m.chains[c] = m.chains[c][1:] }, 1, "entry 1 is missing (the next entry is 2)"},
		{"TailCut", func(m *memLog, c facevault.AuditChainID) {
			m.chains[c] = m.chains[c][:2000]
		}, 2500, "the head names entry 2500, but the chain ends at entry 2000"},
		{"HeadHashChanged", func(m *memLog, c facevault.AuditChainID) { m.heads[0].Hash = facevault.GenesisHash }, 2500, "the head's hash is not the hash of entry 2500"},
		{"NoHead", func(m *memLog, c facevault.AuditChainID) { m.heads[0] = facevault.AuditHead{AuditChainID: c} }, 0, "the chain has entries but no head"},
		{"Unreadable", func(m *memLog, c facevault.AuditChainID) { m.unreadable[1200] = true }, 1200, "entry 1200 cannot be read: not JSON"},
		{"UnreadableAfterBreak", func(m *memLog, c facevault.AuditChainID) {
			m.chains[c][1100].Action = "purge"
			m.unreadable[1200] = true
		}, 1101, "entry 1101 has been changed: its fields do not hash to its hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newMemLog(t, 2500)
			tc.tamper(m, c)
			reports, err := facevault.VerifyAudit(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1", len(reports))
			}
			r := reports[0]
			switch {
			case tc.reason == "" && r.Break != nil:
				t.Errorf("intact chain reported broken: %+v", *r.Break)
			case tc.reason == "" && r.Entries != 2500:
				t.Errorf("read %d entries, want 2500", r.Entries)
			case tc.reason != "" && r.Break == nil:
				t.Errorf("tampered chain reported whole")
			case tc.reason != "" && (r.Break.Seq != tc.seq || r.Break.Reason != tc.reason):
				t.Errorf("break %+v, want at %d: %s", *r.Break, tc.seq, tc.reason)
			}
		})
	}
}

// TestChangedAttributes: the paths whose values differ, whatever the
// nesting; metadata as one path; never a value.
func TestChangedAttributes(t *testing.T) {
	before := &facevault.Client{Type: "person", Email: "jo@example.com",
		PersonDetails: &facevault.PersonDetails{FirstName: "Jo", LastName: "Doe"}, Metadata: map[string]string{"tier": "gold"}}
	for _, tc := range []struct {
		name   string
		change func(c *facevault.Client)
		want   []string
	}{
		{"Nothing", func(c *facevault.Client) {}, nil},
		{"Email", func(c *facevault.Client) { c.Email = "joan@example.com" }, []string{"email"}},
		{"Nested", func(c *facevault.Client) { c.PersonDetails.FirstName = "Joan"; c.PersonDetails.DOB = "1990-01-01" },
			[]string{"personDetails.dob", "personDetails.firstName"}},
		{"Cleared", func(c *facevault.Client) { c.PersonDetails.LastName = "" }, []string{"personDetails.lastName"}},
		{"DetailsAdded", func(c *facevault.Client) { c.CompanyDetails = &facevault.CompanyDetails{Name: "Acme"} }, []string{"companyDetails.name"}},
		{"DetailsAddedEmpty", func(c *facevault.Client) { c.CompanyDetails = &facevault.CompanyDetails{} }, nil},
		{"MetadataValue", func(c *facevault.Client) { c.Metadata["tier"] = "silver" }, []string{"metadata"}},
		{"MetadataKey", func(c *facevault.Client) { c.Metadata["jo@example.com"] = "gold" }, []string{"metadata"}},
		{"MetadataRemoved", func(c *facevault.Client) { c.Metadata = nil }, []string{"metadata"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := *before
			pd := *before.PersonDetails
			after.PersonDetails = &pd
			after.Metadata = map[string]string{"tier": "gold"}
			tc.change(&after)
			got := facevault.ChangedAttributes(facevault.ClientAttributes(before), facevault.ClientAttributes(&after))
			if !slices.Equal(got, tc.want) {
				t.Errorf("ChangedAttributes = %q, want %q", got, tc.want)
			}
		})
	}
}
