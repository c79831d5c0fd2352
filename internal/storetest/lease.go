package storetest

import (
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func testLeases(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	const ttl = time.Minute
	acquire := func(name, holder string, at time.Time, want bool) {
		t.Helper()
		got, err := st.AcquireLease(ctx, name, holder, at, ttl)
		if err != nil {
			t.Fatalf("AcquireLease(%s, %s): %v", name, holder, err)
		}
		if got != want {
			t.Errorf("AcquireLease(%s, %s, %v) = %v, want %v", name, holder, at.Sub(t0), got, want)
		}
	}
	acquire("sweep", "node-a", t0, true)                       // free
	acquire("sweep", "node-b", t0.Add(time.Second), false)     // held by a
	acquire("sweep", "node-a", t0.Add(30*time.Second), true)   // renewed by a, now until t0+90s
	acquire("sweep", "node-b", t0.Add(80*time.Second), false)  // still held after the first term
	acquire("other", "node-b", t0.Add(80*time.Second), true)   // leases are independent
	acquire("sweep", "node-b", t0.Add(90*time.Second), true)   // expired: b takes over
	acquire("sweep", "node-a", t0.Add(100*time.Second), false) // and a no longer has it
}
