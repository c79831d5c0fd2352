package facevault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// StoreIDLen is the length of a store id: 32 lowercase hex characters.
const StoreIDLen = 32

// NewStoreID returns a new store id: 16 bytes from crypto/rand, hex encoded.
func NewStoreID() string {
	var b [StoreIDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read never returns an error on supported platforms.
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ValidStoreID reports whether id has the shape of a store id.
func ValidStoreID(id string) bool { return lowerHex(id, StoreIDLen) }

// BindRecords is what Bind needs of a record store.
type BindRecords interface {
	Identity
	ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error)
}

// BindImages is what Bind needs of an image store.
type BindImages interface {
	Identity
	Keys(ctx context.Context, before time.Time, fn func(key string) error) error
}

// Pair names the two parts of a store for Bind, and says where they are in
// the words of the operator (URLs, without passwords) for its messages.
type Pair struct {
	Records   BindRecords
	RecordsAt string
	Images    BindImages
	ImagesAt  string
}

// evidenceSample is how many images Bind checks for records when the
// markers alone cannot tell whether two parts belong together.
const evidenceSample = 1000

// Bind checks that a record store and an image store belong to one
// FaceVault store, records the store id in whichever of the two lacks it,
// and returns the id. It returns a *PairError, and changes nothing, when
// they do not belong together. The rules, where R is the record store's id
// and I the image store's ("" for none):
//
//   - R and I both set: they must be equal. Different ids are refused
//     whatever force says: the two were first used with other parts.
//   - Neither set: a first start, or the first start after an upgrade from a
//     version without store ids. If the image store holds images and none
//     of the first 1,000 has a record, the record store is new or another
//     store's: refused. Otherwise (no images, or some with records) a new
//     id is recorded in the record store, then in the image store.
//   - R set, I not: the image store is new, or its marker was lost. Refused
//     if it holds images and none of the first 1,000 has a record;
//     otherwise R is recorded in it.
//   - I set, R not: the record store is new, or restored from a backup made
//     before it had an id. Bound to I only if some of the first 1,000
//     images have a record; refused otherwise, including when the image
//     store holds no images (another record store was bound to it).
//
// force, which 'facevault sweep --force' passes, binds in the three cases
// where the images' records are the only evidence against it, never over
// two different ids. The record store is bound before the image store, so
// that a crash in between leaves a case that the next start completes.
func Bind(ctx context.Context, p Pair, force bool) (string, error) {
	rid, err := p.Records.StoreID(ctx)
	if err != nil {
		return "", fmt.Errorf("read the store id of the record store %s: %w", p.RecordsAt, err)
	}
	iid, err := p.Images.StoreID(ctx)
	if err != nil {
		return "", fmt.Errorf("read the store id of the image store %s: %w", p.ImagesAt, err)
	}
	if rid != "" && iid != "" {
		if rid != iid {
			return "", p.refuse(rid, iid, 0, 0, false)
		}
		return rid, nil
	}
	sampled, matched, err := evidence(ctx, p)
	if err != nil {
		return "", err
	}
	mismatch := sampled > 0 && matched == 0
	if iid != "" && rid == "" {
		mismatch = matched == 0
	}
	if mismatch && !force {
		return "", p.refuse(rid, iid, sampled, matched, true)
	}
	id := rid
	if id == "" {
		id = iid
	}
	if id == "" {
		id = NewStoreID()
	}
	if rid == "" {
		got, err := p.Records.BindStoreID(ctx, id)
		if err != nil {
			return "", fmt.Errorf("record the store id in the record store %s: %w", p.RecordsAt, err)
		}
		if got != id {
			// Another process bound the record store first.
			if iid != "" && got != iid {
				return "", p.refuse(got, iid, 0, 0, false)
			}
			id = got
		}
	}
	if iid == "" {
		got, err := p.Images.BindStoreID(ctx, id)
		if err != nil {
			return "", fmt.Errorf("record the store id in the image store %s: %w", p.ImagesAt, err)
		}
		if got != id {
			return "", p.refuse(id, got, 0, 0, false)
		}
	}
	return id, nil
}

// errEnough ends the listing of evidence.
var errEnough = errors.New("enough")

// evidence lists up to evidenceSample images and reports how many have a
// record.
func evidence(ctx context.Context, p Pair) (sampled, matched int, err error) {
	var keys []string
	err = p.Images.Keys(ctx, time.Now().Add(24*time.Hour), func(key string) error {
		keys = append(keys, key)
		if len(keys) == evidenceSample {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return 0, 0, fmt.Errorf("list the images of %s: %w", p.ImagesAt, err)
	}
	if len(keys) == 0 {
		return 0, 0, nil
	}
	exist, err := p.Records.ExistingLivePhotos(ctx, keys)
	if err != nil {
		return 0, 0, fmt.Errorf("look up records in %s: %w", p.RecordsAt, err)
	}
	for _, k := range keys {
		if exist[k] {
			matched++
		}
	}
	return len(keys), matched, nil
}

// InUse reports what an image store holds that makes it someone's: its
// store id ("" if none) and whether it holds any image. Before creating a
// new, empty record store next to an image store, check that it is not in
// use: an image store in use next to a new record store is a mistyped path.
func InUse(ctx context.Context, images BindImages) (id string, hasImages bool, err error) {
	id, err = images.StoreID(ctx)
	if err != nil {
		return "", false, fmt.Errorf("read the store id of the image store: %w", err)
	}
	err = images.Keys(ctx, time.Now().Add(24*time.Hour), func(string) error {
		hasImages = true
		return errEnough
	})
	if err != nil && !errors.Is(err, errEnough) {
		return "", false, fmt.Errorf("list the images: %w", err)
	}
	return id, hasImages, nil
}

// PairError is a record store and an image store that do not belong to one
// FaceVault store. Its message names both, says why, and what to check.
type PairError struct {
	RecordsAt, ImagesAt string
	// RecordsID and ImagesID are the store ids found; "" for none.
	RecordsID, ImagesID string
	// Sampled images of the image store were checked, and Matched of them
	// have a record in the record store.
	Sampled, Matched int
	// NoDatabase is set when the record store does not exist at all (a
	// SQLite file that was not there, and was not created).
	NoDatabase bool
	// Forcible is set when 'facevault sweep --force' may bind the two: the
	// only evidence against them is that the images have no records.
	Forcible bool
}

func (p Pair) refuse(rid, iid string, sampled, matched int, forcible bool) *PairError {
	return &PairError{RecordsAt: p.RecordsAt, ImagesAt: p.ImagesAt, RecordsID: rid, ImagesID: iid,
		Sampled: sampled, Matched: matched, Forcible: forcible}
}

// Error says what does not fit and what to check. Nothing was changed.
func (e *PairError) Error() string {
	const check = "check --db, --blobs and --data: a record store runs only with the image store it was first used with. Nothing was changed"
	of := func(id string) string {
		if id == "" {
			return "no store id"
		}
		return "store id " + id
	}
	switch {
	case e.NoDatabase:
		what := "holds images"
		if e.ImagesID != "" {
			what = "belongs to FaceVault store " + e.ImagesID
		}
		return fmt.Sprintf("the record store %s does not exist, but the image store %s %s: refusing to create a new, empty record store for it; %s",
			e.RecordsAt, e.ImagesAt, what, check)
	case e.RecordsID != "" && e.ImagesID != "":
		return fmt.Sprintf("the record store %s belongs to FaceVault store %s, but the image store %s belongs to store %s: they are parts of two different stores; %s",
			e.RecordsAt, e.RecordsID, e.ImagesAt, e.ImagesID, check)
	case e.ImagesID != "" && e.Sampled == 0:
		return fmt.Sprintf("the image store %s belongs to FaceVault store %s (it holds no images now), but the record store %s has no store id: it is new, or another store's; %s. "+
			"If this record store is meant to take over that image store, run 'facevault sweep --force' with the same flags once to bind them",
			e.ImagesAt, e.ImagesID, e.RecordsAt, check)
	default:
		msg := fmt.Sprintf("the record store %s (%s) has no record of any of the %d images checked in the image store %s (%s): the record store is new, or belongs to other images; %s",
			e.RecordsAt, of(e.RecordsID), e.Sampled, e.ImagesAt, of(e.ImagesID), check)
		if e.Forcible {
			msg += ". If they do belong together and those images are orphans, 'facevault sweep --force' with the same flags binds them " +
				"and moves the images without a record to quarantine (see 'facevault quarantine')"
		}
		return msg
	}
}
