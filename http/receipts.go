package http

import (
	"iter"
	"net/http"

	"github.com/facevault/facevault"
)

// Resource types of the audit entries of refused requests to the receipts
// and retention routes, and of retention changes.
const (
	auditReceipt   = "deletionReceipt"
	auditRetention = "retention"
)

// receiptJSON is a deletion receipt on the wire: the signed payload as the
// JSON text that was signed, and its Ed25519 signature in base64.
type receiptJSON struct {
	ID           string `json:"id"`
	Action       string `json:"action"`
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	SigningKeyID string `json:"signingKeyId"`
	Payload      string `json:"payload"`
	Signature    []byte `json:"signature"`
	CreatedAt    string `json:"createdAt"`
}

func toReceiptJSON(r *facevault.DeletionReceipt) receiptJSON {
	return receiptJSON{
		ID: r.ID, Action: string(r.Action), ResourceType: r.ResourceType, ResourceID: r.ResourceID,
		SigningKeyID: r.SigningKeyID, Payload: string(r.Payload), Signature: r.Signature, CreatedAt: formatTime(r.CreatedAt),
	}
}

// listReceipts answers GET /v1/deletionReceipts?resourceId=ID: the
// receipts of the caller's account and mode that name the resource.
func (s *Server) listReceipts(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	resourceID := q.Get("resourceId")
	if resourceID == "" {
		return facevault.Invalid("resourceId", "The query parameter 'resourceId' is required")
	}
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	impossible := o.Impossible || !ok || len(q["resourceId"]) > 1 || o.Filtered()
	for name := range q {
		if name != "resourceId" && name != "page" && name != "pageSize" {
			impossible = true // receipts have no other filters
		}
	}
	var total int
	var items []*facevault.DeletionReceipt
	if !impossible {
		if total, items, err = s.vault.DeletionReceipts(r.Context(), sc, resourceID, o.Page); err != nil {
			return err
		}
	}
	writeList(s, w, r, o.Page, total, seqOf(items), toReceiptJSON)
	return nil
}

// receiptKey answers GET /.well-known/facevault-receipts.pub, without a
// key: the public key that verifies deletion receipts, as PEM.
func (s *Server) receiptKey(w http.ResponseWriter, r *http.Request) {
	pem, err := s.vault.ReceiptKey()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem)
}

// seqOf yields the items of a slice, with no error.
func seqOf[T any](items []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, item := range items {
			if !yield(item, nil) {
				return
			}
		}
	}
}
