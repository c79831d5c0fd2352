package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// methods are the operations of a path item, in the order they are shown.
var methods = []string{"get", "post", "put", "patch", "delete"}

// get returns the value of key in the mapping n, aliases followed; nil if
// there is none.
func get(n *yaml.Node, key string) *yaml.Node {
	n = unalias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return unalias(n.Content[i+1])
		}
	}
	return nil
}

func unalias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// text returns the scalar value of key in n, or "".
func text(n *yaml.Node, key string) string {
	if v := get(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// pairs returns the keys and values of a mapping, in order.
func pairs(n *yaml.Node) (keys []string, values []*yaml.Node) {
	n = unalias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
		values = append(values, unalias(n.Content[i+1]))
	}
	return keys, values
}

// items returns the elements of a sequence.
func items(n *yaml.Node) []*yaml.Node {
	n = unalias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = unalias(c)
	}
	return out
}

// renderer writes the Markdown reference of one document.
type renderer struct {
	root *yaml.Node
	b    bytes.Buffer
	err  error
}

// resolve follows a local $ref ("#/components/...") and returns the node
// it names and the last element of the reference.
func (r *renderer) resolve(n *yaml.Node) (*yaml.Node, string) {
	ref := text(n, "$ref")
	if ref == "" {
		return n, ""
	}
	t := r.root
	parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	for _, p := range parts {
		t = get(t, p)
	}
	if t == nil && r.err == nil {
		r.err = fmt.Errorf("unresolved reference %s", ref)
	}
	return t, parts[len(parts)-1]
}

