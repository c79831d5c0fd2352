package console_test

import (
	"strings"
	"testing"

	"github.com/facevault/facevault/console"
)

func TestPassword(t *testing.T) {
	h, err := console.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Errorf("hash %q, want an argon2id PHC string with m=65536,t=3,p=2", h)
	}
	if h2, _ := console.HashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, err := console.VerifyPassword(h, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := console.VerifyPassword(h, "correct horse battery stapler"); ok || err != nil {
		t.Errorf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	parts := strings.Split(h, "$")
	for name, bad := range map[string]string{
		"Empty":       "",
		"Bcrypt":      "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"Argon2i":     strings.Replace(h, "argon2id", "argon2i", 1),
		"Version":     strings.Replace(h, "v=19", "v=16", 1),
		"Params":      strings.Replace(h, "m=65536,t=3,p=2", "m=x", 1),
		"HugeMemory":  strings.Replace(h, "m=65536", "m=4194304", 1),
		"ZeroTime":    strings.Replace(h, "t=3", "t=0", 1),
		"ManyPasses":  strings.Replace(h, "t=3", "t=100", 1),
		"ShortSalt":   "$" + strings.Join([]string{parts[1], parts[2], parts[3], "YWJj", parts[5]}, "$"),
		"BadHash":     "$" + strings.Join([]string{parts[1], parts[2], parts[3], parts[4], "!!"}, "$"),
		"MissingPart": "$" + strings.Join(parts[1:5], "$"),
	} {
		if ok, err := console.VerifyPassword(bad, "correct horse battery staple"); ok || err == nil {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want an error", name, bad, ok, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"elevenchars":             false,
		"twelve chars":            true,
		"ééééééééééé":             false, // 11 characters, 22 bytes
		"éééééééééééé":            true,
		strings.Repeat("p", 1024): true,
		strings.Repeat("p", 1025): false,
		"\xffvalid length pw":     false,
	} {
		if err := console.CheckPassword(pw); (err == nil) != ok {
			t.Errorf("CheckPassword(%.20q) = %v, want ok %v", pw, err, ok)
		}
	}
}

func TestCheckUserName(t *testing.T) {
	for name, ok := range map[string]bool{
		"ada":                   true,
		"Ada Lovelace":          true,
		"":                      false,
		" ada":                  false,
		"ada ":                  false,
		"a\tb":                  false,
		"a\x00b":                false,
		strings.Repeat("n", 64): true,
		strings.Repeat("n", 65): false,
		strings.Repeat("é", 64): true,
		"\xff":                  false,
	} {
		if err := console.CheckUserName(name); (err == nil) != ok {
			t.Errorf("CheckUserName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

// BenchmarkHashPassword measures one Argon2id hash with the console's
// parameters: the time a sign-in spends on the password, and the memory
// it holds meanwhile.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := console.HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/hash")
	b.ReportMetric(console.PasswordMemory/1024, "MiB/hash")
}
