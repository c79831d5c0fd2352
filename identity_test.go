package facevault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/facevault/facevault"
)

func TestStoreID(t *testing.T) {
	a, b := facevault.NewStoreID(), facevault.NewStoreID()
	if a == b || !facevault.ValidStoreID(a) || !facevault.ValidStoreID(b) {
		t.Fatalf("NewStoreID gave %q and %q: want two valid, different ids", a, b)
	}
	for _, bad := range []string{"", a[:31], a + "0", strings.ToUpper(a), a[:31] + "g", a[:31] + "\n"} {
		if facevault.ValidStoreID(bad) {
			t.Errorf("ValidStoreID(%q) = true", bad)
		}
	}
}

// TestBind runs facevault.Bind over every combination of markers and
// evidence, on a real SQLite database and image directory.
func TestBind(t *testing.T) {
	const (
		none        = iota // the image store holds no image
		withRecords        // images, some with a record
		noRecords          // images, none with a record
	)
	type marks struct{ records, images bool }
	for _, tc := range []struct {
		name     string
		marks    marks
		sameID   bool // when both are marked
		images   int
		force    bool
		wantErr  bool
		forcible bool
	}{
		{name: "FirstUse", images: none},
		{name: "Upgrade", images: withRecords},
		{name: "NewRecordStoreNextToImages", images: noRecords, wantErr: true, forcible: true},
		{name: "NewRecordStoreNextToImagesForced", images: noRecords, force: true},
		{name: "BothMarkedSame", marks: marks{true, true}, sameID: true, images: withRecords},
		{name: "BothMarkedDifferent", marks: marks{true, true}, images: withRecords, wantErr: true},
		{name: "BothMarkedDifferentForced", marks: marks{true, true}, images: withRecords, force: true, wantErr: true},
		{name: "NewImageStore", marks: marks{records: true}, images: none},
		{name: "ImageMarkerLost", marks: marks{records: true}, images: withRecords},
		{name: "OtherImagesUnmarked", marks: marks{records: true}, images: noRecords, wantErr: true, forcible: true},
		{name: "RecordStoreFromOldBackup", marks: marks{images: true}, images: withRecords},
		{name: "NewRecordStoreNextToMarkedImages", marks: marks{images: true}, images: noRecords, wantErr: true, forcible: true},
		{name: "NewRecordStoreNextToMarkedImagesForced", marks: marks{images: true}, images: noRecords, force: true},
		{name: "NewRecordStoreNextToMarkedEmptyStore", marks: marks{images: true}, images: none, wantErr: true, forcible: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			f := newSweepFixture(t)
			switch tc.images {
			case withRecords:
				f.photo(t)
				f.orphan(t)
				f.photo(t)
			case noRecords:
				f.orphan(t)
				f.orphan(t)
			}
			var rid, iid string
			if tc.marks.records {
				rid, _ = f.db.BindStoreID(ctx, facevault.NewStoreID())
			}
			if tc.marks.images {
				iid = facevault.NewStoreID()
				if tc.sameID {
					iid = rid
				}
				iid, _ = f.blobs.BindStoreID(ctx, iid)
			}
			pair := facevault.Pair{Records: f.db, RecordsAt: "sqlite:///r/facevault.db", Images: f.blobs, ImagesAt: "file:///i/blobs"}
			id, err := facevault.Bind(ctx, pair, tc.force)
			gotR, _ := f.db.StoreID(ctx)
			gotI, _ := f.blobs.StoreID(ctx)
			if tc.wantErr {
				var pe *facevault.PairError
				if !errors.As(err, &pe) {
					t.Fatalf("Bind = %q, %v; want a *PairError", id, err)
				}
				if pe.Forcible != tc.forcible {
					t.Errorf("Forcible = %v, want %v", pe.Forcible, tc.forcible)
				}
				for _, w := range []string{pair.RecordsAt, pair.ImagesAt, "Nothing was changed"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("message %q does not contain %q", err, w)
					}
				}
				if tc.forcible != strings.Contains(err.Error(), "sweep --force") {
					t.Errorf("message %q: mentions sweep --force = %v, want %v", err, !tc.forcible, tc.forcible)
				}
				if gotR != rid || gotI != iid {
					t.Errorf("a refused Bind changed the ids: record store %q→%q, image store %q→%q", rid, gotR, iid, gotI)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			if !facevault.ValidStoreID(id) || gotR != id || gotI != id {
				t.Errorf("Bind = %q; the record store holds %q and the image store %q: want the same valid id in both", id, gotR, gotI)
			}
			if rid != "" && id != rid || iid != "" && id != iid {
				t.Errorf("Bind = %q, want the id recorded before (record store %q, image store %q)", id, rid, iid)
			}
			if again, err := facevault.Bind(ctx, pair, false); err != nil || again != id {
				t.Errorf("second Bind = %q, %v; want %q", again, err, id)
			}
		})
	}
}

func TestInUse(t *testing.T) {
	f := newSweepFixture(t)
	if id, has, err := facevault.InUse(t.Context(), f.blobs); err != nil || id != "" || has {
		t.Errorf("InUse of a new image store = %q, %v, %v; want \"\", false, nil", id, has, err)
	}
	f.orphan(t)
	if id, has, err := facevault.InUse(t.Context(), f.blobs); err != nil || id != "" || !has {
		t.Errorf("InUse of an image store with an image = %q, %v, %v; want \"\", true, nil", id, has, err)
	}
	want, _ := f.blobs.BindStoreID(t.Context(), facevault.NewStoreID())
	if id, has, err := facevault.InUse(t.Context(), f.blobs); err != nil || id != want || !has {
		t.Errorf("InUse of a marked image store = %q, %v, %v; want %q, true, nil", id, has, err, want)
	}
}
