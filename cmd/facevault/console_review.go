package main

import (
	"flag"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
	"github.com/facevault/facevault/liveness"
)

// reviewFlags are serve's flags for the review console's pages.
type reviewFlags struct {
	thumbCache *bytesFlag
	// liveness is the configuration the liveness check runs with, whose
	// thresholds the pages quote; set by serve once the check is loaded.
	liveness liveness.Config
}

func addReviewFlags(fs *flag.FlagSet) *reviewFlags {
	f := &reviewFlags{thumbCache: new(bytesFlag)}
	*f.thumbCache = console.DefaultThumbCacheBytes
	fs.Var(f.thumbCache, "console-thumbnail-cache", "memory the review console keeps thumbnails of photos in "+
		"(made on demand from the decrypted image, never written to disk); 0 keeps none")
	return f
}

// apply configures the review pages of c: the thumbnail cache, told by the
// vault of every photo destroyed on this node; audit entries appended in
// batches; sign-ins and sign-outs in the audit log; the liveness check's
// thresholds.
func (f *reviewFlags) apply(c *console.Console, vault *facevault.Vault, db facevault.Store) console.EventRecorder {
	limit := int64(*f.thumbCache)
	if limit == 0 {
		limit = -1 // keep none
	}
	thumbs := console.NewThumbnails(vault, limit)
	forget := vault.Forget
	vault.Forget = func(photoID, clientID string) {
		thumbs.Forget(photoID, clientID)
		if forget != nil {
			forget(photoID, clientID)
		}
	}
	audit := facevault.NewAuditBatcher(db)
	c.SetReviewOptions(console.ReviewOptions{Thumbnails: thumbs, Audit: audit, Liveness: f.liveness})
	return console.AuditEvents{Log: audit}
}
