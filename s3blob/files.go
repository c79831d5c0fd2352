package s3blob

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
)

// The methods below read and write arbitrary objects under the store's
// prefix, by a relative name ("manifest.json", "images/ab/<id>"), beside the
// blob API that only knows image keys. Backups use them: a backup in a
// bucket is a set of named files, not an image store.

// fileKey is the S3 key of the named file under the prefix.
func (s *Store) fileKey(name string) (string, error) {
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("s3blob: invalid file name %q", name)
		}
	}
	if s.cfg.Prefix == "" {
		return name, nil
	}
	return s.cfg.Prefix + "/" + name, nil
}

// PutFile uploads the local file at path as the object named name, in one
// PUT carrying the SHA-256 of its bytes, which the server checks.
func (s *Store) PutFile(ctx context.Context, name, path string) error {
	object, err := s.fileKey(name)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", object, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", object, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", object, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", object, err)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	if !s.noChecksum {
		opts.UserMetadata = map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(h.Sum(nil))}
		opts.DisableContentSha256 = true
	}
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, object, f, info.Size(), opts); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", object, err)
	}
	return nil
}

// GetFile returns the bytes of the object named name, or an error wrapping
// facevault.ErrNotFound if there is none. Reading to the end checks their
// SHA-256 against the one stored at upload, when the server keeps it.
func (s *Store) GetFile(ctx context.Context, name string) (io.ReadCloser, error) {
	object, err := s.fileKey(name)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, object, "file "+object)
}

// Files calls fn with the name of every object under the prefix, relative
// to it.
func (s *Store) Files(ctx context.Context, fn func(name string) error) error {
	prefix := ""
	if s.cfg.Prefix != "" {
		prefix = s.cfg.Prefix + "/"
	}
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("s3blob: list %s: %w", prefix, o.Err)
		}
		if err := fn(strings.TrimPrefix(o.Key, prefix)); err != nil {
			return err
		}
	}
	return nil
}

// RemoveFile removes the object named name (every version of it, on a
// versioned bucket). A missing object is not an error.
func (s *Store) RemoveFile(ctx context.Context, name string) error {
	object, err := s.fileKey(name)
	if err != nil {
		return err
	}
	return s.remove(ctx, object)
}
