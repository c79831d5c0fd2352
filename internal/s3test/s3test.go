// Package s3test gives tests a fresh bucket on the S3 server that
// scripts/test starts (VersityGW). The server's URL is in FACEVAULT_TEST_S3
// and its credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a test
// that needs S3 fails, rather than skips, when they are not set.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// EnvVar names the environment variable holding the test server's URL.
const EnvVar = "FACEVAULT_TEST_S3"

// Endpoint returns the test server's URL (for example
// "http://127.0.0.1:7070"), failing the test if it is not configured.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	endpoint := os.Getenv(EnvVar)
	if endpoint == "" {
		tb.Fatal(EnvVar + " is not set: run ./scripts/test, which starts an S3 server")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		tb.Fatal("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: run ./scripts/test, which sets them for its S3 server")
	}
	return endpoint
}

// Client returns a minio-go client for the test server, with the
// credentials from the environment, for tests that look at or arrange a
// bucket directly.
func Client(tb testing.TB) *minio.Client {
	tb.Helper()
	endpoint := Endpoint(tb)
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		tb.Fatalf("%s=%q is not a URL", EnvVar, endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewEnvAWS(),
		Secure:       u.Scheme == "https",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   2,
	})
	if err != nil {
		tb.Fatalf("minio client for %s: %v", endpoint, err)
	}
	return c
}

// Bucket creates a bucket with a random name on the test server and
// returns the server's URL and the bucket name. When the test ends, every
// object in the bucket (every version, if versioning was turned on) is
// removed, then the bucket.
func Bucket(tb testing.TB) (endpoint, bucket string) {
	tb.Helper()
	endpoint = Endpoint(tb)
	c := Client(tb)
	var b [6]byte
	rand.Read(b[:])
	bucket = "facevault-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		tb.Fatalf("create bucket %s at %s: %v", bucket, endpoint, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := Empty(ctx, c, bucket); err != nil {
			tb.Errorf("empty test bucket %s: %v", bucket, err)
			return
		}
		if err := c.RemoveBucket(ctx, bucket); err != nil {
			tb.Errorf("remove test bucket %s: %v", bucket, err)
		}
	})
	return endpoint, bucket
}

// Empty removes every object of a bucket: every version and delete marker
// if it is versioned, and incomplete multipart uploads.
func Empty(ctx context.Context, c *minio.Client, bucket string) error {
	vc, err := c.GetBucketVersioning(ctx, bucket)
	if err != nil {
		return err
	}
	versioned := vc.Status != ""
	var errs []error
	for o := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: versioned}) {
		if o.Err != nil {
			return o.Err
		}
		if err := c.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID}); err != nil {
			errs = append(errs, err)
		}
	}
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			errs = append(errs, u.Err)
			continue
		}
		if err := c.RemoveIncompleteUpload(ctx, bucket, u.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
