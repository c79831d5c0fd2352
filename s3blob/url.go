package s3blob

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultEndpoint is the endpoint used when an s3:// URL names none:
// Amazon S3.
const DefaultEndpoint = "https://s3.amazonaws.com"

// Config is what an s3:// URL says: where the bucket is and which part of it
// the store uses.
type Config struct {
	// Bucket is the bucket name, the host part of the URL.
	Bucket string
	// Prefix is the key prefix, the path of the URL without slashes at
	// either end; "" for none. Objects are keyed <Prefix>/livephotos/<id>.
	Prefix string
	// Endpoint is the server's base URL, scheme and host only (for example
	// "http://127.0.0.1:7070"); DefaultEndpoint when the URL names none.
	Endpoint string
	// Region is the bucket's region; "" lets the client ask the server.
	Region string
	// Secure is true when the endpoint is https.
	Secure bool
	// PathStyle is true for custom endpoints, which are addressed as
	// ENDPOINT/BUCKET/KEY; Amazon S3 is addressed virtual-host style
	// (BUCKET.ENDPOINT/KEY).
	PathStyle bool
}

// host is the endpoint's host[:port], as minio-go wants it.
func (c Config) host() string {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return c.Endpoint
	}
	return u.Host
}

// objectKey is the S3 key of the blob with the given id.
func (c Config) objectKey(id string) string {
	return c.dir() + id
}

// MarkerName is the name, under the prefix, of the object that holds the id
// of the FaceVault store the prefix belongs to.
const MarkerName = "facevault-store-id"

// markerKey is the S3 key of the store marker: <prefix>/facevault-store-id.
func (c Config) markerKey() string {
	if c.Prefix == "" {
		return MarkerName
	}
	return c.Prefix + "/" + MarkerName
}

// quarantineDir is the key prefix of quarantined blobs, ending in a slash:
// <prefix>/quarantine/.
func (c Config) quarantineDir() string {
	if c.Prefix == "" {
		return "quarantine/"
	}
	return c.Prefix + "/quarantine/"
}

// dir is the key prefix every blob key starts with, ending in a slash.
func (c Config) dir() string {
	if c.Prefix == "" {
		return "livephotos/"
	}
	return c.Prefix + "/livephotos/"
}

// userinfo matches the user information of a URL ("user:secret@" after
// "scheme://"), wherever it stands, also inside a query parameter.
var userinfo = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*(?:://|%3A%2F%2F))[^/?#@\s]*(?:@|%40)`)

// maskCredentials hides credentials someone put in a URL, so that an error
// message quoting it does not leak them. The query is unescaped first, so
// that an escaped endpoint is masked too.
func maskCredentials(rawURL string) string {
	if u, err := url.QueryUnescape(rawURL); err == nil {
		rawURL = u
	}
	return userinfo.ReplaceAllString(rawURL, "${1}xxxxx@")
}

const urlForm = "s3://bucket[/prefix]?endpoint=http://host:port&region=name"

// ParseURL parses and checks an s3:// URL of the form
//
//	s3://bucket[/prefix][?endpoint=http(s)://host[:port]][&region=name]
//
// without connecting to anything. Credentials never go in the URL: they come
// from the environment (see Open).
func ParseURL(rawURL string) (Config, error) {
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("s3blob: URL %q: %s (want %s)", maskCredentials(rawURL),
			userinfo.ReplaceAllString(fmt.Sprintf(format, args...), "${1}xxxxx@"), urlForm)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("malformed: %v", err)
	}
	switch {
	case u.Scheme == "":
		return fail("no scheme")
	case u.Scheme != "s3":
		return fail("unknown scheme %q", u.Scheme)
	case u.Opaque != "":
		return fail("no bucket: the URL must start with s3://")
	case u.User != nil:
		return fail("credentials do not go in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Fragment != "" || strings.HasSuffix(rawURL, "#"):
		return fail("unexpected fragment")
	case u.Host == "":
		return fail("no bucket")
	case u.Port() != "" || strings.HasSuffix(u.Host, ":"):
		return fail("a bucket name has no port; the server goes in the endpoint parameter")
	}
	c := Config{Bucket: u.Host}
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		return fail("invalid bucket name %q: %v", c.Bucket, err)
	}

	c.Prefix = strings.Trim(u.Path, "/")
	if c.Prefix != "" {
		for _, seg := range strings.Split(c.Prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return fail("invalid prefix %q: empty, \".\" and \"..\" segments are not allowed", c.Prefix)
			}
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("malformed query: %v", err)
	}
	for name, values := range q {
		if name != "endpoint" && name != "region" {
			return fail("unknown parameter %q (known: endpoint, region)", name)
		}
		if len(values) != 1 {
			return fail("parameter %q given %d times", name, len(values))
		}
		if values[0] == "" {
			return fail("parameter %q is empty", name)
		}
	}

	c.Endpoint = DefaultEndpoint
	if e := q.Get("endpoint"); e != "" {
		endpoint, err := parseEndpoint(e)
		if err != nil {
			return fail("endpoint %q: %v", e, err)
		}
		c.Endpoint = endpoint
	}
	eu, _ := url.Parse(c.Endpoint) // checked by parseEndpoint
	c.Secure = eu.Scheme == "https"
	c.PathStyle = !s3utils.IsAmazonEndpoint(*eu)

	if r := q.Get("region"); r != "" {
		if strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '/' }) {
			return fail("invalid region %q", r)
		}
		c.Region = r
	}
	return c, nil
}

// parseEndpoint checks an endpoint URL and returns it as scheme://host.
func parseEndpoint(e string) (string, error) {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return "", errors.New("must be an http:// or https:// URL")
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("no host")
	case strings.HasSuffix(u.Host, ":"):
		return "", errors.New("empty port")
	case u.User != nil:
		return "", errors.New("credentials do not go in the endpoint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Path != "" && u.Path != "/":
		return "", errors.New("an endpoint has no path")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("an endpoint has no query or fragment")
	}
	return u.Scheme + "://" + u.Host, nil
}
