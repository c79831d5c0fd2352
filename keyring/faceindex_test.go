package keyring

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/facevault/facevault"
)

// TestFaceIndexKeys: a face index key is made once per scope and epoch,
// read back, rewrapped by a master rotation (and counted until it is),
// and destroyed with every older epoch's.
func TestFaceIndexKeys(t *testing.T) {
	ctx := context.Background()
	other := facevault.Scope{AccountID: "acct", Mode: facevault.ModeLive}
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			old, cur := master(t, 1), master(t, 2)
			k := mustOpen(t, url, old)
			if _, err := k.FaceIndexKey(ctx, testScope, 1); !errors.Is(err, facevault.ErrNotFound) {
				t.Fatalf("FaceIndexKey before any = %v, want ErrNotFound", err)
			}
			k1, err := k.NewFaceIndexKey(ctx, testScope, 1)
			if err != nil || len(k1) != 32 {
				t.Fatalf("NewFaceIndexKey = %x, %v", k1, err)
			}
			again, err := k.NewFaceIndexKey(ctx, testScope, 1)
			if err != nil || !bytes.Equal(again, k1) {
				t.Fatalf("NewFaceIndexKey again = %x, %v; want the key made first", again, err)
			}
			k2, err := k.NewFaceIndexKey(ctx, testScope, 2)
			if err != nil || bytes.Equal(k2, k1) {
				t.Fatalf("epoch 2 key = %x, %v; want a new one", k2, err)
			}
			ko, err := k.NewFaceIndexKey(ctx, other, 1)
			if err != nil || bytes.Equal(ko, k1) {
				t.Fatalf("other scope's key = %x, %v; want its own", ko, err)
			}

			rot := mustOpen(t, url, cur, old)
			if err := rot.Retire(ctx, old.ID()); err == nil {
				t.Fatal("Retire succeeded while face index keys are wrapped by the old master")
			}
			res, err := rot.Rotate(ctx)
			if err != nil || res.Rewrapped != 3 || res.Remaining != 0 {
				t.Fatalf("Rotate = %+v, %v; want 3 rewrapped, none remaining", res, err)
			}
			if err := rot.Retire(ctx, old.ID()); err != nil {
				t.Fatal(err)
			}
			only := mustOpen(t, url, cur)
			if got, err := only.FaceIndexKey(ctx, testScope, 1); err != nil || !bytes.Equal(got, k1) {
				t.Fatalf("after rotation: FaceIndexKey = %x, %v", got, err)
			}

			n, err := only.DestroyFaceIndexKeys(ctx, testScope, 2)
			if err != nil || n != 1 {
				t.Fatalf("DestroyFaceIndexKeys = %d, %v; want 1", n, err)
			}
			if _, err := only.FaceIndexKey(ctx, testScope, 1); !errors.Is(err, facevault.ErrNotFound) {
				t.Fatalf("destroyed key: FaceIndexKey = %v, want ErrNotFound", err)
			}
			if got, err := only.FaceIndexKey(ctx, testScope, 2); err != nil || !bytes.Equal(got, k2) {
				t.Fatalf("epoch 2 after destroying 1: %x, %v", got, err)
			}
			if got, err := only.FaceIndexKey(ctx, other, 1); err != nil || !bytes.Equal(got, ko) {
				t.Fatalf("other scope after destroying: %x, %v", got, err)
			}
		})
	}
}
