package http

import (
	"net/http"
	"strings"

	"github.com/facevault/facevault"
)

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	var p facevault.ClientPatch
	if err := readJSON(w, r, &p); err != nil {
		return err
	}
	c, err := s.vault.CreateClient(r.Context(), sc, &p)
	if err != nil {
		return err
	}
	noteResource(r, c.ID, c.ID)
	s.writeJSON(w, r, http.StatusOK, toClientJSON(c))
	return nil
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	c, err := s.vault.Client(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, toClientJSON(c))
	return nil
}

func (s *Server) updateClient(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	id := r.PathValue("id")
	if !facevault.ValidID(id) {
		return facevault.ErrClientNotFound(id)
	}
	var p facevault.ClientPatch
	if err := readJSON(w, r, &p); err != nil {
		return err
	}
	c, changed, err := s.vault.UpdateClient(r.Context(), sc, id, &p)
	if err != nil {
		return err
	}
	noteChanges(r, changed)
	s.writeJSON(w, r, http.StatusOK, toClientJSON(c))
	return nil
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	if err := s.vault.DeleteClient(r.Context(), sc, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	f := facevault.ClientFilter{ListOptions: o, Fields: map[string]string{}}
	f.Impossible = f.Impossible || !ok
	for name, vs := range q {
		if listParams[name] {
			continue
		}
		if !isClientFilter(name) || len(vs) != 1 {
			// An unknown or repeated filter matches nothing, as
			// ComplyCube documents for malformed filters.
			f.Impossible = true
			continue
		}
		f.Fields[name] = vs[0]
	}
	total, items, err := s.vault.Clients(r.Context(), sc, f)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, toClientJSON)
	return nil
}

func isClientFilter(name string) bool {
	if k, ok := strings.CutPrefix(name, "metadata."); ok {
		return k != ""
	}
	for _, f := range facevault.ClientFilterFields {
		if f == name {
			return true
		}
	}
	return false
}
