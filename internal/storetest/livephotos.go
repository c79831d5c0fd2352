package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func testLivePhotos(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Photo", "Owner"))
	checked := newPhoto(t0, c.ID)
	checked.LivenessCheck = sampleLivenessCheck()
	jpeg := mustCreatePhoto(t, st, sc.a, checked)
	png := newPhoto(t0.Add(time.Second), c.ID)
	png.ContentType = facevault.ContentTypePNG
	png.PerformLivenessCheck = false
	png.Size, png.Width, png.Height = 4<<20, 10_000, 5_000
	mustCreatePhoto(t, st, sc.a, png)

	t.Run("OK", func(t *testing.T) {
		for _, want := range []*facevault.LivePhoto{jpeg, png} {
			got, err := st.LivePhoto(ctx, sc.a, want.ID)
			if err != nil {
				t.Fatalf("LivePhoto(%s): %v", want.ID, err)
			}
			checkPhoto(t, "LivePhoto", got, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, id := range []string{id(3), "", c.ID, jpeg.ID + " "} {
			got, err := st.LivePhoto(ctx, sc.a, id)
			wantNotFound(t, fmt.Sprintf("LivePhoto(%q)", id), err)
			if got != nil {
				t.Errorf("LivePhoto(%q) = %+v, want nil", id, got)
			}
		}
	})

	t.Run("MillisecondPrecision", func(t *testing.T) {
		p := newPhoto(t0, c.ID)
		p.CreatedAt = t0.Add(1_500 * time.Microsecond).In(time.FixedZone("UTC+1", 3600))
		p.UpdatedAt = p.CreatedAt
		mustCreatePhoto(t, st, sc.a, p)
		got, err := st.LivePhoto(ctx, sc.a, p.ID)
		if err != nil {
			t.Fatalf("LivePhoto: %v", err)
		}
		want := t0.Add(time.Millisecond)
		if !got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("LivePhoto times = %v, %v; want %v in UTC", got.CreatedAt, got.UpdatedAt, want)
		}
	})

	t.Run("MissingClient", func(t *testing.T) {
		t.Run("ErrNotFound", func(t *testing.T) {
			p := newPhoto(t0, id(99))
			wantNotFound(t, "CreateLivePhoto(unknown client)", st.CreateLivePhoto(ctx, sc.a, p))
			_, err := st.LivePhoto(ctx, sc.a, p.ID)
			wantNotFound(t, "LivePhoto of a failed create", err)
		})
		t.Run("Deleted", func(t *testing.T) {
			gone := mustCreateClient(t, st, sc.a, newPerson(t0, "Gone", "Soon"))
			if err := st.DeleteClient(ctx, sc.a, gone.ID, t0); err != nil {
				t.Fatalf("DeleteClient: %v", err)
			}
			p := newPhoto(t0, gone.ID)
			wantNotFound(t, "CreateLivePhoto(deleted client)", st.CreateLivePhoto(ctx, sc.a, p))
			exists, err := st.ExistingLivePhotos(ctx, []string{p.ID})
			if err != nil {
				t.Fatalf("ExistingLivePhotos: %v", err)
			}
			if exists[p.ID] {
				t.Errorf("a photo of a deleted client was stored")
			}
		})
		t.Run("OtherScope", func(t *testing.T) {
			for name, s := range map[string]facevault.Scope{"OtherMode": sc.aLive, "OtherAccount": sc.b} {
				p := newPhoto(t0, c.ID)
				wantNotFound(t, "CreateLivePhoto in "+name, st.CreateLivePhoto(ctx, s, p))
				exists, err := st.ExistingLivePhotos(ctx, []string{p.ID})
				if err != nil {
					t.Fatalf("ExistingLivePhotos: %v", err)
				}
				if exists[p.ID] {
					t.Errorf("%s: a photo of another scope's client was stored", name)
				}
			}
		})
	})

	t.Run("DuplicateID", func(t *testing.T) {
		dup := newPhoto(t0, c.ID)
		dup.ID = jpeg.ID
		dup.SHA256 = "different"
		if err := st.CreateLivePhoto(ctx, sc.a, dup); err == nil {
			t.Errorf("CreateLivePhoto with an existing ID: err = nil, want an error")
		}
		got, err := st.LivePhoto(ctx, sc.a, jpeg.ID)
		if err != nil {
			t.Fatalf("LivePhoto: %v", err)
		}
		checkPhoto(t, "LivePhoto after a duplicate create", got, jpeg)
	})
}

func testLivePhotoOrder(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Many", "Photos"))
	other := mustCreateClient(t, st, sc.a, newPerson(t0, "Other", "Client"))
	at := []time.Time{t0.Add(time.Millisecond), t0, t0.Add(time.Millisecond), t0.Add(2 * time.Millisecond), t0.Add(time.Millisecond)}
	ids := []string{id(12), id(15), id(11), id(14), id(13)}
	createdAt := map[string]time.Time{}
	for i, pid := range ids {
		p := newPhoto(at[i], c.ID)
		p.ID = pid
		mustCreatePhoto(t, st, sc.a, p)
		createdAt[pid] = at[i]
	}
	mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), other.ID))

	full := newest(ids, createdAt)
	checkIDs(t, "expected order", full, []string{id(14), id(13), id(12), id(11), id(15)})
	for _, tc := range pageCases {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: tc.page})
			checkIDs(t, "LivePhotos", photoIDs(ps), full[tc.from:tc.to])
			if n != len(ids) {
				t.Errorf("LivePhotos total = %d, want %d", n, len(ids))
			}
		})
	}

	t.Run("UnknownClient", func(t *testing.T) {
		ps, n, err := st.LivePhotos(t.Context(), sc.a, id(77), facevault.ListOptions{Page: all})
		if err != nil || len(ps) != 0 || n != 0 {
			t.Errorf("LivePhotos(unknown client) = %d items, total %d, %v; want none, nil", len(ps), n, err)
		}
	})

	t.Run("ReadsWholeRecord", func(t *testing.T) {
		ps, _ := listPhotos(t, st, sc.a, other.ID, facevault.ListOptions{Page: all})
		if len(ps) != 1 {
			t.Fatalf("LivePhotos returned %d items, want 1", len(ps))
		}
		want := newPhoto(t0.Add(time.Millisecond), other.ID)
		want.ID = ps[0].ID
		checkPhoto(t, "listed photo", ps[0], want)
	})
}

