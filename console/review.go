package console

import (
	"net/http"

	"github.com/facevault/facevault"
)

// reviewRoutes are the pages of the review itself: the queue, clients and
// photos. Add a page here (see the package documentation).
func (c *Console) reviewRoutes() []Route {
	return []Route{
		{Pattern: "GET /console/{$}", Role: facevault.RoleReviewer, Scoped: true, Nav: "Home", Handler: c.home},
	}
}

// home is the console's first page once an account and mode are chosen.
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	return c.render(w, r, v, http.StatusOK, "home", Page{Title: "Home"})
}
