package evaluate

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadLabels checks ReadLabels on any bytes: it never panics, and what
// it accepts holds only valid rows: a known label with a fitting face
// count, a file name that stays inside the folder, listed once, and a line
// number within the input.
func FuzzReadLabels(f *testing.F) {
	for _, s := range []string{
		"file,label,expected_faces\na.jpg,genuine,1\n",
		"\uFEFFsource,expected_faces,file,label\nx,3,sub/b.jpg,multi\ny,0,c.png,noface\n",
		"file,label,expected_faces,notes\na.jpg,spoof,1,\"printed, \"\"glossy\"\"\nphoto\"\n",
		"file,label,expected_faces\n../a.jpg,genuine,1\n/b.jpg,noface,0\n",
		"file,label,expected_faces\na.jpg,genuine,1\na.jpg,spoof,1\n",
		"file,label\na.jpg,genuine\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		labels, err := ReadLabels(strings.NewReader(string(in)), "labels.csv")
		if err != nil {
			if labels != nil {
				t.Errorf("labels %v with error %v", labels, err)
			}
			return
		}
		if len(labels) == 0 {
			t.Fatal("no labels and no error")
		}
		lines := strings.Count(string(in), "\n") + 1
		seen := map[string]bool{}
		for _, l := range labels {
			if !filepath.IsLocal(filepath.FromSlash(l.File)) || strings.Contains(l.File, `\`) {
				t.Errorf("file %q leaves the folder", l.File)
			}
			if seen[l.File] {
				t.Errorf("file %q listed twice", l.File)
			}
			seen[l.File] = true
			if l.Line < 2 || l.Line > lines {
				t.Errorf("line %d outside 2-%d", l.Line, lines)
			}
			ok := false
			switch l.Label {
			case NoFace:
				ok = l.ExpectedFaces == 0
			case Genuine, Spoof:
				ok = l.ExpectedFaces == 1
			case Multi:
				ok = l.ExpectedFaces >= 2
			}
			if !ok {
				t.Errorf("label %q with %d faces accepted", l.Label, l.ExpectedFaces)
			}
		}
	})
}