func testLivePhotoTimeFilters(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Timed", "Photos"))
	other := mustCreateClient(t, st, sc.a, newPerson(t0, "Other", "Client"))
	var ids []string
	for i := range 3 {
		p := newPhoto(created(i), c.ID)
		p.UpdatedAt = updated(i)
		mustCreatePhoto(t, st, sc.a, p)
		ids = append(ids, p.ID)
	}
	mustCreatePhoto(t, st, sc.a, newPhoto(created(1), other.ID))
	for _, tc := range timeCases() {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := listPhotos(t, st, sc.a, c.ID, tc.o)
			want := wantTimed(ids, tc.want)
			checkIDs(t, "LivePhotos", photoIDs(ps), want)
			if n != len(want) {
				t.Errorf("LivePhotos total = %d, want %d", n, len(want))
			}
		})
	}
}

func testDeleteLivePhoto(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Photo", "Owner"))

	t.Run("OK", func(t *testing.T) {
		p := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))
		kept := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))
		got, err := st.DeleteLivePhoto(ctx, sc.a, p.ID, t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("DeleteLivePhoto: %v", err)
		}
		checkPhoto(t, "DeleteLivePhoto", got, p)
		_, err = st.LivePhoto(ctx, sc.a, p.ID)
		wantNotFound(t, "LivePhoto after DeleteLivePhoto", err)
		ps, n := listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: all})
		checkIDs(t, "LivePhotos after DeleteLivePhoto", photoIDs(ps), []string{kept.ID})
		if n != 1 {
			t.Errorf("LivePhotos total = %d, want 1", n)
		}
		if _, err := st.Client(ctx, sc.a, c.ID); err != nil {
			t.Errorf("Client after DeleteLivePhoto: %v", err)
		}

		// Its key is queued, due at once, until the purge finishes it; the
		// sweep counts it as accounted for meanwhile.
		wantBacklog(t, st, facevault.PurgeBacklog{Keys: 1})
		wantExisting(t, st, []string{p.ID, kept.ID}, []string{p.ID, kept.ID})
		due, err := st.DuePurges(ctx, t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		if len(due) != 1 || due[0] != (facevault.Purge{Key: p.ID}) {
			t.Errorf("DuePurges = %+v, want %s with no attempts", due, p.ID)
		}
		if due, err := st.DuePurges(ctx, t0.Add(time.Hour-time.Millisecond), 10); err != nil || len(due) != 0 {
			t.Errorf("DuePurges before the delete = %+v, %v; want none", due, err)
		}
		if err := st.FinishPurges(ctx, []string{p.ID}); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
		wantExisting(t, st, []string{p.ID, kept.ID}, []string{kept.ID})

		_, err = st.DeleteLivePhoto(ctx, sc.a, p.ID, t0.Add(time.Hour))
		wantNotFound(t, "DeleteLivePhoto again", err)
		wantBacklog(t, st, facevault.PurgeBacklog{})
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := st.DeleteLivePhoto(ctx, sc.a, id(5), t0)
		wantNotFound(t, "DeleteLivePhoto(unknown)", err)
		_, err = st.DeleteLivePhoto(ctx, sc.a, c.ID, t0)
		wantNotFound(t, "DeleteLivePhoto(client ID)", err)
		wantBacklog(t, st, facevault.PurgeBacklog{})
	})
}

