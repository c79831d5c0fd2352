package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// auditBackend is a record store the audit commands run on, with direct SQL
// access to its tables, as someone tampering with them would have.
type auditBackend struct {
	args []string // the commands' store flags
	// open opens the record store.
	open func(t *testing.T) facevault.Store
	// exec runs SQL directly on the database; "?" placeholders.
	exec func(t *testing.T, query string, args ...any) error
	// dropGuards removes the triggers that refuse updates and deletes.
	dropGuards []string
}

func auditBackends(t *testing.T) map[string]func(t *testing.T) auditBackend {
	return map[string]func(t *testing.T) auditBackend{
		"sqlite": func(t *testing.T) auditBackend {
			dir := t.TempDir()
			return auditBackend{
				args: []string{"--data", dir},
				open: func(t *testing.T) facevault.Store {
					db, err := openDB(t.Context(), dir)
					if err != nil {
						t.Fatal(err)
					}
					return db
				},
				exec: func(t *testing.T, query string, args ...any) error {
					db, err := sql.Open("sqlite", filepath.Join(dir, "facevault.db"))
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					_, err = db.ExecContext(t.Context(), query, args...)
					return err
				},
				dropGuards: []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`},
			}
		},
		"postgres": func(t *testing.T) auditBackend {
			st := newSharedStores(t)
			return auditBackend{
				args: []string{"--db", st.dbURL},
				open: func(t *testing.T) facevault.Store { return st.open(t) },
				exec: func(t *testing.T, query string, args ...any) error {
					conn, err := pgx.Connect(t.Context(), st.dbURL)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(context.WithoutCancel(t.Context()))
					n := 0
					query = regexp.MustCompile(`\?`).ReplaceAllStringFunc(query, func(string) string {
						n++
						return "$" + strconv.Itoa(n)
					})
					_, err = conn.Exec(t.Context(), query, args...)
					return err
				},
				dropGuards: []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`},
			}
		},
	}
}

