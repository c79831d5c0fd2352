// Package openapi holds FaceVault's OpenAPI 3.1 document: the API's every
// route, parameter, body and answer, written in openapi.yaml (the source)
// and served as openapi.json, generated from it by `go run
// ./internal/apidoc` (which also writes docs/api.md). The rules behind the
// shapes are in docs/contract.md.
package openapi

import _ "embed"

// JSON is the document as JSON, as GET /v1/openapi.json serves it.
//
//go:embed openapi.json
var JSON []byte
