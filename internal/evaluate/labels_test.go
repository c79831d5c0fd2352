package evaluate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

func TestReadLabels(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		// Columns in another order, extra columns, a byte order mark,
		// quoted fields with commas and a line break, a subfolder.
		in := "\uFEFFsource,expected_faces,file,label,notes\n" +
			"x,1,a.jpg,genuine,\"studio, dark\"\n" +
			"y,1,sub/b.png,spoof,\"two\nlines\"\n" +
			"z,3,c.jpg,multi,\n" +
			"w,0,d.jpg,noface,\n"
		got, err := ReadLabels(strings.NewReader(in), "labels.csv")
		if err != nil {
			t.Fatal(err)
		}
		want := []Label{
			{File: "a.jpg", Label: Genuine, ExpectedFaces: 1, Line: 2},
			{File: "sub/b.png", Label: Spoof, ExpectedFaces: 1, Line: 3},
			{File: "c.jpg", Label: Multi, ExpectedFaces: 3, Line: 5},
			{File: "d.jpg", Label: NoFace, ExpectedFaces: 0, Line: 6},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})

	const header = "file,label,expected_faces\n"
	for _, tc := range []struct {
		name string
		in   string
		want []string // each must appear in the error
	}{
		{"ErrEmpty", "", []string{"labels.csv: empty", "file,label,expected_faces"}},
		{"ErrNoRows", header, []string{"labels.csv: no photos"}},
		{"ErrHeaderMissingColumn", "file,label,faces\na.jpg,genuine,1\n", []string{"labels.csv:1:", "expected_faces"}},
		{"ErrHeaderMissingAll", "name,kind\na.jpg,genuine\n", []string{"labels.csv:1:", "file, label, expected_faces"}},
		{"ErrHeaderDuplicate", "file,label,expected_faces,label\na.jpg,genuine,1,spoof\n", []string{"labels.csv:1:", `"label" appears twice`}},
		{"ErrBadLabel", header + "a.jpg,genuine,1\nb.jpg,fake,1\n", []string{"labels.csv:3:", `label "fake" of b.jpg`}},
		{"ErrLabelCase", header + "a.jpg,Genuine,1\n", []string{"labels.csv:2:", `label "Genuine"`}},
		{"ErrCountNotNumber", header + "a.jpg,genuine,one\n", []string{"labels.csv:2:", `expected_faces "one" of a.jpg`}},
		{"ErrCountNegative", header + "a.jpg,noface,-1\n", []string{"labels.csv:2:", `expected_faces "-1"`}},
		{"ErrCountEmpty", header + "a.jpg,genuine,\n", []string{"labels.csv:2:", `expected_faces ""`}},
		{"ErrCountNoface", header + "a.jpg,noface,1\n", []string{"labels.csv:2:", "label noface: it must be 0"}},
		{"ErrCountGenuine", header + "a.jpg,genuine,2\n", []string{"labels.csv:2:", "label genuine: it must be 1"}},
		{"ErrCountSpoof", header + "a.jpg,spoof,0\n", []string{"labels.csv:2:", "label spoof: it must be 1"}},
		{"ErrCountMulti", header + "a.jpg,multi,1\n", []string{"labels.csv:2:", "label multi: it must be at least 2"}},
		{"ErrFileEmpty", header + ",genuine,1\n", []string{"labels.csv:2:", "file column is empty"}},
		{"ErrFileParent", header + "../a.jpg,genuine,1\n", []string{"labels.csv:2:", `"../a.jpg" is outside the folder`}},
		{"ErrFileEscapes", header + "sub/../../a.jpg,genuine,1\n", []string{"labels.csv:2:", "outside the folder"}},
		{"ErrFileAbsolute", header + "/etc/passwd,genuine,1\n", []string{"labels.csv:2:", `"/etc/passwd" is outside the folder`}},
		{"ErrFileBackslash", header + `..\a.jpg,genuine,1` + "\n", []string{"labels.csv:2:", "outside the folder"}},
		{"ErrDuplicate", header + "a.jpg,genuine,1\nb.jpg,genuine,1\na.jpg,spoof,1\n", []string{"labels.csv:4: a.jpg is already listed on line 2"}},
		{"ErrFieldCount", header + "a.jpg,genuine\n", []string{"labels.csv:2: 2 fields, the header has 3"}},
		{"ErrQuote", header + "a.jpg,\"genuine,1\n", []string{"labels.csv", "line 2"}},
		// Every malformed row is reported, not only the first.
		{"ErrEveryRow", header + "a.jpg,fake,1\nb.jpg,genuine,x\nc.jpg,genuine,1\n../d.jpg,noface,0\n",
			[]string{"labels.csv:2:", "labels.csv:3:", "labels.csv:5:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabels(strings.NewReader(tc.in), "labels.csv")
			if err == nil {
				t.Fatalf("no error, labels %+v", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestReadLabelsFile(t *testing.T) {
	_, err := ReadLabelsFile(filepath.Join(t.TempDir(), "missing.csv"))
	if err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("got %v, want an error naming missing.csv", err)
	}
}

func TestCheckPhotos(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	mustWrite(t, filepath.Join(photos, "face.jpg"), testimage.JPEG(64, 64, 1))
	mustWrite(t, filepath.Join(photos, "sub", "face.png"), testimage.PNG(64, 64, 2))
	mustWrite(t, filepath.Join(photos, "notes.txt"), []byte("not an image"))
	mustWrite(t, filepath.Join(photos, "broken.jpg"), []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 2})
	mustWrite(t, filepath.Join(dir, "outside.jpg"), testimage.JPEG(64, 64, 3))
	if err := os.Mkdir(filepath.Join(photos, "dir.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside.jpg", filepath.Join(photos, "escape.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("face.jpg", filepath.Join(photos, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(photos)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	t.Run("OK", func(t *testing.T) {
		labels := []Label{{File: "face.jpg", Line: 2}, {File: "sub/face.png", Line: 3}, {File: "link.jpg", Line: 4}}
		if err := CheckPhotos(root, labels, "labels.csv"); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"ErrMissing", "nobody.jpg", []string{"labels.csv:7: nobody.jpg is not in " + photos}},
		{"ErrNotAnImage", "notes.txt", []string{"labels.csv:7: notes.txt is not an image", "neither a JPEG nor a PNG"}},
		{"ErrBrokenHeader", "broken.jpg", []string{"labels.csv:7: broken.jpg is not an image", "header does not decode"}},
		{"ErrDirectory", "dir.jpg", []string{"labels.csv:7: dir.jpg in " + photos + " is not a regular file"}},
		{"ErrSymlinkEscapes", "escape.jpg", []string{"labels.csv:7: escape.jpg cannot be read inside " + photos, "escapes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := []Label{{File: "face.jpg", Line: 2}, {File: tc.file, Line: 7}}
			err := CheckPhotos(root, labels, "labels.csv")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), ":2:") {
				t.Errorf("error %q blames the good photo on line 2", err)
			}
		})
	}
	t.Run("ErrEveryPhoto", func(t *testing.T) {
		labels := []Label{{File: "nobody.jpg", Line: 2}, {File: "face.jpg", Line: 3}, {File: "notes.txt", Line: 4}}
		err := CheckPhotos(root, labels, "labels.csv")
		if err == nil || !strings.Contains(err.Error(), "labels.csv:2:") || !strings.Contains(err.Error(), "labels.csv:4:") {
			t.Errorf("got %v, want errors for lines 2 and 4", err)
		}
	})
}

func mustWrite(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
