package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// flagged returns a live photo record of client created at at whose
// liveness outcome is outcome, with reason codes reasons.
func flagged(at time.Time, client, outcome string, reasons ...string) *facevault.LivePhoto {
	p := newPhoto(at, client)
	p.LivenessOutcome, p.LivenessReasons = outcome, reasons
	return p
}

// reviewPhotoIDs lists every photo of the review queue of s matching f.
func reviewPhotoIDs(t *testing.T, st facevault.Store, s facevault.Scope, f facevault.ReviewFilter) ([]string, int) {
	t.Helper()
	if f.Page == (facevault.Page{}) {
		f.Page = all
	}
	if f.Outcome == "" {
		f.Outcome = facevault.OutcomeAttention
	}
	ps, total, err := st.ReviewPhotos(t.Context(), s, f)
	if err != nil {
		t.Fatalf("ReviewPhotos(%+v): %v", f, err)
	}
	return photoIDs(ps), total
}

// testReviewPhotos: the review queue of photos holds the scope's photos of
// an outcome, not redacted, of clients not deleted, newest first; it
// filters by client, reason, review state and creation time; it pages in
// chunks; marking a photo reviewed takes it out; redaction empties what
// the queue keeps of the check.
func testReviewPhotos(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	bob := mustCreateClient(t, st, sc.a, newPerson(t0, "Bob", "B"))
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	a1 := mustCreatePhoto(t, st, sc.a, flagged(ms(1), alice.ID, facevault.OutcomeAttention, facevault.ReasonSharpness))
	a2 := mustCreatePhoto(t, st, sc.a, flagged(ms(2), alice.ID, facevault.OutcomeClear))
	a3 := mustCreatePhoto(t, st, sc.a, flagged(ms(3), alice.ID, facevault.OutcomeAttention,
		facevault.ReasonSpoofedImageAnalysis, facevault.ReasonLivenessCheck))
	b1 := mustCreatePhoto(t, st, sc.a, flagged(ms(4), bob.ID, facevault.OutcomeAttention, facevault.ReasonFaceDetection,
		facevault.ReasonFaceSize, facevault.ReasonFaceOrientation, facevault.ReasonSharpness, facevault.ReasonExposure,
		facevault.ReasonSpoofedImageAnalysis, facevault.ReasonLivenessCheck))
	mustCreatePhoto(t, st, sc.a, newPhoto(ms(5), bob.ID)) // no check: in no queue
	// The same account's other mode and another account: never seen.
	aliceLive := mustCreateClient(t, st, sc.aLive, newPerson(t0, "Alice", "Live"))
	mustCreatePhoto(t, st, sc.aLive, flagged(ms(6), aliceLive.ID, facevault.OutcomeAttention, facevault.ReasonSharpness))
	carol := mustCreateClient(t, st, sc.b, newPerson(t0, "Carol", "C"))
	mustCreatePhoto(t, st, sc.b, flagged(ms(7), carol.ID, facevault.OutcomeAttention, facevault.ReasonSharpness))

	got, err := st.LivePhoto(ctx, sc.a, b1.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkPhoto(t, "LivePhoto(with outcome and reasons)", got, b1)

	t.Run("OK", func(t *testing.T) {
		ids, total := reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{})
		checkIDs(t, "queue", ids, []string{b1.ID, a3.ID, a1.ID})
		if total != 3 {
			t.Errorf("total = %d, want 3", total)
		}
		ids, _ = reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Outcome: facevault.OutcomeClear})
		checkIDs(t, "outcome clear", ids, []string{a2.ID})
	})
	t.Run("Filters", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			f    facevault.ReviewFilter
			want []string
		}{
			{"client", facevault.ReviewFilter{ClientID: alice.ID}, []string{a3.ID, a1.ID}},
			{"reason sharpness", facevault.ReviewFilter{Reason: facevault.ReasonSharpness}, []string{b1.ID, a1.ID}},
			{"reason livenessCheck", facevault.ReviewFilter{Reason: facevault.ReasonLivenessCheck}, []string{b1.ID, a3.ID}},
			{"reason faceDetection", facevault.ReviewFilter{Reason: facevault.ReasonFaceDetection}, []string{b1.ID}},
			{"reason exposure of alice", facevault.ReviewFilter{ClientID: alice.ID, Reason: facevault.ReasonExposure}, []string{}},
			{"created after", facevault.ReviewFilter{ListOptions: facevault.ListOptions{
				TimeRange: facevault.TimeRange{CreatedAfter: ms(1)}}}, []string{b1.ID, a3.ID}},
			{"created before", facevault.ReviewFilter{ListOptions: facevault.ListOptions{
				TimeRange: facevault.TimeRange{CreatedBefore: ms(4)}}}, []string{a3.ID, a1.ID}},
			{"unknown client", facevault.ReviewFilter{ClientID: id(404)}, []string{}},
			{"impossible", facevault.ReviewFilter{ListOptions: facevault.ListOptions{Impossible: true}}, []string{}},
		} {
			ids, total := reviewPhotoIDs(t, st, sc.a, tt.f)
			checkIDs(t, tt.name, ids, tt.want)
			if total != len(tt.want) {
				t.Errorf("%s: total = %d, want %d", tt.name, total, len(tt.want))
			}
		}
	})
	t.Run("Chunks", func(t *testing.T) {
		f := facevault.ReviewFilter{Outcome: facevault.OutcomeAttention, ListOptions: facevault.ListOptions{
			Page: facevault.Page{Page: 1, PageSize: 3}, Limit: 2}}
		first, total, err := st.ReviewPhotos(ctx, sc.a, f)
		if err != nil {
			t.Fatal(err)
		}
		checkIDs(t, "first chunk", photoIDs(first), []string{b1.ID, a3.ID})
		if total != 3 {
			t.Errorf("total = %d, want 3", total)
		}
		f.After = &facevault.Cursor{CreatedAt: first[1].CreatedAt, ID: first[1].ID}
		next, total, err := st.ReviewPhotos(ctx, sc.a, f)
		if err != nil {
			t.Fatal(err)
		}
		checkIDs(t, "next chunk", photoIDs(next), []string{a1.ID})
		if total != -1 {
			t.Errorf("total of a continued chunk = %d, want -1", total)
		}
		f = facevault.ReviewFilter{Outcome: facevault.OutcomeAttention, ListOptions: facevault.ListOptions{
			Page: facevault.Page{Page: 2, PageSize: 2}}}
		page2, _, err := st.ReviewPhotos(ctx, sc.a, f)
		if err != nil {
			t.Fatal(err)
		}
		checkIDs(t, "page 2", photoIDs(page2), []string{a1.ID})
	})
	t.Run("MarkReviewed", func(t *testing.T) {
		at := ms(100)
		r := facevault.Review{ReviewedAt: at, Reviewer: "Rita Reviewer", Note: "Blurred, but the same person; accepted."}
		p, err := st.MarkPhotoReviewed(ctx, sc.a, a3.ID, r)
		if err != nil {
			t.Fatalf("MarkPhotoReviewed: %v", err)
		}
		if p.ID != a3.ID || p.Review == nil || !p.Review.ReviewedAt.Equal(at) || p.Review.Reviewer != r.Reviewer || p.Review.Note != r.Note {
			t.Errorf("MarkPhotoReviewed = %+v (review %+v), want review %+v", p, p.Review, r)
		}
		if !p.UpdatedAt.Equal(a3.UpdatedAt) {
			t.Errorf("updatedAt = %v, want %v unchanged: a review is no change to the photo", p.UpdatedAt, a3.UpdatedAt)
		}
		got, err := st.LivePhoto(ctx, sc.a, a3.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Review == nil || got.Review.Note != r.Note {
			t.Errorf("LivePhoto after review: review %+v, want %+v", got.Review, r)
		}
		ids, _ := reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{})
		checkIDs(t, "queue after review", ids, []string{b1.ID, a1.ID})
		ids, _ = reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Reviewed: facevault.ReviewedYes})
		checkIDs(t, "reviewed only", ids, []string{a3.ID})
		ids, _ = reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Reviewed: facevault.ReviewedBoth})
		checkIDs(t, "both", ids, []string{b1.ID, a3.ID, a1.ID})

		_, err = st.MarkPhotoReviewed(ctx, sc.b, a1.ID, r)
		wantNotFound(t, "MarkPhotoReviewed(another account's photo)", err)
		_, err = st.MarkPhotoReviewed(ctx, sc.aLive, a1.ID, r)
		wantNotFound(t, "MarkPhotoReviewed(the other mode)", err)
		_, err = st.MarkPhotoReviewed(ctx, sc.a, id(404), r)
		wantNotFound(t, "MarkPhotoReviewed(unknown)", err)
	})
	t.Run("Redacted", func(t *testing.T) {
		p, err := st.RedactLivePhoto(ctx, sc.a, a1.ID, ms(200))
		if err != nil {
			t.Fatal(err)
		}
		if p.LivenessOutcome != "" || p.LivenessReasons != nil {
			t.Errorf("redacted photo keeps outcome %q and reasons %q, want none", p.LivenessOutcome, p.LivenessReasons)
		}
		got, err := st.LivePhoto(ctx, sc.a, a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LivenessOutcome != "" || got.LivenessReasons != nil {
			t.Errorf("redacted photo read back with outcome %q and reasons %q, want none", got.LivenessOutcome, got.LivenessReasons)
		}
		for _, rv := range []string{facevault.ReviewedNo, facevault.ReviewedBoth} {
			ids, _ := reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Reviewed: rv})
			for _, id := range ids {
				if id == a1.ID {
					t.Errorf("redacted photo in the queue (reviewed %q)", rv)
				}
			}
		}
	})
	t.Run("DeletedClient", func(t *testing.T) {
		if err := st.DeleteClient(ctx, sc.a, bob.ID, ms(300)); err != nil {
			t.Fatal(err)
		}
		ids, total := reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Reviewed: facevault.ReviewedBoth})
		checkIDs(t, "queue after deleting bob", ids, []string{a3.ID})
		if total != 1 {
			t.Errorf("total = %d, want 1", total)
		}
		_, err := st.MarkPhotoReviewed(ctx, sc.a, b1.ID, facevault.Review{ReviewedAt: ms(301), Reviewer: "Rita"})
		wantNotFound(t, "MarkPhotoReviewed(photo of a deleted client)", err)
	})
}