func (r *renderer) printf(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

// render returns the Markdown API reference of doc.
func render(doc *yaml.Node) ([]byte, error) {
	r := &renderer{root: doc}
	info := get(doc, "info")
	r.printf("# %s reference\n\n", text(info, "title"))
	r.printf("<!-- Generated from openapi/openapi.yaml by `go run ./internal/apidoc`: edit that file, not this one. -->\n\n")
	r.printf("This is the reference of every route, parameter, body and answer, generated from the OpenAPI %s document\n", text(doc, "openapi"))
	r.printf("[`openapi/openapi.yaml`](../openapi/openapi.yaml), which a running server also serves as JSON at\n")
	r.printf("`GET /v1/openapi.json`. The rules behind it (ordering, durability, what each answer promises) are in the\n")
	r.printf("wire contract, [`docs/contract.md`](contract.md).\n\n")
	r.printf("%s\n", strings.TrimSpace(text(info, "description")))
	r.printf("\n## Authentication\n\n")
	_, schemes := pairs(get(get(doc, "components"), "securitySchemes"))
	for _, s := range schemes {
		r.printf("`%s: <key>` header. %s\n", text(s, "name"), oneLine(text(s, "description")))
	}

	// Operations, grouped by their first tag in the order of the tags.
	type op struct {
		method, path string
		item, node   *yaml.Node
	}
	byTag := map[string][]op{}
	// The API's paths, then the requests the API makes (OpenAPI 3.1's
	// webhooks), shown as sent to the receiver's URL.
	for _, section := range []struct{ key, prefix string }{{"paths", ""}, {"webhooks", "{webhook url} "}} {
		paths, items := pairs(get(doc, section.key))
		for i, p := range paths {
			if section.prefix != "" {
				p = section.prefix + "(" + p + ")"
			}
			for _, m := range methods {
				if o := get(items[i], m); o != nil {
					tags := itemsText(get(o, "tags"))
					if len(tags) == 0 {
						tags = []string{"Other"}
					}
					byTag[tags[0]] = append(byTag[tags[0]], op{m, p, items[i], o})
				}
			}
		}
	}
	var tagNames []string
	tagDescs := map[string]string{}
	for _, t := range itemsOf(get(doc, "tags")) {
		tagNames = append(tagNames, text(t, "name"))
		tagDescs[text(t, "name")] = text(t, "description")
	}
	r.printf("\n## Operations\n\n")
	for _, tag := range tagNames {
		r.printf("- %s:", tag)
		for i, o := range byTag[tag] {
			sep := ","
			if i == 0 {
				sep = ""
			}
			r.printf("%s [`%s %s`](#%s)", sep, strings.ToUpper(o.method), o.path, anchor(text(o.node, "operationId")))
		}
		r.printf("\n")
	}
	for _, tag := range tagNames {
		r.printf("\n## %s\n\n%s\n", tag, oneLine(tagDescs[tag]))
		for _, o := range byTag[tag] {
			r.operation(o.method, o.path, o.item, o.node)
		}
	}
	r.schemas()
	if r.err != nil {
		return nil, r.err
	}
	return r.b.Bytes(), nil
}

func itemsOf(n *yaml.Node) []*yaml.Node { return items(n) }

func itemsText(n *yaml.Node) []string {
	var out []string
	for _, c := range items(n) {
		out = append(out, c.Value)
	}
	return out
}

// anchor is the heading anchor an operation id or schema name is given.
func anchor(id string) string { return strings.ToLower(id) }

// oneLine joins a description's lines, for a table cell or a list.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func (r *renderer) operation(method, path string, item, o *yaml.Node) {
	id := text(o, "operationId")
	r.printf("\n<a id=\"%s\"></a>\n### %s\n\n```\n%s %s\n```\n\n", anchor(id), text(o, "summary"), strings.ToUpper(method), path)
	if d := strings.TrimSpace(text(o, "description")); d != "" {
		r.printf("%s\n\n", d)
	}
	auth := "an API key"
	if sec := get(o, "security"); sec != nil && len(sec.Content) == 0 {
		auth = "none"
	}
	r.printf("Operation `%s`; authentication: %s.\n", id, auth)

	params := append(items(get(item, "parameters")), items(get(o, "parameters"))...)
	if len(params) > 0 {
		r.printf("\n| Parameter | In | Type | Required | Description |\n| --- | --- | --- | --- | --- |\n")
		for _, p := range params {
			p, _ = r.resolve(p)
			req := ""
			if text(p, "required") == "true" {
				req = "yes"
			}
			r.printf("| `%s` | %s | %s | %s | %s |\n", text(p, "name"), text(p, "in"), r.typeOf(get(p, "schema")), req, oneLine(text(p, "description")))
		}
	}
	if body := get(o, "requestBody"); body != nil {
		req := "optional"
		if text(body, "required") == "true" {
			req = "required"
		}
		ctypes, contents := pairs(get(body, "content"))
		for i, ct := range ctypes {
			r.printf("\nRequest body (`%s`, %s): %s", ct, req, r.typeOf(get(contents[i], "schema")))
			if d := text(body, "description"); d != "" {
				r.printf(". %s", oneLine(d))
			}
			r.printf("\n")
			r.examples(contents[i])
		}
	}
	r.printf("\n| Status | Meaning | Body |\n| --- | --- | --- |\n")
	codes, responses := pairs(get(o, "responses"))
	var examples []*yaml.Node
	var exampleCodes []string
	for i, code := range codes {
		res, _ := r.resolve(responses[i])
		body := "none"
		ctypes, contents := pairs(get(res, "content"))
		for j, ct := range ctypes {
			body = r.typeOf(get(contents[j], "schema"))
			if ct != "application/json" {
				body += fmt.Sprintf(" (`%s`)", ct)
			}
			if strings.HasPrefix(code, "2") {
				examples = append(examples, contents[j])
				exampleCodes = append(exampleCodes, code)
			}
		}
		hk, _ := pairs(get(res, "headers"))
		hk = slices.DeleteFunc(hk, func(h string) bool { return h == "X-Request-Id" })
		if len(hk) > 0 {
			body += "; headers " + strings.Join(wrap(hk, "`"), ", ")
		}
		r.printf("| %s | %s | %s |\n", code, oneLine(text(res, "description")), body)
	}
	for i, c := range examples {
		if get(c, "examples") != nil {
			r.printf("\nExample answer (%s):\n", exampleCodes[i])
			r.examples(c)
		}
	}
}

func wrap(ss []string, q string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q + s + q
	}
	return out
}

// examples writes the examples of a media type as JSON blocks.
func (r *renderer) examples(media *yaml.Node) {
	_, exs := pairs(get(media, "examples"))
	for _, ex := range exs {
		ex, _ = r.resolve(ex)
		v := get(ex, "value")
		if v == nil {
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			r.printf("\n```\n%s\n```\n", strings.TrimSuffix(v.Value, "\n"))
			continue
		}
		js, err := toJSON(v)
		if err != nil && r.err == nil {
			r.err = err
		}
		r.printf("\n```json\n%s```\n", js)
	}
}

