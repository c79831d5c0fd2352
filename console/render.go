package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFiles embed.FS

// staticFS holds the files served under /console/static/: the style sheet.
func staticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return sub
}

// Page is what a page template gets as dot. Handlers set Title and Data;
// the console fills in the rest.
type Page struct {
	// Title is the page's title, in the browser tab and its heading.
	Title string
	// Data is the handler's data for the template.
	Data any
	// Viewer is the signed-in viewer; nil on the sign-in page.
	Viewer *Viewer
	// CSRF is the token the "csrf" template puts in a form.
	CSRF string
	// Nav is the navigation bar, Path the page's own path.
	Nav  []NavItem
	Path string
}

// NavItem is one link of the navigation bar.
type NavItem struct {
	Label, Path string
	Current     bool
}

// funcs are the functions every template can call.
var funcs = template.FuncMap{
	// when formats a time for people, in UTC.
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
}

// parsePages parses every page template with the base layout: the page
// "queue" is templates/queue.html, layout.html included.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue // shared by every page
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes the page called name (templates/<name>.html in the
// layout) with status, for viewer v (nil on a public page). It renders into
// a buffer first, so that a template error answers 500, not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v *Viewer, status int, name string, p Page) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no template %q", name)
	}
	p.Viewer, p.Path = v, r.URL.Path
	if v != nil {
		p.CSRF = v.CSRFToken
		for _, rt := range c.routes {
			method, pattern, _ := strings.Cut(rt.Pattern, " ")
			if rt.Nav != "" && method == http.MethodGet && v.User.Role.Allows(rt.Role) {
				p.Nav = append(p.Nav, NavItem{Label: rt.Nav, Path: pattern, Current: pattern == r.URL.Path})
			}
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderError answers with the error page for err: an *Error's status and
// message, 404 for facevault.ErrNotFound, the message of a
// *facevault.Error, and 500 with nothing of the cause for anything else
// (which goes to the log).
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, v *Viewer, err error) {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		if fe, isFV := errors.AsType[*facevault.Error](err); isFV {
			e = &Error{Status: http.StatusBadRequest, Message: fe.Message}
			if fe.Code == facevault.ENotFound {
				e.Status = http.StatusNotFound
			}
		} else if errors.Is(err, facevault.ErrNotFound) {
			e = NotFound("This")
		} else {
			c.logger.ErrorContext(r.Context(), "console: request failed", "path", r.URL.Path, "err", err)
			e = &Error{Status: http.StatusInternalServerError, Message: "Something went wrong on our side; it has been logged. Try again."}
		}
	}
	if rerr := c.render(w, r, v, e.Status, "error", Page{Title: http.StatusText(e.Status), Data: e}); rerr != nil {
		c.logger.ErrorContext(r.Context(), "console: render error page", "err", rerr)
		http.Error(w, e.Message, e.Status)
	}
}

// contentSecurityPolicy allows the console's own style sheet and images
// (and data: images) and nothing else: no script, no inline style, no
// frame, no form to another site.
const contentSecurityPolicy = "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every console response carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
