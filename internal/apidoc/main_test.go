package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// root is the repository's root, from this package's directory.
var root = filepath.Join("..", "..")

// TestGeneratedUpToDate: openapi/openapi.json and docs/api.md are exactly
// what generating them from openapi/openapi.yaml gives, byte for byte, so
// neither can drift from the document.
func TestGeneratedUpToDate(t *testing.T) {
	if err := run(root, true); err != nil {
		t.Fatal(err)
	}
}

// TestJSONAgreesWithYAML: the served JSON is the YAML source, value for
// value.
func TestJSONAgreesWithYAML(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, sourcePath))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	var fromYAML any
	if err := doc.Decode(&fromYAML); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(root, jsonPath))
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(normalize(fromYAML))
	b, _ := json.Marshal(fromJSON)
	if string(a) != string(b) {
		t.Errorf("%s and %s differ", sourcePath, jsonPath)
	}
}

// normalize turns what YAML decodes (integers as int) into what JSON
// decodes (numbers as float64).
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case int:
		return float64(v)
	}
	return v
}

// TestRenderedCoversEveryOperation: the reference has a section for each
// operation of the document.
func TestRenderedCoversEveryOperation(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, sourcePath))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	md, err := render(doc)
	if err != nil {
		t.Fatal(err)
	}
	paths, items := pairs(get(doc, "paths"))
	n := 0
	for i := range paths {
		for _, m := range methods {
			if o := get(items[i], m); o != nil {
				n++
				if id := text(o, "operationId"); !contains(md, `<a id="`+anchor(id)+`"></a>`) {
					t.Errorf("no section for %s", id)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d operations in the document", n)
	}
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
