package main

import "testing"

// TestNProbeFlag: --face-search-nprobe takes a number or all, and defaults
// to an exact search on SQLite and DefaultPostgresNProbe on PostgreSQL.
func TestNProbeFlag(t *testing.T) {
	var f nprobeFlag = -1
	if f.value(false) != 0 || f.value(true) != 256 || f.String() != "" {
		t.Errorf("default: sqlite %d, postgres %d, %q", f.value(false), f.value(true), f.String())
	}
	if err := f.Set("all"); err != nil || f.value(true) != 0 || f.String() != "all" {
		t.Errorf("all: %v, %d, %q", err, f.value(true), f.String())
	}
	if err := f.Set("8"); err != nil || f.value(false) != 8 || f.String() != "8" {
		t.Errorf("8: %v, %d, %q", err, f.value(false), f.String())
	}
	for _, bad := range []string{"0", "-3", "x", ""} {
		if err := f.Set(bad); err == nil {
			t.Errorf("Set(%q) succeeded", bad)
		}
	}
}
