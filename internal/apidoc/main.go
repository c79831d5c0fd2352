// Command apidoc generates, from the API's OpenAPI document
// (openapi/openapi.yaml), the JSON the server serves (openapi/openapi.json)
// and the Markdown API reference (docs/api.md). Run it from the
// repository's root after changing the document:
//
//	go run ./internal/apidoc
//
// With -check it changes nothing and fails if either file differs from
// what it would write.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// The files, relative to the repository's root.
const (
	sourcePath   = "openapi/openapi.yaml"
	jsonPath     = "openapi/openapi.json"
	markdownPath = "docs/api.md"
)

func main() {
	check := flag.Bool("check", false, "fail if the generated files are not up to date, and write nothing")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

// run generates the files under root, or with check compares them.
func run(root string, check bool) error {
	files, err := generate(root)
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, f.path)
		if check {
			old, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if !bytes.Equal(old, f.data) {
				return fmt.Errorf("%s is not up to date with %s: run go run ./internal/apidoc", f.path, sourcePath)
			}
			continue
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type file struct {
	path string
	data []byte
}

// generate returns the generated files' contents.
func generate(root string) ([]file, error) {
	src, err := os.ReadFile(filepath.Join(root, sourcePath))
	if err != nil {
		return nil, err
	}
	doc, err := parseYAML(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", sourcePath, err)
	}
	js, err := toJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", sourcePath, err)
	}
	md, err := render(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", sourcePath, err)
	}
	return []file{{jsonPath, js}, {markdownPath, md}}, nil
}