// testReviewChecks: the review queue of checks holds the scope's complete
// checks of an outcome, filters by client, reason and review state, and
// marking one reviewed takes it out.
func testReviewChecks(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	bob := mustCreateClient(t, st, sc.a, newPerson(t0, "Bob", "B"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), alice.ID))
	pb := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), bob.ID))
	carol := mustCreateClient(t, st, sc.b, newPerson(t0, "Carol", "C"))
	pc := mustCreatePhoto(t, st, sc.b, newPhoto(t0.Add(time.Millisecond), carol.ID))

	attention := &facevault.CheckResult{Outcome: facevault.OutcomeAttention, Breakdown: facevault.CheckBreakdown{
		FaceAuthentication:     &facevault.FaceAuthentication{FacialSimilarity: facevault.OutcomeClear},
		PreviouslyEnrolledFace: &facevault.PreviouslyEnrolledFace{Outcome: facevault.OutcomeAttention},
	}}
	mismatch := &facevault.CheckResult{Outcome: facevault.OutcomeAttention, Breakdown: facevault.CheckBreakdown{
		FaceAuthentication:     &facevault.FaceAuthentication{FacialSimilarity: facevault.OutcomeAttention},
		PreviouslyEnrolledFace: &facevault.PreviouslyEnrolledFace{Outcome: facevault.OutcomeClear},
	}}
	clear := &facevault.CheckResult{Outcome: facevault.OutcomeClear, Breakdown: facevault.CheckBreakdown{
		FaceAuthentication: &facevault.FaceAuthentication{FacialSimilarity: facevault.OutcomeClear},
	}}
	// finish runs the checks of every scope, oldest first, to the given
	// results.
	finish := func(results ...*facevault.CheckResult) {
		t.Helper()
		for i, r := range results {
			c, err := st.ClaimCheck(ctx, "node", t0.Add(time.Hour), time.Minute)
			if err != nil {
				t.Fatalf("ClaimCheck %d: %v", i, err)
			}
			c.Status, c.Result, c.UpdatedAt = facevault.CheckComplete, r, t0.Add(time.Hour)
			if err := st.FinishCheck(ctx, c, "node"); err != nil {
				t.Fatal(err)
			}
		}
	}
	c1 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(10*time.Millisecond), alice.ID, pa.ID))
	c2 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(20*time.Millisecond), bob.ID, pb.ID))
	c3 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(30*time.Millisecond), alice.ID, pa.ID))
	mustCreateCheck(t, st, sc.b, newCheck(t0.Add(40*time.Millisecond), carol.ID, pc.ID))
	finish(attention, mismatch, clear, attention)
	pending := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(50*time.Millisecond), alice.ID, pa.ID))
	_ = pending // pending checks are in no queue

	list := func(f facevault.ReviewFilter) []string {
		t.Helper()
		f.Page = all
		if f.Outcome == "" {
			f.Outcome = facevault.OutcomeAttention
		}
		cs, total, err := st.ReviewChecks(ctx, sc.a, f)
		if err != nil {
			t.Fatalf("ReviewChecks(%+v): %v", f, err)
		}
		if total != len(cs) {
			t.Errorf("ReviewChecks(%+v): total %d, %d items", f, total, len(cs))
		}
		return checkIDsOf(cs)
	}
	checkIDs(t, "queue", list(facevault.ReviewFilter{}), []string{c2.ID, c1.ID})
	checkIDs(t, "clear", list(facevault.ReviewFilter{Outcome: facevault.OutcomeClear}), []string{c3.ID})
	checkIDs(t, "client", list(facevault.ReviewFilter{ClientID: alice.ID}), []string{c1.ID})
	checkIDs(t, "reason previouslyEnrolledFace", list(facevault.ReviewFilter{Reason: facevault.ReasonPreviouslyEnrolledFace}), []string{c1.ID})
	checkIDs(t, "reason faceAuthentication", list(facevault.ReviewFilter{Reason: facevault.ReasonFaceAuthentication}), []string{c2.ID})
	checkIDs(t, "reason ageEstimation", list(facevault.ReviewFilter{Reason: facevault.ReasonAgeEstimation}), []string{})

	r := facevault.Review{ReviewedAt: t0.Add(2 * time.Hour), Reviewer: "Rita", Note: "Twins; both enrolled on purpose."}
	c, err := st.MarkCheckReviewed(ctx, sc.a, c1.ID, r)
	if err != nil {
		t.Fatalf("MarkCheckReviewed: %v", err)
	}
	if c.Review == nil || c.Review.Reviewer != "Rita" || c.Review.Note != r.Note || !c.Review.ReviewedAt.Equal(r.ReviewedAt) {
		t.Errorf("MarkCheckReviewed review = %+v, want %+v", c.Review, r)
	}
	checkIDs(t, "queue after review", list(facevault.ReviewFilter{}), []string{c2.ID})
	checkIDs(t, "reviewed", list(facevault.ReviewFilter{Reviewed: facevault.ReviewedYes}), []string{c1.ID})
	_, err = st.MarkCheckReviewed(ctx, sc.b, c1.ID, r)
	wantNotFound(t, "MarkCheckReviewed(another account's check)", err)

	if err := st.DeleteClient(ctx, sc.a, bob.ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "queue after deleting bob", list(facevault.ReviewFilter{}), []string{})
}

