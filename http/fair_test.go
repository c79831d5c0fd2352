package http

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wantSlots checks the state of s.
func wantSlots(t *testing.T, s *fairSlots[string], free int, held map[string]int, waiting int) {
	t.Helper()
	gotFree, gotHeld, gotWaiting := s.state()
	if gotFree != free || !maps.Equal(gotHeld, held) || gotWaiting != waiting {
		t.Fatalf("state: free %d, held %v, waiting %d; want free %d, held %v, waiting %d",
			gotFree, gotHeld, gotWaiting, free, held, waiting)
	}
}

// waitWaiting polls until n requests wait on s.
func waitWaiting(t *testing.T, s *fairSlots[string], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, w := s.state(); w == n {
			return
		}
		if time.Now().After(deadline) {
			_, _, w := s.state()
			t.Fatalf("%d requests wait, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustAcquire(t *testing.T, s *fairSlots[string], key string) func() {
	t.Helper()
	release, err := s.acquire(context.Background(), key, time.Minute)
	if err != nil {
		t.Fatalf("acquire %s: %v", key, err)
	}
	return release
}

func TestFairSlotsFree(t *testing.T) {
	s := newFairSlots[string](3)
	a1, a2 := mustAcquire(t, s, "A"), mustAcquire(t, s, "A")
	b := mustAcquire(t, s, "B")
	wantSlots(t, s, 0, map[string]int{"A": 2, "B": 1}, 0)
	a1()
	a1() // a second call gives back nothing more
	wantSlots(t, s, 1, map[string]int{"A": 1, "B": 1}, 0)
	a2()
	b()
	wantSlots(t, s, 3, map[string]int{}, 0)
}

// TestFairSlotsOrder queues requests one at a time, so that their arrival
// order is known, then releases slots one at a time: each goes to the
// waiting key holding the fewest slots, the longest-waiting first.
func TestFairSlotsOrder(t *testing.T) {
	s := newFairSlots[string](2)
	releases := map[string]func(){"A1": mustAcquire(t, s, "A"), "A2": mustAcquire(t, s, "A")}
	type grant struct {
		name    string
		release func()
	}
	granted := make(chan grant, 10)
	// In arrival order: A3 A4 B1 C1 B2.
	for i, w := range []struct{ name, key string }{{"A3", "A"}, {"A4", "A"}, {"B1", "B"}, {"C1", "C"}, {"B2", "B"}} {
		go func() {
			release, err := s.acquire(context.Background(), w.key, time.Minute)
			if err != nil {
				t.Errorf("acquire %s: %v", w.name, err)
				return
			}
			granted <- grant{w.name, release}
		}()
		waitWaiting(t, s, i+1)
	}
	wantSlots(t, s, 0, map[string]int{"A": 2}, 5)

	for _, step := range []struct {
		release, want string
		held          map[string]int // after the grant
	}{
		// A holds 1, B and C none: B and C tie, B waited longer.
		{"A1", "B1", map[string]int{"A": 1, "B": 1}},
		// A and C hold none; A3 waited longer than C1.
		{"A2", "A3", map[string]int{"A": 1, "B": 1}},
		// B and C hold none; C1 waited longer than B2.
		{"B1", "C1", map[string]int{"A": 1, "C": 1}},
		// A and B hold none; A4 waited longer than B2.
		{"A3", "A4", map[string]int{"A": 1, "C": 1}},
		{"C1", "B2", map[string]int{"A": 1, "B": 1}},
	} {
		releases[step.release]()
		var g grant
		select {
		case g = <-granted:
		case <-time.After(5 * time.Second):
			t.Fatalf("releasing %s granted nothing within 5s", step.release)
		}
		if g.name != step.want {
			t.Fatalf("releasing %s granted %s, want %s", step.release, g.name, step.want)
		}
		releases[g.name] = g.release
		_, held, _ := s.state()
		if !maps.Equal(held, step.held) {
			t.Fatalf("after %s got the slot: held %v, want %v", g.name, held, step.held)
		}
	}
	wantSlots(t, s, 0, map[string]int{"A": 1, "B": 1}, 0)
	releases["A4"]()
	releases["B2"]()
	wantSlots(t, s, 2, map[string]int{}, 0)
}

func TestFairSlotsCancelWhileWaiting(t *testing.T) {
	s := newFairSlots[string](1)
	release := mustAcquire(t, s, "A")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		r, err := s.acquire(ctx, "B", time.Minute)
		if r != nil {
			r()
		}
		errc <- err
	}()
	waitWaiting(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after cancel: got %v, want context.Canceled", err)
	}
	wantSlots(t, s, 0, map[string]int{"A": 1}, 0)
	release()
	wantSlots(t, s, 1, map[string]int{}, 0)
}

func TestFairSlotsTimeout(t *testing.T) {
	s := newFairSlots[string](1)
	release := mustAcquire(t, s, "A")
	r, err := s.acquire(context.Background(), "B", 5*time.Millisecond)
	if !errors.Is(err, errQueueTimeout) || r != nil {
		t.Fatalf("acquire with every slot held: got %v, want errQueueTimeout and no release", err)
	}
	wantSlots(t, s, 0, map[string]int{"A": 1}, 0)
	release()
	wantSlots(t, s, 1, map[string]int{}, 0)
}

// TestFairSlotsNoLeak runs many acquirers that time out, are cancelled or
// succeed, concurrently with releases: never more than the capacity is
// held, and at the end every slot is free. Run with -race.
func TestFairSlotsNoLeak(t *testing.T) {
	const capacity = 3
	s := newFairSlots[string](capacity)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(i), 1))
			key := []string{"A", "B", "C", "D"}[rnd.IntN(4)]
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if rnd.IntN(3) == 0 {
				after := time.Duration(rnd.IntN(500)) * time.Microsecond
				go func() {
					time.Sleep(after)
					cancel()
				}()
			}
			release, err := s.acquire(ctx, key, time.Duration(rnd.IntN(2000))*time.Microsecond)
			if err != nil {
				if !errors.Is(err, errQueueTimeout) && !errors.Is(err, context.Canceled) {
					t.Errorf("acquire: %v", err)
				}
				return
			}
			n := inUse.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Duration(rnd.IntN(300)) * time.Microsecond)
			inUse.Add(-1)
			release()
			release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > capacity {
		t.Errorf("%d slots held at once, capacity %d", p, capacity)
	}
	wantSlots(t, s, capacity, map[string]int{}, 0)
}
