package http

import (
	"net/http"

	"github.com/facevault/facevault"
)

// retentionJSON is the account's default retention for the caller's mode.
type retentionJSON struct {
	// DefaultDays deletes the photos of clients without retention days of
	// their own that many days after upload; 0: never.
	DefaultDays int `json:"defaultDays"`
}

// retentionPatch sets it.
type retentionPatch struct {
	DefaultDays *int `json:"defaultDays"`
}

func (s *Server) getRetention(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	days, err := s.vault.RetentionDefault(r.Context(), sc)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, retentionJSON{DefaultDays: days})
	return nil
}

func (s *Server) setRetention(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	var p retentionPatch
	if err := readJSON(w, r, &p); err != nil {
		return err
	}
	if p.DefaultDays == nil {
		return facevault.Invalid("defaultDays", "'defaultDays' is required: a number of days, or 0 to clear it")
	}
	if err := s.vault.SetRetentionDefault(r.Context(), sc, *p.DefaultDays); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, retentionJSON{DefaultDays: *p.DefaultDays})
	return nil
}