// TestAuditCommands: audit verify passes on an untampered log and fails,
// naming the chain and the entry, once one byte of a row is changed
// directly in the table, a row is deleted, or the last row is; audit export
// writes the entries as JSON lines, narrowed by account, mode and time.
// The tables refuse updates and deletes until their triggers are removed.
func TestAuditCommands(t *testing.T) {
	clearServeEnv(t)
	for name, newBackend := range auditBackends(t) {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t)
			db := b.open(t)
			ctx := t.Context()
			_, def, err := createKey(ctx, db, "default", facevault.ModeTest)
			if err != nil {
				t.Fatal(err)
			}
			_, other, err := createKey(ctx, db, "other", facevault.ModeTest)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
			scope := func(k *facevault.APIKey) facevault.Scope {
				return facevault.Scope{AccountID: k.AccountID, Mode: k.Mode}
			}
			var defEntries []*facevault.AuditEntry
			for i := range 5 {
				e := facevault.NewSystemEntry(scope(def), facevault.ActionRead, facevault.AuditClient, facevault.NewID(t0), "")
				if err := db.AppendAudit(ctx, t0.Add(time.Duration(i)*time.Hour), e); err != nil {
					t.Fatal(err)
				}
				defEntries = append(defEntries, e)
			}
			var otherEntries []*facevault.AuditEntry
			for i := range 2 {
				e := facevault.NewSystemEntry(scope(other), facevault.ActionDelete, facevault.AuditLivePhoto, facevault.NewID(t0), "")
				if err := db.AppendAudit(ctx, t0.Add(time.Duration(i)*time.Hour), e); err != nil {
					t.Fatal(err)
				}
				otherEntries = append(otherEntries, e)
			}
			refused := &facevault.AuditEntry{Trigger: "getClient", Action: facevault.ActionRead, ResourceType: facevault.AuditClient,
				Outcome: facevault.OutcomeFailure, Status: 401, Source: "192.0.2.7", Count: 3}
			if err := db.AppendAudit(ctx, t0, refused); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			verify := func() (string, error) {
				out, _, err := runCLI(t, append([]string{"audit", "verify"}, b.args...)...)
				return out, err
			}
			wantBroken := func(what, reason string) {
				t.Helper()
				out, err := verify()
				if !errors.Is(err, errAuditBroken) || exitCode(err) != 1 {
					t.Fatalf("%s: audit verify = %v, want the audit log broken (exit 1); output:\n%s", what, err, out)
				}
				if !strings.Contains(out, "BROKEN: "+reason) {
					t.Errorf("%s: audit verify printed\n%s\nwant BROKEN: %s", what, out, reason)
				}
			}

			t.Run("VerifyOK", func(t *testing.T) {
				out, err := verify()
				if err != nil {
					t.Fatalf("audit verify: %v\n%s", err, out)
				}
				var rows []string
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					rows = append(rows, strings.Join(strings.Fields(l), " "))
				}
				want := []string{
					"ACCOUNT MODE ENTRIES HEAD STATUS",
					"- (no account) - 1 " + refused.Hash + " ok",
					"default (" + def.AccountID + ") test 5 " + defEntries[4].Hash + " ok",
					"other (" + other.AccountID + ") test 2 " + otherEntries[1].Hash + " ok",
					"3 chains verified, none broken. Keep the HEAD hashes elsewhere: a later verify must reach them.",
				}
				// Chains come in the order of account ids, which is not the
				// order the accounts were made in.
				if len(rows) == len(want) {
					slices.Sort(rows[2:4])
					slices.Sort(want[2:4])
				}
				if strings.Join(rows, "\n") != strings.Join(want, "\n") {
					t.Errorf("audit verify printed\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
				}
			})

			t.Run("Export", func(t *testing.T) {
				export := func(args ...string) []map[string]any {
					t.Helper()
					out := mustRun(t, append(append([]string{"audit", "export"}, b.args...), args...)...)
					var lines []map[string]any
					for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
						if l == "" {
							continue
						}
						var m map[string]any
						if err := json.Unmarshal([]byte(l), &m); err != nil {
							t.Fatalf("export line %q: %v", l, err)
						}
						lines = append(lines, m)
					}
					return lines
				}
				all := export()
				if len(all) != 8 {
					t.Fatalf("export wrote %d lines, want 8", len(all))
				}
				// Chain after chain, each in order; the chain of no account has
				// no account id or mode.
				seen := map[string]float64{}
				for _, m := range all {
					chain, _ := m["accountId"].(string)
					if m["seq"] != seen[chain]+1 {
						t.Errorf("line %v out of its chain's order", m)
					}
					seen[chain] = m["seq"].(float64)
					if (chain == "") != (m["mode"] == nil) {
						t.Errorf("line %v: account id and mode must go together", m)
					}
				}
				if all[len(all)-1]["id"] == nil {
					t.Errorf("export line without an id: %v", all[len(all)-1])
				}
				for _, tc := range []struct {
					args []string
					want int
				}{
					{[]string{"--account", "other"}, 2},
					{[]string{"--account", other.AccountID}, 2},
					{[]string{"--account", "default", "--mode", "live"}, 0},
					{[]string{"--mode", "test"}, 7},
					{[]string{"--account", "default", "--since", t0.Add(3 * time.Hour).Format(time.RFC3339)}, 2},
					{[]string{"--since", "2031-05-06"}, 8},
					{[]string{"--since", "2031-05-07"}, 0},
				} {
					if got := export(tc.args...); len(got) != tc.want {
						t.Errorf("export %v: %d lines, want %d", tc.args, len(got), tc.want)
					}
				}
				for _, args := range [][]string{{"--since", "yesterday"}, {"--mode", "prod"}, {"extra"}} {
					_, _, err := runCLI(t, append(append([]string{"audit", "export"}, b.args...), args...)...)
					assertUsageError(t, err)
				}
				if _, _, err := runCLI(t, append(append([]string{"audit", "export"}, b.args...), "--account", "nobody")...); err == nil ||
					!strings.Contains(err.Error(), `no account is named "nobody"`) {
					t.Errorf("export --account nobody: %v, want an error naming the account", err)
				}
			})

			t.Run("AppendOnly", func(t *testing.T) {
				if err := b.exec(t, `UPDATE audit_log SET status = 200 WHERE id = ?`, defEntries[0].ID); err == nil {
					t.Errorf("UPDATE of an entry succeeded, want the table to refuse it")
				}
				if err := b.exec(t, `DELETE FROM audit_log WHERE id = ?`, defEntries[0].ID); err == nil {
					t.Errorf("DELETE of an entry succeeded, want the table to refuse it")
				}
				if _, err := verify(); err != nil {
					t.Errorf("after refused changes: %v", err)
				}
			})

			// Behind the triggers' back, as someone with the database's
			// password would.
			for _, q := range b.dropGuards {
				if err := b.exec(t, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			tamper := func(t *testing.T, query string, args ...any) {
				t.Helper()
				if err := b.exec(t, query, args...); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			third := defEntries[2]

			t.Run("OneByteChanged", func(t *testing.T) {
				changed := []byte(third.ResourceID)
				changed[5] ^= 1
				tamper(t, `UPDATE audit_log SET resource_id = ? WHERE id = ?`, string(changed), third.ID)
				wantBroken("resource id changed", "entry 3 has been changed")
				tamper(t, `UPDATE audit_log SET resource_id = ? WHERE id = ?`, third.ResourceID, third.ID)
				if out, err := verify(); err != nil {
					t.Fatalf("after the byte was put back: %v\n%s", err, out)
				}
				tamper(t, `UPDATE audit_log SET status = 1 WHERE id = ?`, third.ID)
				wantBroken("status changed", "entry 3 has been changed")
				tamper(t, `UPDATE audit_log SET status = 0 WHERE id = ?`, third.ID)
				tamper(t, `UPDATE audit_log SET diff = '{"action":"update","path":["email"]}' WHERE id = ?`, third.ID)
				wantBroken("diff added", "entry 3 has been changed")
				tamper(t, `UPDATE audit_log SET diff = 'not json' WHERE id = ?`, third.ID)
				wantBroken("diff unreadable", "entry 3 cannot be read")
				tamper(t, `UPDATE audit_log SET diff = '' WHERE id = ?`, third.ID)
				if out, err := verify(); err != nil {
					t.Fatalf("after the entry was put back: %v\n%s", err, out)
				}
			})

			t.Run("RowDeleted", func(t *testing.T) {
				tamper(t, `DELETE FROM audit_log WHERE id = ?`, third.ID)
				wantBroken("middle row deleted", "entry 3 is missing (the next entry is 4)")
			})

			t.Run("LastRowDeleted", func(t *testing.T) {
				tamper(t, `DELETE FROM audit_log WHERE id = ?`, otherEntries[1].ID)
				wantBroken("last row deleted", "the head names entry 2, but the chain ends at entry 1")
			})

			t.Run("HeadDeleted", func(t *testing.T) {
				tamper(t, `DELETE FROM audit_chains WHERE account_id = ''`)
				wantBroken("head deleted", "the chain has entries but no head")
			})
		})
	}
}