func testRedactLivePhoto(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Photo", "Owner"))

	t.Run("OK", func(t *testing.T) {
		p := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))
		first := t0.Add(time.Hour)
		got, err := st.RedactLivePhoto(ctx, sc.a, p.ID, first)
		if err != nil {
			t.Fatalf("RedactLivePhoto: %v", err)
		}
		want := *p
		want.RedactedAt, want.UpdatedAt, want.SHA256 = first, first, ""
		checkPhoto(t, "RedactLivePhoto", got, &want)
		if !got.Redacted() {
			t.Errorf("RedactLivePhoto returned a photo that is not redacted")
		}
		stored, err := st.LivePhoto(ctx, sc.a, p.ID)
		if err != nil {
			t.Fatalf("LivePhoto: %v", err)
		}
		checkPhoto(t, "LivePhoto after RedactLivePhoto", stored, &want)
		due, err := st.DuePurges(ctx, first, 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		checkIDs(t, "keys queued by the redaction", purgeKeys(due), []string{p.ID})
		if err := st.FinishPurges(ctx, []string{p.ID}); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}

		t.Run("Again", func(t *testing.T) {
			// The record keeps its first redaction, and nothing is queued
			// again: the bytes are gone already.
			got, err := st.RedactLivePhoto(ctx, sc.a, p.ID, first.Add(time.Hour))
			if err != nil {
				t.Fatalf("RedactLivePhoto again: %v", err)
			}
			checkPhoto(t, "RedactLivePhoto again", got, &want)
			stored, err := st.LivePhoto(ctx, sc.a, p.ID)
			if err != nil {
				t.Fatalf("LivePhoto: %v", err)
			}
			checkPhoto(t, "LivePhoto after a second RedactLivePhoto", stored, &want)
			wantBacklog(t, st, facevault.PurgeBacklog{})
		})

		t.Run("StillListed", func(t *testing.T) {
			ps, n := listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: all,
				TimeRange: facevault.TimeRange{UpdatedAfter: first.Add(-time.Millisecond)}})
			checkIDs(t, "LivePhotos updated after the redaction", photoIDs(ps), []string{p.ID})
			if n != 1 {
				t.Errorf("LivePhotos total = %d, want 1", n)
			}
			ps, n = listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: all})
			if n != 1 || len(ps) != 1 {
				t.Errorf("LivePhotos = %d items, total %d; want the redacted photo counted", len(ps), n)
			}
			wantExisting(t, st, []string{p.ID}, []string{p.ID})
		})
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		got, err := st.RedactLivePhoto(ctx, sc.a, id(8), t0)
		wantNotFound(t, "RedactLivePhoto(unknown)", err)
		if got != nil {
			t.Errorf("RedactLivePhoto(unknown) = %+v, want nil", got)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
	})
}

