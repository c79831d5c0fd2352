package liveness

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
)

// TestFaces: Faces finds the face Analyze measures, at the same place, and
// refuses what Analyze calls unreadable.
func TestFaces(t *testing.T) {
	a := analyzer(t)
	ctx := context.Background()
	for _, name := range []string{"pigo-sample.jpg", "astronaut.png"} {
		data := readFixture(t, name)
		img, faces, err := a.Faces(ctx, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := a.Analyze(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b := res.Breakdown.QualityAnalysis.Breakdown
		if len(faces) != res.Breakdown.IntegrityAnalysis.Breakdown.FaceCount {
			t.Fatalf("%s: Faces found %d faces, Analyze %d", name, len(faces), res.Breakdown.IntegrityAnalysis.Breakdown.FaceCount)
		}
		// Analyze reports landmarks in pixels of the full upright image.
		sx := float64(b.ImageWidthPixels) / float64(img.Rect.Dx())
		sy := float64(b.ImageHeightPixels) / float64(img.Rect.Dy())
		f := faces[0]
		for _, c := range []struct {
			name string
			got  Point
			want struct{ X, Y int }
		}{
			{"rightEye", f.RightEye, struct{ X, Y int }{b.Landmarks.RightEye.X, b.Landmarks.RightEye.Y}},
			{"leftEye", f.LeftEye, struct{ X, Y int }{b.Landmarks.LeftEye.X, b.Landmarks.LeftEye.Y}},
			{"mouth", f.Mouth, struct{ X, Y int }{b.Landmarks.Mouth.X, b.Landmarks.Mouth.Y}},
		} {
			if math.Abs(c.got.X*sx-float64(c.want.X)) > 1 || math.Abs(c.got.Y*sy-float64(c.want.Y)) > 1 {
				t.Errorf("%s: %s at %.1f,%.1f (scaled), Analyze says %d,%d", name, c.name, c.got.X*sx, c.got.Y*sy, c.want.X, c.want.Y)
			}
		}
		if f.Score <= 0.5 || f.Score > 1 {
			t.Errorf("%s: score %g", name, f.Score)
		}
	}
	if _, _, err := a.Faces(ctx, []byte("not an image")); !errors.Is(err, ErrUnreadable) {
		t.Errorf("Faces on text: got %v, want ErrUnreadable", err)
	}
}
