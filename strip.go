package facevault

import (
	"errors"

	"github.com/facevault/facevault/internal/metastrip"
)

// writerFunc is a function with the signature of Write, as an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writeStripped passes p through the upload's metadata filter, which
// stores what it keeps.
func (u *Upload) writeStripped(p []byte) (int, error) {
	if _, err := u.strip.Write(p); err != nil {
		return 0, stripError(err)
	}
	return len(p), nil
}

// finishStrip ends the upload's metadata filter, if it has one, and stores
// what the filter still held.
func (u *Upload) finishStrip() error {
	if u.strip == nil {
		return nil
	}
	return stripError(u.strip.Close())
}

// stripError turns a stream the metadata filter cannot follow into the
// 400 an invalid image gets. Other errors (of the image store) are
// returned unchanged.
func stripError(err error) error {
	var e *metastrip.Error
	if !errors.As(err, &e) {
		return err
	}
	name := "JPG or PNG"
	switch e.Format {
	case metastrip.JPEG:
		name = "JPG"
	case metastrip.PNG:
		name = "PNG"
	}
	return Invalid("data", "The image is not a valid %s file: %s at byte %d, so its metadata cannot be removed", name, e.Reason, e.Offset)
}
