package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/pgtest"
)

// stores opens a fresh key store of each kind.
func stores(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "keys", "keys.db") },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	}
}

// testScope is the scope of the keys the tests make.
var testScope = facevault.Scope{AccountID: "acct", Mode: facevault.ModeTest}

// ref names a photo of a client in testScope, with a digest derived from
// its id.
func ref(client, photo string) facevault.PhotoRef {
	return facevault.PhotoRef{Scope: testScope, ClientID: client, PhotoID: photo, SHA256: fmt.Sprintf("%064x", len(photo))}
}

func master(t *testing.T, b byte) *LocalMaster {
	t.Helper()
	m, err := NewLocalMaster(bytes.Repeat([]byte{b}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func open(t *testing.T, url string, masters ...Master) (*Keyring, error) {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(context.Background(), db, masters)
}

func mustOpen(t *testing.T, url string, masters ...Master) *Keyring {
	t.Helper()
	k, err := open(t, url, masters...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyring(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			k := mustOpen(t, url, master(t, 1))
			keys := map[string][]byte{}
			for _, p := range []struct{ client, photo string }{{"c1", "p1"}, {"c1", "p2"}, {"c2", "p3"}} {
				dk := bytes.Repeat([]byte(p.photo[1:]), 32)
				keys[p.photo] = dk
				if err := k.AddPhotoKey(ctx, ref(p.client, p.photo), dk); err != nil {
					t.Fatal(err)
				}
			}
			for id, want := range keys {
				got, err := k.PhotoKey(ctx, id)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("PhotoKey(%s) = %x, %v; want %x", id, got, err, want)
				}
			}
			if err := k.AddPhotoKey(ctx, ref("c1", "p1"), keys["p1"]); err == nil {
				t.Error("a second key for photo p1 was accepted")
			}
			if ids, err := k.ClientKeyIDs(ctx, "", 10); err != nil || strings.Join(ids, ",") != "c1,c2" {
				t.Errorf("ClientKeyIDs = %v, %v; want one key per client", ids, err)
			}

			// A second keyring on the same store, as another node, reads them.
			k2 := mustOpen(t, url, master(t, 1))
			if got, err := k2.PhotoKey(ctx, "p2"); err != nil || !bytes.Equal(got, keys["p2"]) {
				t.Fatalf("another node: PhotoKey(p2) = %x, %v", got, err)
			}

			// Destroying a photo's key leaves its client's other photos.
			if n, err := k.DestroyPhotoKeys(ctx, []string{"p1", "nope"}, facevault.DestroyDeleted); err != nil || n != 1 {
				t.Fatalf("DestroyPhotoKeys = %d, %v; want 1", n, err)
			}
			if _, err := k.PhotoKey(ctx, "p1"); !errors.Is(err, facevault.ErrNotFound) {
				t.Fatalf("PhotoKey of a destroyed key: %v, want ErrNotFound", err)
			}
			if _, err := k.PhotoKey(ctx, "p2"); err != nil {
				t.Fatalf("PhotoKey(p2) after p1's key was destroyed: %v", err)
			}
			// Destroying a client's key makes every key of its photos useless.
			if n, err := k.DestroyClientKeys(ctx, []string{"c1"}, facevault.DestroyClientDeleted); err != nil || n != 1 {
				t.Fatalf("DestroyClientKeys = %d, %v", n, err)
			}
			if _, err := k.PhotoKey(ctx, "p2"); !errors.Is(err, facevault.ErrNotFound) {
				t.Fatalf("PhotoKey of a photo whose client key was destroyed: %v, want ErrNotFound", err)
			}
			if _, err := k.PhotoKey(ctx, "p3"); err != nil {
				t.Fatalf("another client's photo: %v", err)
			}
			if n, err := k.DestroyClientKeys(ctx, []string{"c1"}, facevault.DestroyClientDeleted); err != nil || n != 0 {
				t.Fatalf("destroying again = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

// TestSQLiteDestroysBytes: a destroyed key's bytes are not left in the key
// store's files.
func TestSQLiteDestroysBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := mustOpen(t, "sqlite://"+filepath.Join(dir, "keys.db"), master(t, 1))
	if err := k.AddPhotoKey(ctx, ref("client-a", "photo-a"), bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	wrapped, _, err := k.db.photoKey(ctx, "photo-a")
	if err != nil {
		t.Fatal(err)
	}
	found := func() bool {
		for _, suffix := range []string{"", "-wal", "-journal"} {
			b, err := os.ReadFile(filepath.Join(dir, "keys.db") + suffix)
			if err == nil && bytes.Contains(b, wrapped) {
				return true
			}
		}
		return false
	}
	if !found() {
		t.Fatal("the wrapped key is not in the key store's files: the test cannot see it go")
	}
	if _, err := k.DestroyPhotoKeys(ctx, []string{"photo-a"}, facevault.DestroyDeleted); err != nil {
		t.Fatal(err)
	}
	if found() {
		t.Fatal("the destroyed key's bytes are still in the key store's files")
	}
}

func TestMasterMismatch(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			k := mustOpen(t, url, master(t, 1))
			if err := k.AddPhotoKey(ctx, ref("c", "p"), bytes.Repeat([]byte{1}, 32)); err != nil {
				t.Fatal(err)
			}
			_, err := open(t, url, master(t, 2))
			var me *MismatchError
			if !errors.As(err, &me) || !strings.Contains(err.Error(), master(t, 1).ID()) {
				t.Fatalf("a wrong master key: %v; want a MismatchError naming the store's key", err)
			}
			// Nothing was changed: the right key still works.
			k = mustOpen(t, url, master(t, 1))
			if _, err := k.PhotoKey(ctx, "p"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRotate rotates the master key while another node, which has only
// the old key, keeps working: it learns the new key by reloading its file.
func TestRotate(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			old, cur := master(t, 1), master(t, 2)
			node := mustOpen(t, url, old)
			reloaded := 0
			node.Reload = func() ([]Master, error) { reloaded++; return []Master{cur, old}, nil }
			for i, c := range []string{"c1", "c2", "c3"} {
				if err := node.AddPhotoKey(ctx, ref(c, "p"+c), bytes.Repeat([]byte{byte(i)}, 32)); err != nil {
					t.Fatal(err)
				}
			}
			rot := mustOpen(t, url, cur, old)
			res, err := rot.Rotate(ctx)
			if err != nil || res.Rewrapped != 3 || res.Remaining != 0 {
				t.Fatalf("Rotate = %+v, %v; want 3 rewrapped, none remaining", res, err)
			}
			if err := rot.Retire(ctx, cur.ID()); err == nil {
				t.Error("Retire of the current master succeeded")
			}
			// The old node meets keys wrapped by a master it lacks, and reloads.
			for i, c := range []string{"c1", "c2", "c3"} {
				got, err := node.PhotoKey(ctx, "p"+c)
				if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 32)) {
					t.Fatalf("old node after rotation: PhotoKey = %x, %v", got, err)
				}
			}
			if reloaded != 1 {
				t.Errorf("the old node reloaded its keys %d times, want 1", reloaded)
			}
			if err := rot.Retire(ctx, old.ID()); err != nil {
				t.Fatal(err)
			}
			// Now the new key alone opens the store; the old alone does not.
			only := mustOpen(t, url, cur)
			if _, err := only.PhotoKey(ctx, "pc2"); err != nil {
				t.Fatal(err)
			}
			if _, err := open(t, url, old); err == nil {
				t.Fatal("the retired master key still opens the store")
			}
		})
	}
}

// TestRotateRefusesMissingMaster: a store whose keys use a master that is
// not configured is refused, not half used.
func TestRotateRefusesMissingMaster(t *testing.T) {
	ctx := context.Background()
	url := "sqlite://" + filepath.Join(t.TempDir(), "keys.db")
	old, cur := master(t, 1), master(t, 2)
	k := mustOpen(t, url, old)
	if err := k.AddPhotoKey(ctx, ref("c", "p"), bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, url, cur, old) // records the new key's check
	_, err := open(t, url, cur)
	var me *MismatchError
	if !errors.As(err, &me) || len(me.Missing) != 1 || me.Missing[0] != old.ID() {
		t.Fatalf("new key alone before rotation: %v; want a MismatchError naming the old key as missing", err)
	}
	if err := mustOpen(t, url, cur, old).Retire(ctx, old.ID()); err == nil {
		t.Fatal("Retire of a master that still wraps keys succeeded")
	}
}

func TestParseMasterKeys(t *testing.T) {
	good, _ := NewMasterKeyText()
	for _, tc := range []struct{ text, want string }{
		{"", "no key found"},
		{"# only a comment\n", "no key found"},
		{"not base64!", "not base64"},
		{"AAAA", "3 bytes, want 32"},
		{good + "\nAAAA", "line 2: 3 bytes"},
	} {
		if _, err := ParseMasterKeys([]byte(tc.text), "F"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMasterKeys(%q) = %v; want an error containing %q", tc.text, err, tc.want)
		}
	}
	ms, err := ParseMasterKeys([]byte("# key\n\n "+good+" \n"), "F")
	if err != nil || len(ms) != 1 {
		t.Fatalf("ParseMasterKeys of a good key = %v, %v", ms, err)
	}
	if len(ms[0].ID()) != 16 {
		t.Errorf("ID %q is not 16 hex digits", ms[0].ID())
	}
}

func TestMasterFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	a, _ := NewMasterKeyText()
	b, _ := NewMasterKeyText()
	if err := WriteMasterFile(path, []string{a}, true); err != nil {
		t.Fatal(err)
	}
	if err := WriteMasterFile(path, []string{b}, true); err == nil {
		t.Fatal("an exclusive write replaced an existing key file")
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if err := WriteMasterFile(path, []string{b, a}, false); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMasterFile(path)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ReadMasterFile = %v, %v", ms, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMasterFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key file readable by others: %v", err)
	}
	if _, err := ReadMasterFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing key file was read")
	}
}
