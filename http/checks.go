package http

import (
	"net/http"

	"github.com/facevault/facevault"
)

// checkJSON is a check on the wire (docs/contract.md section 9).
type checkJSON struct {
	ID          string                 `json:"id"`
	ClientID    string                 `json:"clientId"`
	EntityName  string                 `json:"entityName,omitempty"`
	Type        string                 `json:"type"`
	LivePhotoID string                 `json:"livePhotoId,omitempty"`
	Status      string                 `json:"status"`
	Result      *facevault.CheckResult `json:"result,omitempty"`
	Validation  *checkValidationJSON   `json:"validation,omitempty"`
	CreatedAt   string                 `json:"createdAt"`
	UpdatedAt   string                 `json:"updatedAt"`
}

type checkValidationJSON struct {
	Outcome     string `json:"outcome"`
	Comment     string `json:"comment,omitempty"`
	ValidatedAt string `json:"validatedAt"`
}

func toCheckJSON(c *facevault.Check) checkJSON {
	j := checkJSON{
		ID:          c.ID,
		ClientID:    c.ClientID,
		EntityName:  c.EntityName,
		Type:        c.Type,
		LivePhotoID: c.LivePhotoID,
		Status:      c.Status,
		Result:      c.Result,
		CreatedAt:   formatTime(c.CreatedAt),
		UpdatedAt:   formatTime(c.UpdatedAt),
	}
	if v := c.Validation; v != nil {
		j.Validation = &checkValidationJSON{Outcome: v.Outcome, Comment: v.Comment, ValidatedAt: formatTime(v.ValidatedAt)}
	}
	return j
}

// checkRequestJSON is the body of a create or an update.
type checkRequestJSON struct {
	ClientID    string `json:"clientId"`
	Type        string `json:"type"`
	LivePhotoID string `json:"livePhotoId"`
}

func (s *Server) createCheck(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	var req checkRequestJSON
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	noteResource(r, "", req.ClientID)
	c, err := s.vault.CreateCheck(r.Context(), sc, facevault.CheckRequest{
		ClientID: req.ClientID, Type: req.Type, LivePhotoID: req.LivePhotoID})
	if err != nil {
		return err
	}
	noteResource(r, c.ID, "")
	s.writeJSON(w, r, http.StatusOK, toCheckJSON(c))
	return nil
}

func (s *Server) getCheck(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	c, err := s.vault.Check(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	noteResource(r, "", c.ClientID)
	s.writeJSON(w, r, http.StatusOK, toCheckJSON(c))
	return nil
}

func (s *Server) updateCheck(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	id := r.PathValue("id")
	if _, err := s.vault.Check(r.Context(), sc, id); err != nil {
		return err
	}
	var req checkRequestJSON
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.vault.UpdateCheck(r.Context(), sc, id, facevault.CheckUpdate{
		ClientID: req.ClientID, Type: req.Type, LivePhotoID: req.LivePhotoID})
	if err != nil {
		return err
	}
	noteResource(r, "", c.ClientID)
	s.writeJSON(w, r, http.StatusOK, toCheckJSON(c))
	return nil
}

// validateRequestJSON is the body of a validation, as the SDK's
// ValidateRequest sends it.
type validateRequestJSON struct {
	Outcome string `json:"outcome"`
	Comment string `json:"comment,omitempty"`
	MatchID string `json:"matchId,omitempty"`
}

func (s *Server) validateCheck(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	id := r.PathValue("id")
	if _, err := s.vault.Check(r.Context(), sc, id); err != nil {
		return err
	}
	var req validateRequestJSON
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.vault.ValidateCheck(r.Context(), sc, id, facevault.CheckValidationRequest{
		Outcome: req.Outcome, Comment: req.Comment, MatchID: req.MatchID})
	if err != nil {
		return err
	}
	noteResource(r, "", c.ClientID)
	// The SDK's validate returns a ValidateRequest: the validation as
	// recorded.
	s.writeJSON(w, r, http.StatusOK, validateRequestJSON{Outcome: c.Validation.Outcome, Comment: c.Validation.Comment})
	return nil
}

// checkFilters are the equality filters of a check list.
var checkFilters = map[string]bool{"clientId": true, "type": true, "status": true}

func (s *Server) listChecks(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	f := facevault.CheckFilter{ListOptions: o}
	f.Impossible = f.Impossible || !ok
	for name, vs := range q {
		if listParams[name] {
			continue
		}
		if !checkFilters[name] || len(vs) != 1 || vs[0] == "" {
			f.Impossible = true // as for clients: unknown or repeated filters match nothing
			continue
		}
		switch name {
		case "clientId":
			f.ClientID = vs[0]
			noteResource(r, "", vs[0])
		case "type":
			f.Type = vs[0]
		case "status":
			f.Status = vs[0]
		}
	}
	total, items, err := s.vault.Checks(r.Context(), sc, f)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, toCheckJSON)
	return nil
}
