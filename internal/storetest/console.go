package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func newConsoleUser(name string, role facevault.ConsoleRole) *facevault.ConsoleUser {
	return &facevault.ConsoleUser{
		ID:           facevault.NewID(t0),
		Name:         name,
		Role:         role,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func mustCreateConsoleUser(t *testing.T, st facevault.Store, name string, role facevault.ConsoleRole) *facevault.ConsoleUser {
	t.Helper()
	u := newConsoleUser(name, role)
	if err := st.CreateConsoleUser(t.Context(), u); err != nil {
		t.Fatalf("CreateConsoleUser(%q): %v", name, err)
	}
	return u
}

func normUser(u *facevault.ConsoleUser) facevault.ConsoleUser {
	n := *u
	n.CreatedAt, n.UpdatedAt, n.LockedUntil = utc(n.CreatedAt), utc(n.UpdatedAt), utc(n.LockedUntil)
	return n
}

func testConsoleUsers(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	if users, err := st.ConsoleUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("ConsoleUsers of an empty store = %v, %v; want none", users, err)
	}
	zoe := mustCreateConsoleUser(t, st, "zoe", facevault.RoleReviewer)
	ada := mustCreateConsoleUser(t, st, "ada", facevault.RoleAdmin)

	t.Run("OK", func(t *testing.T) {
		got, err := st.ConsoleUser(ctx, zoe.ID)
		if err != nil || normUser(got) != normUser(zoe) {
			t.Errorf("ConsoleUser = %+v, %v; want %+v", got, err, zoe)
		}
		got, err = st.ConsoleUserByName(ctx, "ada")
		if err != nil || normUser(got) != normUser(ada) {
			t.Errorf("ConsoleUserByName = %+v, %v; want %+v", got, err, ada)
		}
		users, err := st.ConsoleUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		if !slices.Equal(names, []string{"ada", "zoe"}) {
			t.Errorf("ConsoleUsers = %v, want [ada zoe] (by name)", names)
		}
	})
	t.Run("ErrNameTaken", func(t *testing.T) {
		dup := newConsoleUser("zoe", facevault.RoleAdmin)
		if err := st.CreateConsoleUser(ctx, dup); !errors.Is(err, facevault.ErrExist) {
			t.Errorf("CreateConsoleUser(zoe again) = %v, want ErrExist", err)
		}
		// Names are case-sensitive and exact.
		mustCreateConsoleUser(t, st, "Zoe", facevault.RoleReviewer)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		missing := facevault.NewID(t0)
		_, err := st.ConsoleUser(ctx, missing)
		wantNotFound(t, "ConsoleUser", err)
		_, err = st.ConsoleUserByName(ctx, "nobody")
		wantNotFound(t, "ConsoleUserByName", err)
		_, err = st.ConsoleUserByName(ctx, "bad\x00name\xff")
		wantNotFound(t, "ConsoleUserByName(not text)", err)
		wantNotFound(t, "SetConsolePassword", st.SetConsolePassword(ctx, missing, "x", t0))
		wantNotFound(t, "SetConsoleUserDisabled", st.SetConsoleUserDisabled(ctx, missing, true, t0))
		wantNotFound(t, "ClearConsoleSignIns", st.ClearConsoleSignIns(ctx, missing, t0))
		wantNotFound(t, "DeleteConsoleUser", st.DeleteConsoleUser(ctx, missing))
		_, err = st.FailConsoleSignIn(ctx, missing, t0, 5, time.Minute)
		wantNotFound(t, "FailConsoleSignIn", err)
	})
	t.Run("Update", func(t *testing.T) {
		at := t0.Add(time.Hour)
		if err := st.SetConsolePassword(ctx, zoe.ID, "new-hash", at); err != nil {
			t.Fatal(err)
		}
		if err := st.SetConsoleUserDisabled(ctx, zoe.ID, true, at); err != nil {
			t.Fatal(err)
		}
		got, err := st.ConsoleUser(ctx, zoe.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash != "new-hash" || !got.Disabled || !got.UpdatedAt.Equal(at) || !got.CreatedAt.Equal(t0) {
			t.Errorf("after SetConsolePassword and disabling: %+v", got)
		}
		if err := st.SetConsoleUserDisabled(ctx, zoe.ID, false, at); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.ConsoleUser(ctx, zoe.ID); got.Disabled {
			t.Error("still disabled after enabling")
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := st.DeleteConsoleUser(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		_, err := st.ConsoleUser(ctx, ada.ID)
		wantNotFound(t, "ConsoleUser after delete", err)
		// The name is free again.
		mustCreateConsoleUser(t, st, "ada", facevault.RoleReviewer)
	})
}

func testConsoleLockout(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	u := mustCreateConsoleUser(t, st, "zoe", facevault.RoleReviewer)
	const lockFor = 15 * time.Minute
	for i := 1; i <= 4; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		got, err := st.FailConsoleSignIn(ctx, u.ID, at, 5, lockFor)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedSignIns != i || got.Locked(at) || !got.UpdatedAt.Equal(at) {
			t.Fatalf("after %d failures: %d failed, locked %v (until %v)", i, got.FailedSignIns, got.Locked(at), got.LockedUntil)
		}
	}
	at := t0.Add(5 * time.Second)
	got, err := st.FailConsoleSignIn(ctx, u.ID, at, 5, lockFor)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LockedUntil.Equal(at.Add(lockFor)) || got.FailedSignIns != 0 {
		t.Fatalf("after the 5th failure: locked until %v with %d failures; want until %v, count started again",
			got.LockedUntil, got.FailedSignIns, at.Add(lockFor))
	}
	if stored, _ := st.ConsoleUser(ctx, u.ID); !stored.Locked(at.Add(lockFor-time.Millisecond)) || stored.Locked(at.Add(lockFor)) {
		t.Errorf("stored lock-out until %v, want until %v", stored.LockedUntil, at.Add(lockFor))
	}
	// Unlocking clears both.
	if err := st.ClearConsoleSignIns(ctx, u.ID, at); err != nil {
		t.Fatal(err)
	}
	if stored, _ := st.ConsoleUser(ctx, u.ID); stored.FailedSignIns != 0 || !stored.LockedUntil.IsZero() {
		t.Errorf("after ClearConsoleSignIns: %d failures, locked until %v", stored.FailedSignIns, stored.LockedUntil)
	}
	// A new password clears them too.
	if _, err := st.FailConsoleSignIn(ctx, u.ID, at, 5, lockFor); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConsolePassword(ctx, u.ID, "h", at); err != nil {
		t.Fatal(err)
	}
	if stored, _ := st.ConsoleUser(ctx, u.ID); stored.FailedSignIns != 0 {
		t.Errorf("after SetConsolePassword: %d failures", stored.FailedSignIns)
	}

	// Failures counted at once, as on several nodes, are each counted:
	// 10 of them with a limit of 5 lock twice and leave none counted.
	var wg sync.WaitGroup
	locks := make(chan time.Time, 10)
	for range 10 {
		wg.Go(func() {
			got, err := st.FailConsoleSignIn(ctx, u.ID, t0.Add(time.Hour), 5, lockFor)
			if err != nil {
				t.Error(err)
				return
			}
			if got.FailedSignIns == 0 {
				locks <- got.LockedUntil
			}
		})
	}
	wg.Wait()
	close(locks)
	if n := len(locks); n != 2 {
		t.Errorf("10 concurrent failures with a limit of 5 locked %d times, want 2", n)
	}
	if stored, _ := st.ConsoleUser(ctx, u.ID); stored.FailedSignIns != 0 {
		t.Errorf("after 10 concurrent failures: %d counted, want 0", stored.FailedSignIns)
	}
}

func sessionHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testConsoleSessions(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	zoe := mustCreateConsoleUser(t, st, "zoe", facevault.RoleReviewer)
	ada := mustCreateConsoleUser(t, st, "ada", facevault.RoleAdmin)
	newSession := func(token string, u *facevault.ConsoleUser, at time.Time) *facevault.ConsoleSession {
		t.Helper()
		s := &facevault.ConsoleSession{Hash: sessionHash(token), UserID: u.ID, CreatedAt: at, LastSeenAt: at}
		if err := st.CreateConsoleSession(ctx, s); err != nil {
			t.Fatalf("CreateConsoleSession(%s): %v", token, err)
		}
		return s
	}
	a := newSession("a", zoe, t0)
	got, err := st.ConsoleSession(ctx, a.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Hash, a.Hash) || got.UserID != zoe.ID || got.Scope != (facevault.Scope{}) ||
		!got.CreatedAt.Equal(t0) || !got.LastSeenAt.Equal(t0) {
		t.Errorf("ConsoleSession = %+v, want %+v", got, a)
	}
	_, err = st.ConsoleSession(ctx, sessionHash("unknown"))
	wantNotFound(t, "ConsoleSession(unknown)", err)
	err = st.CreateConsoleSession(ctx, &facevault.ConsoleSession{Hash: sessionHash("x"), UserID: facevault.NewID(t0), CreatedAt: t0, LastSeenAt: t0})
	wantNotFound(t, "CreateConsoleSession(no such user)", err)

	// Touch and scope.
	if err := st.TouchConsoleSession(ctx, a.Hash, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchConsoleSession(ctx, a.Hash, t0.Add(time.Second)); err != nil { // late, from another node
		t.Fatal(err)
	}
	if err := st.SetConsoleSessionScope(ctx, a.Hash, sc.aLive, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = st.ConsoleSession(ctx, a.Hash)
	if got.Scope != sc.aLive || !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after touch and scope: scope %+v, last seen %v; want %+v, %v", got.Scope, got.LastSeenAt, sc.aLive, t0.Add(time.Minute))
	}
	wantNotFound(t, "TouchConsoleSession(unknown)", st.TouchConsoleSession(ctx, sessionHash("unknown"), t0))
	wantNotFound(t, "SetConsoleSessionScope(unknown)", st.SetConsoleSessionScope(ctx, sessionHash("unknown"), sc.a, t0))

	// Deleting one session, twice.
	b := newSession("b", zoe, t0)
	for range 2 {
		if err := st.DeleteConsoleSession(ctx, b.Hash); err != nil {
			t.Fatal(err)
		}
	}
	_, err = st.ConsoleSession(ctx, b.Hash)
	wantNotFound(t, "ConsoleSession after delete", err)

	// A new password, disabling and deleting end the user's sessions, and
	// only theirs.
	exists := func(s *facevault.ConsoleSession) bool {
		t.Helper()
		_, err := st.ConsoleSession(ctx, s.Hash)
		if err != nil && !errors.Is(err, facevault.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	adas := newSession("ada", ada, t0)
	if err := st.SetConsolePassword(ctx, zoe.ID, "h2", t0); err != nil {
		t.Fatal(err)
	}
	if exists(a) || !exists(adas) {
		t.Errorf("after zoe's new password: zoe's session %v, ada's %v; want gone, kept", exists(a), exists(adas))
	}
	c := newSession("c", zoe, t0)
	if err := st.SetConsoleUserDisabled(ctx, zoe.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	if !exists(c) {
		t.Error("enabling a user ended its session")
	}
	if err := st.SetConsoleUserDisabled(ctx, zoe.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	if exists(c) || !exists(adas) {
		t.Errorf("after disabling zoe: zoe's session %v, ada's %v; want gone, kept", exists(c), exists(adas))
	}
	if err := st.DeleteConsoleUser(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if exists(adas) {
		t.Error("deleting ada left its session")
	}

	// Stale sessions: idle or too old.
	if err := st.SetConsoleUserDisabled(ctx, zoe.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	old := newSession("old", zoe, t0)                       // created long ago, used recently
	idle := newSession("idle", zoe, t0.Add(10*time.Hour))   // not used for a while
	fresh := newSession("fresh", zoe, t0.Add(11*time.Hour)) // fine
	if err := st.TouchConsoleSession(ctx, old.Hash, t0.Add(11*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := st.DeleteStaleConsoleSessions(ctx, t0.Add(10*time.Hour+time.Minute), t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("DeleteStaleConsoleSessions = %d, %v; want 2", n, err)
	}
	if exists(old) || exists(idle) || !exists(fresh) {
		t.Errorf("after DeleteStaleConsoleSessions: old %v, idle %v, fresh %v; want only fresh", exists(old), exists(idle), exists(fresh))
	}
}