// typeOf describes a schema in a few words, linking named schemas.
func (r *renderer) typeOf(s *yaml.Node) string {
	if s == nil {
		return ""
	}
	if _, name := r.resolve(s); name != "" {
		return fmt.Sprintf("[`%s`](#%s)", name, anchor(name))
	}
	if all := items(get(s, "allOf")); len(all) > 0 {
		_, first := r.resolve(all[0])
		switch first {
		case "ListEnvelope":
			for _, a := range all[1:] {
				if it := get(get(a, "properties"), "items"); it != nil {
					return fmt.Sprintf("[list](#listenvelope) of %s", r.typeOf(get(it, "items")))
				}
			}
		case "Error":
			for _, a := range all[1:] {
				if e := get(get(get(a, "properties"), "type"), "enum"); e != nil {
					return fmt.Sprintf("[error](#error): %s", strings.Join(wrap(itemsText(e), "`"), ", "))
				}
			}
		}
		var parts []string
		for _, a := range all {
			if t := r.typeOf(a); t != "any" { // a part that only requires fields
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, " and ")
	}
	var t string
	if ty := get(s, "type"); ty != nil && ty.Kind == yaml.SequenceNode {
		t = strings.Join(itemsText(ty), " or ")
	} else {
		t = text(s, "type")
	}
	switch {
	case get(s, "const") != nil:
		return "`" + text(s, "const") + "`"
	case get(s, "enum") != nil:
		return strings.Join(wrap(itemsText(get(s, "enum")), "`"), ", ")
	case t == "array":
		return "array of " + r.typeOf(get(s, "items"))
	case t == "object" && get(s, "additionalProperties") != nil && get(s, "additionalProperties").Kind == yaml.MappingNode:
		return "map of " + r.typeOf(get(s, "additionalProperties"))
	case t == "":
		t = "any"
	}
	var limits []string
	if lo, hi := text(s, "minimum"), text(s, "maximum"); lo != "" && hi != "" {
		limits = append(limits, lo+"–"+hi)
	} else if lo != "" {
		limits = append(limits, "≥ "+lo)
	}
	if lo, hi := text(s, "minLength"), text(s, "maxLength"); hi != "" {
		limits = append(limits, lo+"–"+hi+" characters")
	}
	if p := text(s, "pattern"); p != "" {
		limits = append(limits, "`"+strings.ReplaceAll(p, "|", `\|`)+"`")
	}
	if d := text(s, "default"); d != "" {
		limits = append(limits, "default "+d)
	}
	if len(limits) > 0 {
		t += " (" + strings.Join(limits, ", ") + ")"
	}
	return t
}

// schemas writes a table of fields for each named schema.
func (r *renderer) schemas() {
	r.printf("\n## Schemas\n")
	names, schemas := pairs(get(get(r.root, "components"), "schemas"))
	for i, name := range names {
		s := schemas[i]
		r.printf("\n<a id=\"%s\"></a>\n### `%s`\n\n", anchor(name), name)
		if d := strings.TrimSpace(text(s, "description")); d != "" {
			r.printf("%s\n\n", d)
		}
		if get(s, "properties") == nil {
			r.printf("%s", r.typeOf(withoutDescription(s)))
			if all := items(get(s, "allOf")); len(all) > 0 {
				if req := itemsText(get(all[len(all)-1], "required")); len(req) > 0 {
					r.printf(", requiring %s", strings.Join(wrap(req, "`"), ", "))
				}
			}
			r.printf(".\n")
			continue
		}
		if text(s, "additionalProperties") == "false" {
			r.printf("No other fields are sent.\n\n")
		}
		r.printf("| Field | Type | Required | Description |\n| --- | --- | --- | --- |\n")
		r.fields("", s)
	}
}

func withoutDescription(s *yaml.Node) *yaml.Node {
	c := *s
	c.Content = nil
	for i := 0; i+1 < len(s.Content); i += 2 {
		if s.Content[i].Value != "description" && s.Content[i].Value != "examples" {
			c.Content = append(c.Content, s.Content[i], s.Content[i+1])
		}
	}
	return &c
}

// fields writes the rows of an object schema's properties, nested inline
// objects as dotted names.
func (r *renderer) fields(prefix string, s *yaml.Node) {
	required := itemsText(get(s, "required"))
	names, props := pairs(get(s, "properties"))
	for i, name := range names {
		p := props[i]
		req := ""
		if slices.Contains(required, name) {
			req = "yes"
		}
		nested := text(p, "$ref") == "" && get(p, "properties") != nil
		t := r.typeOf(p)
		if nested {
			t = "object"
		}
		desc := oneLine(text(p, "description"))
		if text(p, "$ref") != "" {
			if target, _ := r.resolve(p); desc == "" && text(target, "type") != "object" {
				desc = oneLine(text(target, "description"))
			}
		}
		r.printf("| `%s%s` | %s | %s | %s |\n", prefix, name, t, req, desc)
		if nested {
			r.fields(prefix+name+".", p)
		}
		if it := get(p, "items"); text(p, "type") == "array" && it != nil && text(it, "$ref") == "" && get(it, "properties") != nil {
			r.fields(prefix+name+"[].", it)
		}
	}
}
