// Package evaluate measures the liveness check on a folder of labelled
// photos: how often it finds the right number of faces, how well its scores
// tell genuine photos from presentation attacks (ROC AUC, and APCER and
// BPCER as ISO/IEC 30107-3 defines them, at the configured thresholds and
// at the thresholds that keep BPCER within a target), and how long each
// stage of the check takes. `facevault eval` prints what it finds.
package evaluate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/facevault/facevault/internal/imgdecode"
)

// The labels a photo can have.
const (
	Genuine = "genuine" // a real person, one face (a bona fide presentation)
	Spoof   = "spoof"   // a presentation attack: a printed photo, a screen, a mask; one face
	Multi   = "multi"   // several real faces
	NoFace  = "noface"  // no human face
)

// Classes lists the labels in the order reports show them.
var Classes = []string{Genuine, Spoof, Multi, NoFace}

// Label is one row of a labels file: a photo and what it shows.
type Label struct {
	// File is the photo's path relative to the folder, with forward
	// slashes as written in the labels file.
	File          string
	Label         string
	ExpectedFaces int
	// Line is the line of the labels file the row starts on.
	Line int
}

// requiredColumns are the columns a labels file must have, in any order;
// others are ignored.
var requiredColumns = []string{"file", "label", "expected_faces"}

// ReadLabels reads a labels file: CSV whose header names the columns file,
// label and expected_faces (in any order; other columns are ignored), then
// one row per photo. name is the file's name as errors mention it. Every
// malformed row is reported, each naming its line: a label that is not
// genuine, spoof, multi or noface; an expected_faces that is not a
// non-negative integer or does not fit the label (noface 0, genuine and
// spoof 1, multi at least 2); an empty, absolute or escaping file name
// (one that leaves the folder, such as ../x.jpg); a file listed twice. A
// file with no rows is an error too.
func ReadLabels(r io.Reader, name string) ([]Label, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty: the first line must name the columns %s", name, strings.Join(requiredColumns, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte order mark, as spreadsheets write
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; dup && h != "" {
			return nil, fmt.Errorf("%s:1: column %q appears twice in the header", name, h)
		}
		col[h] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: the header lacks the column(s) %s: it must name file, label and expected_faces (got %q)",
			name, strings.Join(missing, ", "), strings.Join(header, ","))
	}
	var (
		labels []Label
		errs   []error
		seen   = map[string]int{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A CSV syntax error or a row with the wrong number of
			// fields: csv.ParseError names the line.
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				errs = append(errs, fmt.Errorf("%s:%d: %d fields, the header has %d", name, pe.StartLine, len(rec), len(header)))
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			break
		}
		line, _ := cr.FieldPos(0)
		l, err := parseRow(rec, col, line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, line, err))
			continue
		}
		if first, dup := seen[l.File]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s is already listed on line %d", name, line, l.File, first))
			continue
		}
		seen[l.File] = line
		labels = append(labels, l)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%s: no photos: the file has a header but no rows", name)
	}
	return labels, nil
}

// parseRow checks one row of a labels file.
func parseRow(rec []string, col map[string]int, line int) (Label, error) {
	file := strings.TrimSpace(rec[col["file"]])
	label := strings.TrimSpace(rec[col["label"]])
	count := strings.TrimSpace(rec[col["expected_faces"]])
	l := Label{File: file, Label: label, Line: line}
	switch {
	case file == "":
		return l, errors.New("the file column is empty")
	case strings.Contains(file, `\`) || !filepath.IsLocal(filepath.FromSlash(file)):
		return l, fmt.Errorf("file %q is outside the folder: give a path relative to it, with / between names and no ..", file)
	}
	switch label {
	case Genuine, Spoof, Multi, NoFace:
	default:
		return l, fmt.Errorf("label %q of %s is not one of genuine, spoof, multi, noface", label, file)
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return l, fmt.Errorf("expected_faces %q of %s is not a whole number of faces (0 or more)", count, file)
	}
	l.ExpectedFaces = n
	switch {
	case label == NoFace && n != 0:
		return l, fmt.Errorf("expected_faces %d of %s does not fit label noface: it must be 0", n, file)
	case (label == Genuine || label == Spoof) && n != 1:
		return l, fmt.Errorf("expected_faces %d of %s does not fit label %s: it must be 1", n, file, label)
	case label == Multi && n < 2:
		return l, fmt.Errorf("expected_faces %d of %s does not fit label multi: it must be at least 2", n, file)
	}
	return l, nil
}

// ReadLabelsFile reads the labels file at path (see ReadLabels).
func ReadLabelsFile(path string) ([]Label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	return ReadLabels(f, path)
}

// CheckPhotos checks, before any is analysed, every photo the labels name
// in the folder root: it must exist, be a regular file inside the folder
// (a symbolic link that leads out of it is refused), and be a JPEG or PNG
// whose header decodes. Every photo that fails is reported, naming the line
// of its label in labelsName.
func CheckPhotos(root *os.Root, labels []Label, labelsName string) error {
	var errs []error
	for _, l := range labels {
		if _, err := readPhoto(root, l.File); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", labelsName, l.Line, err))
		}
	}
	return errors.Join(errs...)
}

// readPhoto reads and checks one photo of the folder.
func readPhoto(root *os.Root, file string) ([]byte, error) {
	name := filepath.FromSlash(file)
	fi, err := root.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s is not in %s", file, root.Name())
	case err != nil:
		// Among others, a symbolic link that leads out of the folder.
		return nil, fmt.Errorf("%s cannot be read inside %s: %w", file, root.Name(), err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s in %s is not a regular file (%s)", file, root.Name(), fi.Mode().Type())
	}
	b, err := root.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if _, err := imgdecode.ReadHeader(b); err != nil {
		what := "its header does not decode"
		if errors.Is(err, imgdecode.ErrUnknownFormat) {
			what = "it is neither a JPEG nor a PNG"
		}
		return nil, fmt.Errorf("%s is not an image the check reads: %s", file, what)
	}
	return b, nil
}
