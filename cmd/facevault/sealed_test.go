package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/seal"
)

// unseal opens the stored bytes of photo id with the photo's key from the
// key store at keysURL, under the master keys of masterFile. It fails the
// test if the bytes are not sealed.
func unseal(t *testing.T, keysURL, masterFile, id string, stored []byte) []byte {
	t.Helper()
	assertSealed(t, id, stored)
	ctx := context.Background()
	db, err := keyring.Open(ctx, keysURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := keyring.ReadMasterFile(masterFile)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(ctx, db, asMasters(ms))
	if err != nil {
		t.Fatal(err)
	}
	key, err := kr.PhotoKey(ctx, id)
	if err != nil {
		t.Fatalf("key of photo %s: %v", id, err)
	}
	r, err := seal.NewReader(bytes.NewReader(stored), key)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := plain.ReadFrom(r); err != nil {
		t.Fatalf("open photo %s: %v", id, err)
	}
	return plain.Bytes()
}

// assertSealed checks that stored bytes are a sealed stream, with no image
// signature in them.
func assertSealed(t *testing.T, id string, stored []byte) {
	t.Helper()
	if !seal.IsSealed(stored) {
		t.Fatalf("photo %s is stored unsealed (starts % x)", id, stored[:min(8, len(stored))])
	}
	for _, sig := range [][]byte{{0xFF, 0xD8, 0xFF}, []byte("\x89PNG"), []byte("JFIF"), []byte("Exif\x00")} {
		if i := bytes.Index(stored, sig); i >= 0 && len(sig) > 3 {
			t.Errorf("photo %s's stored bytes hold %q at %d", id, sig, i)
		}
	}
}

// assertSealedFile checks that the embedded default in dir stores photo id
// sealed, and that it opens to want with the key store and master key
// serve made beside dir.
func assertSealedFile(t *testing.T, dir, id string, want []byte) {
	t.Helper()
	stored, err := os.ReadFile(blobFile(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	keys := dir + "-keys"
	got := unseal(t, "sqlite://"+filepath.Join(keys, "keys.db"), filepath.Join(keys, "master.key"), id, stored)
	if !bytes.Equal(got, want) {
		t.Errorf("photo %s opens to %d bytes differing from the %d expected", id, len(got), len(want))
	}
}