// TestServeAudit: serve records its requests in the audit log, answers
// with X-Request-Id, and appends the counts of refused requests when it
// shuts down; audit verify then finds every chain whole.
func TestServeAudit(t *testing.T) {
	clearServeEnv(t)
	dir := t.TempDir()
	s := startServe(t, "--data", dir, "--addr", "127.0.0.1:0")
	k := s.bootstrapKeys(t)
	cid := s.createClient(t, k.test)
	if status, _ := s.do(t, "GET", "/v1/clients/"+cid, k.test, nil); status != http.StatusOK {
		t.Fatalf("GET client: %d", status)
	}
	if status, _ := s.do(t, "GET", "/v1/clients", "test_unknownunknownunknownunknownunknown00", nil); status != http.StatusUnauthorized {
		t.Fatalf("GET with an unknown key: %d", status)
	}
	status, body := s.do(t, "GET", "/v1/auditLogs", k.test, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /v1/auditLogs: %d %s", status, body)
	}
	var list struct {
		Items []map[string]any
	}
	decode(t, body, &list)
	if len(list.Items) != 2 || list.Items[0]["clientId"] != cid || list.Items[1]["action"] != "create" {
		t.Errorf("audit log %v, want the read and the create of %s", list.Items, cid)
	}
	s.stop(t)

	out := mustRun(t, "audit", "export", "--data", dir)
	var refused map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["accountId"] == nil {
			refused = m
		}
	}
	if refused == nil || refused["status"] != float64(401) || refused["count"] != float64(1) || refused["source"] != "127.0.0.1" {
		t.Errorf("the count of the refused request, appended at shutdown: %v", refused)
	}
	if out, _, err := runCLI(t, "audit", "verify", "--data", dir); err != nil {
		t.Errorf("audit verify: %v\n%s", err, out)
	}
}
