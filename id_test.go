package facevault_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := facevault.NewID(now)
		if !facevault.ValidID(id) {
			t.Fatalf("NewID returned invalid id %q", id)
		}
		b, _ := hex.DecodeString(id)
		if got := int64(binary.BigEndian.Uint32(b[:4])); got != now.Unix() {
			t.Fatalf("id %s: got seconds %d, want %d", id, got, now.Unix())
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	if a, b := facevault.NewID(now), facevault.NewID(now.Add(time.Second)); a[:8] >= b[:8] {
		t.Errorf("ids do not sort by time: %s then %s", a, b)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"5eb1b5f231778a0008d1c3f6", true},
		{"000000000000000000000000", true},
		{"5EB1B5F231778A0008D1C3F6", false}, // upper case
		{"5eb1b5f231778a0008d1c3f", false},  // 23
		{"5eb1b5f231778a0008d1c3f60", false},
		{"5eb1b5f231778a0008d1c3g6", false},
		{"../../../../../etc/passwd", false},
		{"..%2F..%2F..%2F..%2Fetc%2F", false},
		{"", false},
		{"nonexistentclientid", false},
	}
	for _, tt := range tests {
		if got := facevault.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q): got %v, want %v", tt.id, got, tt.want)
		}
	}
}
