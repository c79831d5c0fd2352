package http

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/upload"
)

// uploadLivePhoto streams the body: the base64 "data" is decoded as it
// arrives and written, checked and hashed, straight into the blob store's
// temporary file. Nothing holds the whole body or image in memory.
//
// Receiving and processing are bounded apart. While its body arrives an
// upload holds only its place among the uploads in flight (per account and
// per node, refused at once when full); only once the body is in does it
// take a processing slot for the costly part (liveness check, commit),
// shared fairly between accounts. So a slow client holds nothing that
// other accounts wait for.
func (s *Server) uploadLivePhoto(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	if r.ContentLength > MaxUploadBody {
		// Refuse without reading a byte of it.
		return tooLarge(MaxUploadBody)
	}
	leave, err := s.inflight.enter(sc)
	if err != nil {
		setRetryAfter(w, time.Second)
		return err
	}
	defer leave()

	ctx := r.Context()
	up, err := s.vault.BeginUpload(ctx)
	if err != nil {
		return err
	}
	defer up.Abort()
	req, err := upload.Parse(http.MaxBytesReader(w, r.Body, MaxUploadBody), up)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(MaxUploadBody)
		}
		return err
	}
	if !req.HasClientID || req.ClientID == "" {
		return facevault.Invalid("clientId", "The 'clientId' field is required")
	}
	noteResource(r, "", req.ClientID)
	if !req.HasData {
		return facevault.Invalid("data", "The 'data' field is required")
	}
	waitStart := time.Now()
	release, err := s.slots.acquire(ctx, sc, s.cfg.UploadQueueTimeout)
	if o := s.cfg.Observer; o != nil {
		o.UploadSlotWait(time.Since(waitStart))
	}
	if errors.Is(err, errQueueTimeout) {
		setRetryAfter(w, time.Second)
		return facevault.Errorf(facevault.ERateLimited, "Too many uploads in progress; retry shortly")
	} else if err != nil {
		return err
	}
	defer release()
	up.Enrol = req.Enrol
	p, err := s.vault.FinishUpload(ctx, sc, up, req.ClientID, req.PerformLivenessCheck)
	if err != nil {
		return err
	}
	noteResource(r, p.ID, "")
	if o := s.cfg.Observer; o != nil {
		o.UploadStored(p.Size)
	}
	s.writeJSON(w, r, http.StatusOK, toLivePhotoJSON(p))
	return nil
}

func (s *Server) listLivePhotos(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	clientID := q.Get("clientId")
	noteResource(r, "", clientID)
	if clientID == "" {
		return facevault.Invalid("clientId", "The query parameter 'clientId' is required")
	}
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	o.Impossible = o.Impossible || !ok
	for name := range q {
		if name != "clientId" && !listParams[name] {
			o.Impossible = true // live photos have no other filters
		}
	}
	if len(q["clientId"]) > 1 {
		o.Impossible = true
	}
	total, items, err := s.vault.LivePhotos(r.Context(), sc, clientID, o)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, toLivePhotoJSON)
	return nil
}

func (s *Server) getLivePhoto(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	p, err := s.vault.LivePhoto(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	noteResource(r, "", p.ClientID)
	s.writeJSON(w, r, http.StatusOK, toLivePhotoJSON(p))
	return nil
}

func (s *Server) deleteLivePhoto(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	// The audit entry names the photo's client: read it first. The delete
	// decides whether the photo exists.
	if p, err := s.vault.LivePhoto(r.Context(), sc, r.PathValue("id")); err == nil {
		noteResource(r, "", p.ClientID)
	}
	if err := s.vault.DeleteLivePhoto(r.Context(), sc, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) redactLivePhoto(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	p, err := s.vault.RedactLivePhoto(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	noteResource(r, "", p.ClientID)
	s.writeJSON(w, r, http.StatusOK, struct{}{})
	return nil
}

// downloadLivePhoto streams the image as base64 inside the contract's JSON
// envelope, after the image's SHA-256 (FaceVault's own "sha256" field, before
// "data" so that a client streaming the data knows what to check it
// against). The bytes are checked against the digest taken at upload as
// they are sent; if they differ, or the read fails part-way, the connection
// is cut rather than a corrupt image sent as a success.
func (s *Server) downloadLivePhoto(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	p, blob, err := s.vault.OpenImage(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	defer blob.Close()
	noteResource(r, "", p.ClientID)
	prefix := fmt.Sprintf(`{"fileName":%q,"contentType":%q,"sha256":%q,"data":"`, downloadFileName(p), p.ContentType, p.SHA256)
	const suffix = `"}`
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(prefix)+base64.StdEncoding.EncodedLen(int(p.Size))+len(suffix)), 10))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(prefix)
	h := sha256.New()
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	n, err := io.Copy(io.MultiWriter(enc, h), blob)
	if err == nil {
		err = enc.Close()
	}
	if err == nil && (n != p.Size || hex.EncodeToString(h.Sum(nil)) != p.SHA256) {
		err = fmt.Errorf("stored image of live photo %s does not match its digest (%d bytes read, %d recorded)", p.ID, n, p.Size)
	}
	if err == nil {
		bw.WriteString(suffix)
		err = bw.Flush()
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.logger.ErrorContext(r.Context(), "download failed part-way", "livePhotoId", p.ID, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}