// testLivenessSummaries: photos stored with a check but no outcome (by a
// release before the review queue) are listed in ID order for the vault to
// summarize, in every scope, but not redacted ones, those of deleted
// clients, or those without a check; a summary is recorded once, and puts
// the photo in the queue.
func testLivenessSummaries(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	check := &facevault.LivenessCheck{Outcome: facevault.OutcomeAttention}
	old := func(s facevault.Scope, client string, n int) *facevault.LivePhoto {
		p := newPhoto(t0.Add(time.Duration(n)*time.Millisecond), client)
		p.LivenessCheck = check
		return mustCreatePhoto(t, st, s, p)
	}
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	bob := mustCreateClient(t, st, sc.a, newPerson(t0, "Bob", "B"))
	carol := mustCreateClient(t, st, sc.b, newPerson(t0, "Carol", "C"))
	a1, a2, c1 := old(sc.a, alice.ID, 1), old(sc.a, alice.ID, 2), old(sc.b, carol.ID, 3)
	red := old(sc.a, alice.ID, 4)
	if _, err := st.RedactLivePhoto(ctx, sc.a, red.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	old(sc.a, bob.ID, 5)
	if err := st.DeleteClient(ctx, sc.a, bob.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(6*time.Millisecond), alice.ID))                        // no check
	mustCreatePhoto(t, st, sc.a, flagged(t0.Add(7*time.Millisecond), alice.ID, facevault.OutcomeClear)) // summarized
	list := func(after string, n int) []string {
		t.Helper()
		ps, err := st.UnsummarizedLivePhotos(ctx, after, n)
		if err != nil {
			t.Fatalf("UnsummarizedLivePhotos: %v", err)
		}
		return photoIDs(ps)
	}
	want := []string{a1.ID, a2.ID, c1.ID}
	slices.Sort(want)
	checkIDs(t, "unsummarized", list("", 10), want)
	checkIDs(t, "first two", list("", 2), want[:2])
	checkIDs(t, "after the second", list(want[1], 2), want[2:])

	if err := st.SetLivenessSummary(ctx, a1.ID, facevault.OutcomeAttention, []string{facevault.ReasonExposure}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLivenessSummary(ctx, a1.ID, facevault.OutcomeClear, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLivenessSummary(ctx, red.ID, facevault.OutcomeAttention, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.LivePhoto(ctx, sc.a, a1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LivenessOutcome != facevault.OutcomeAttention || !slices.Equal(got.LivenessReasons, []string{facevault.ReasonExposure}) {
		t.Errorf("summarized photo: outcome %q, reasons %q; want the first summary kept", got.LivenessOutcome, got.LivenessReasons)
	}
	if got, _ := st.LivePhoto(ctx, sc.a, red.ID); got == nil || got.LivenessOutcome != "" {
		t.Error("a redacted photo was given a summary")
	}
	ids, _ := reviewPhotoIDs(t, st, sc.a, facevault.ReviewFilter{Reason: facevault.ReasonExposure})
	checkIDs(t, "queue after the summary", ids, []string{a1.ID})
	rest := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id == a1.ID })
	checkIDs(t, "unsummarized after one summary", list("", 10), rest)
}