func testExistingLivePhotos(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)

	t.Run("Empty", func(t *testing.T) {
		for _, ids := range [][]string{nil, {}} {
			got, err := st.ExistingLivePhotos(ctx, ids)
			if err != nil || len(got) != 0 {
				t.Errorf("ExistingLivePhotos(%v) = %v, %v; want none", ids, got, err)
			}
		}
	})

	// Photos in every scope, spread over many more IDs than one SQL
	// statement can take as parameters.
	var stored []string
	for _, s := range []facevault.Scope{sc.a, sc.aLive, sc.b} {
		c := mustCreateClient(t, st, s, newPerson(t0, "Any", "Scope"))
		for range 2 {
			stored = append(stored, mustCreatePhoto(t, st, s, newPhoto(t0, c.ID)).ID)
		}
	}
	const n = 2500
	ids := make([]string, 0, n+len(stored)+3)
	k := 0
	for i := range n {
		if i%450 == 0 && k < len(stored) {
			ids = append(ids, stored[k])
			k++
		}
		ids = append(ids, id(1_000_000+i))
	}
	ids = append(ids, stored[k:]...)
	ids = append(ids, stored[0], "", "'; DROP TABLE live_photos; --") // a duplicate and junk

	got, err := st.ExistingLivePhotos(ctx, ids)
	if err != nil {
		t.Fatalf("ExistingLivePhotos(%d IDs): %v", len(ids), err)
	}
	var present []string
	for id, ok := range got {
		if ok {
			present = append(present, id)
		}
	}
	slices.Sort(present)
	want := slices.Sorted(slices.Values(stored))
	checkIDs(t, "ExistingLivePhotos", present, want)
}

func testScopeIsolation(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, fullPerson(t0))
	p := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))

	for name, s := range map[string]facevault.Scope{"OtherMode": sc.aLive, "OtherAccount": sc.b, "OtherAccountLive": {AccountID: sc.b.AccountID, Mode: facevault.ModeLive}} {
		t.Run(name, func(t *testing.T) {
			var called bool
			ops := clientOps(st, s, c.ID, &called)
			maps.Copy(ops, map[string]func(ctx context.Context) error{
				"LivePhoto": func(ctx context.Context) error {
					_, err := st.LivePhoto(ctx, s, p.ID)
					return err
				},
				"DeleteLivePhoto": func(ctx context.Context) error {
					_, err := st.DeleteLivePhoto(ctx, s, p.ID, t0.Add(time.Hour))
					return err
				},
				"RedactLivePhoto": func(ctx context.Context) error {
					_, err := st.RedactLivePhoto(ctx, s, p.ID, t0.Add(time.Hour))
					return err
				},
				"CreateLivePhoto": func(ctx context.Context) error {
					return st.CreateLivePhoto(ctx, s, newPhoto(t0, c.ID))
				},
			})
			for _, op := range slices.Sorted(maps.Keys(ops)) {
				t.Run(op, func(t *testing.T) {
					t.Run("ErrNotFound", func(t *testing.T) {
						called = false
						wantNotFound(t, op, ops[op](ctx))
						if called {
							t.Errorf("%s called its callback on another scope's object", op)
						}
					})
				})
			}

			t.Run("Clients", func(t *testing.T) {
				for _, fields := range []map[string]string{
					nil,
					{"email": c.Email},
					{"type": "person"},
					{"metadata.tier": "gold"},
					{"personDetails.lastName": "Lovelace"},
				} {
					cs, n := listClients(t, st, s, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: all}, Fields: fields})
					if len(cs) != 0 || n != 0 {
						t.Errorf("Clients(%v) = %d items, total %d; want none", fields, len(cs), n)
					}
				}
			})
			t.Run("LivePhotos", func(t *testing.T) {
				ps, n := listPhotos(t, st, s, c.ID, facevault.ListOptions{Page: all})
				if len(ps) != 0 || n != 0 {
					t.Errorf("LivePhotos = %d items, total %d; want none", len(ps), n)
				}
			})
		})
	}

	t.Run("Untouched", func(t *testing.T) {
		got, err := st.Client(ctx, sc.a, c.ID)
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		checkClient(t, "Client", got, c)
		gotPhoto, err := st.LivePhoto(ctx, sc.a, p.ID)
		if err != nil {
			t.Fatalf("LivePhoto: %v", err)
		}
		checkPhoto(t, "LivePhoto", gotPhoto, p)
		ps, n := listPhotos(t, st, sc.a, c.ID, facevault.ListOptions{Page: all})
		checkIDs(t, "LivePhotos", photoIDs(ps), []string{p.ID})
		if n != 1 {
			t.Errorf("LivePhotos total = %d, want 1", n)
		}
		cs, n := listClients(t, st, sc.a, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: all}})
		checkIDs(t, "Clients", clientIDs(cs), []string{c.ID})
		if n != 1 {
			t.Errorf("Clients total = %d, want 1", n)
		}
	})
}

