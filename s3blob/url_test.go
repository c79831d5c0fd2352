package s3blob

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	aws := func(c Config) Config {
		c.Endpoint, c.Secure, c.PathStyle = DefaultEndpoint, true, false
		return c
	}
	local := func(c Config) Config {
		c.Endpoint, c.Secure, c.PathStyle = "http://127.0.0.1:7070", false, true
		return c
	}
	for _, tc := range []struct {
		url  string
		want Config
	}{
		{"s3://bucket", aws(Config{Bucket: "bucket"})},
		{"S3://bucket", aws(Config{Bucket: "bucket"})},
		{"s3://bucket/", aws(Config{Bucket: "bucket"})},
		{"s3://my.bucket-1", aws(Config{Bucket: "my.bucket-1"})},
		{"s3://bucket/facevault", aws(Config{Bucket: "bucket", Prefix: "facevault"})},
		{"s3://bucket/a/b/", aws(Config{Bucket: "bucket", Prefix: "a/b"})},
		{"s3://bucket//a/b//", aws(Config{Bucket: "bucket", Prefix: "a/b"})},
		{"s3://bucket?region=eu-west-1", aws(Config{Bucket: "bucket", Region: "eu-west-1"})},
		{"s3://bucket?endpoint=http://127.0.0.1:7070", local(Config{Bucket: "bucket"})},
		{"s3://bucket?endpoint=http://127.0.0.1:7070/", local(Config{Bucket: "bucket"})},
		{"s3://bucket?endpoint=HTTP://127.0.0.1:7070", local(Config{Bucket: "bucket"})},
		{"s3://bucket?endpoint=http%3A%2F%2F127.0.0.1%3A7070", local(Config{Bucket: "bucket"})},
		{"s3://bucket/p?endpoint=http://127.0.0.1:7070&region=us-east-1", local(Config{Bucket: "bucket", Prefix: "p", Region: "us-east-1"})},
		{"s3://bucket/p?region=garage&endpoint=http://127.0.0.1:7070", local(Config{Bucket: "bucket", Prefix: "p", Region: "garage"})},
		{"s3://bkt/x?endpoint=https://minio.example.com", Config{Bucket: "bkt", Prefix: "x", Endpoint: "https://minio.example.com", Secure: true, PathStyle: true}},
		{"s3://bkt?endpoint=https://minio.example.com:9000", Config{Bucket: "bkt", Endpoint: "https://minio.example.com:9000", Secure: true, PathStyle: true}},
		{"s3://bkt?endpoint=http://[::1]:9000", Config{Bucket: "bkt", Endpoint: "http://[::1]:9000", PathStyle: true}},
		{"s3://bkt?endpoint=https://s3.eu-west-1.amazonaws.com", Config{Bucket: "bkt", Endpoint: "https://s3.eu-west-1.amazonaws.com", Secure: true}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if got != tc.want {
				t.Errorf("ParseURL:\ngot  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "no scheme"},
		{"bucket", "no scheme"},
		{"/var/lib/facevault", "no scheme"},
		{"file:///var/lib/facevault", `unknown scheme "file"`},
		{"http://bucket", `unknown scheme "http"`},
		{"s3:bucket", "no bucket"},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://ab", "invalid bucket name"},
		{"s3://bucket_with_underscore!", "invalid bucket name"},
		{"s3://192.168.1.1", "invalid bucket name"},
		{"s3://bucket:9000", "no port"},
		{"s3://bucket:", "no port"},
		{"s3://key:secret@bucket", "credentials do not go in the URL"},
		{"s3://bucket#x", "fragment"},
		{"s3://bucket/a//b", "invalid prefix"},
		{"s3://bucket/a/../b", "invalid prefix"},
		{"s3://bucket/./b", "invalid prefix"},
		{"s3://bucket/%zz", "malformed"},
		{"s3://bucket?endpoint=127.0.0.1:7070", "must be an http:// or https:// URL"},
		{"s3://bucket?endpoint=localhost:7070", "must be an http:// or https:// URL"},
		{"s3://bucket?endpoint=ftp://host", "must be an http:// or https:// URL"},
		{"s3://bucket?endpoint=http://", "no host"},
		{"s3://bucket?endpoint=http://:7070", "no host"},
		{"s3://bucket?endpoint=http://host:", "empty port"},
		{"s3://bucket?endpoint=http://host:port", "must be an http:// or https:// URL"},
		{"s3://bucket?endpoint=http://host/path", "no path"},
		{"s3://bucket?endpoint=http://k:s@host", "credentials do not go in the endpoint"},
		{"s3://bucket?endpoint=http://host%3Fx%3D1", "no query"},
		{"s3://bucket?endpoint=", `parameter "endpoint" is empty`},
		{"s3://bucket?region=", `parameter "region" is empty`},
		{"s3://bucket?regoin=us-east-1", `unknown parameter "regoin"`},
		{"s3://bucket?region=a&region=b", `parameter "region" given 2 times`},
		{"s3://bucket?region=us%20east", "invalid region"},
		{"s3://bucket?region=%zz", "malformed query"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := ParseURL(tc.url)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %+v, want an error", tc.url, c)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("ParseURL(%q) error = %q, want it to contain %q", tc.url, msg, tc.want)
			}
			if !strings.HasPrefix(msg, "s3blob: ") || !strings.Contains(msg, "want s3://bucket") {
				t.Errorf("ParseURL(%q) error = %q, want it to start with \"s3blob: \" and show the expected form", tc.url, msg)
			}
		})
	}
}

func TestObjectKeys(t *testing.T) {
	const id = "0123456789abcdef01234567"
	for _, tc := range []struct{ prefix, want string }{
		{"", "livephotos/" + id},
		{"p", "p/livephotos/" + id},
		{"a/b", "a/b/livephotos/" + id},
	} {
		if got := (Config{Prefix: tc.prefix}).objectKey(id); got != tc.want {
			t.Errorf("objectKey with prefix %q = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

// Credentials put in a URL by mistake never reach an error message.
func TestParseURLErrorsHideCredentials(t *testing.T) {
	for _, raw := range []string{
		"s3://AKIAX:supersecret@bucket",
		"s3://supersecret@bucket",
		"s3://bucket?endpoint=http://AKIAX:supersecret@host",
		"s3://bucket?endpoint=http%3A%2F%2FAKIAX%3Asupersecret%40host",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Fatalf("ParseURL(%q) succeeded", raw)
		}
		if strings.Contains(err.Error(), "supersecret") {
			t.Errorf("ParseURL(%q) error %q shows the secret", raw, err)
		}
	}
}