// sampleLivenessCheck is a liveness check result with every field set, so
// that a round trip through the store shows each one is kept.
func sampleLivenessCheck() *facevault.LivenessCheck {
	return &facevault.LivenessCheck{
		Outcome: facevault.OutcomeAttention,
		Engine:  "BlazeFace back 256x256 (test); presentation attack test",
		Breakdown: facevault.LivenessBreakdown{
			IntegrityAnalysis: facevault.IntegrityAnalysis{
				FaceDetection: facevault.OutcomeClear,
				Breakdown:     facevault.IntegrityBreakdown{FaceCount: 1, ImageReadable: true},
			},
			QualityAnalysis: &facevault.QualityAnalysis{
				FaceSize: facevault.OutcomeClear, FaceOrientation: facevault.OutcomeAttention,
				Sharpness: facevault.OutcomeClear, Exposure: facevault.OutcomeClear,
				Breakdown: facevault.QualityBreakdown{
					FaceWidthPixels: 412, FaceShare: 0.43, FaceTouchesBorder: true, PupilsFound: 2,
					RollDegrees: -21.5, SharpnessVariance: 312.25, MeanLuminance: 121.5, ClippedShare: 0.015,
					DetectionQuality: 0.875, ImageWidthPixels: 960, ImageHeightPixels: 1280, ExifOrientation: 6,
					FaceBox: &facevault.FaceBox{X: -12, Y: 340, Width: 412, Height: 398},
					Landmarks: &facevault.FaceLandmarks{RightEye: facevault.Point{X: 80, Y: 470}, LeftEye: facevault.Point{X: 230, Y: 466},
						Nose: facevault.Point{X: 160, Y: 560}, Mouth: facevault.Point{X: 158, Y: 640},
						RightEar: facevault.Point{X: -5, Y: 520}, LeftEar: facevault.Point{X: 380, Y: 515}},
				},
			},
			AuthenticityAnalysis: &facevault.AuthenticityAnalysis{
				SpoofedImageAnalysis: facevault.OutcomeClear, LivenessCheck: facevault.OutcomeClear,
				Breakdown: facevault.AuthenticityBreakdown{LivenessCheckScore: new(88)},
			},
		},
	}
}

// testLivePhotoOwners: the client of each live photo, in any scope; none
// for photos of deleted clients, deleted photos or unknown ids.
func testLivePhotoOwners(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	a := mustCreateClient(t, st, sc.a, newPerson(t0, "A", "A"))
	b := mustCreateClient(t, st, sc.b, newPerson(t0, "B", "B"))
	gone := mustCreateClient(t, st, sc.a, newPerson(t0, "G", "G"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0, a.ID))
	pb := mustCreatePhoto(t, st, sc.b, newPhoto(t0, b.ID))
	pg := mustCreatePhoto(t, st, sc.a, newPhoto(t0, gone.ID))
	pd := mustCreatePhoto(t, st, sc.a, newPhoto(t0, a.ID))
	if err := st.DeleteClient(ctx, sc.a, gone.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteLivePhoto(ctx, sc.a, pd.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := st.LivePhotoOwners(ctx, []string{pa.ID, pb.ID, pg.ID, pd.ID, id(777777), "not an id"})
	if err != nil {
		t.Fatalf("LivePhotoOwners: %v", err)
	}
	want := map[string]facevault.PhotoRef{
		pa.ID: {Scope: sc.a, ClientID: a.ID, PhotoID: pa.ID, SHA256: pa.SHA256},
		pb.ID: {Scope: sc.b, ClientID: b.ID, PhotoID: pb.ID, SHA256: pb.SHA256},
	}
	if !maps.Equal(got, want) {
		t.Errorf("LivePhotoOwners = %v, want %v", got, want)
	}
}
