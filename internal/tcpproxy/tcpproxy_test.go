package tcpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers every line it reads with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial the proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * time.Second))
	return c
}

// roundTrip sends a line and reads it back, returning the error if any.
func roundTrip(c net.Conn, line string) error {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestCutRestore(t *testing.T) {
	p := Start(t, echoServer(t))
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", p.URL())
	}
	before := dial(t, p)
	if err := roundTrip(before, "hello"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	// The connection open across the cut is closed...
	if err := roundTrip(before, "again"); err == nil {
		t.Errorf("a connection open when the proxy was cut still works")
	}
	// ...and new ones are accepted and closed at once.
	during := dial(t, p)
	start := time.Now()
	if err := roundTrip(during, "cut"); err == nil {
		t.Errorf("a connection made while cut works")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a connection made while cut took %v to fail, want it to fail at once", d)
	}

	p.Restore()
	if err := roundTrip(dial(t, p), "back"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	if p.Accepted() != 3 {
		t.Errorf("Accepted() = %d, want 3", p.Accepted())
	}
}

func TestRestoreLimited(t *testing.T) {
	p := Start(t, echoServer(t))
	for _, stall := range []bool{false, true} {
		p.RestoreLimited(10, stall)
		c := dial(t, p)
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := io.WriteString(c, "0123456789abcdefghij\n"); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		if stall {
			// The first 10 bytes reach the server (and are echoed), then
			// the proxy reads no more but keeps the connection open.
			if !bytes.Equal(got, []byte("0123456789")) {
				t.Errorf("stall: read back %q, want the first 10 bytes", got)
			}
			if !timedOut {
				t.Errorf("stall: read ended with %v, want a timeout (the connection stays open)", err)
			}
		} else {
			// The connection is closed once 10 bytes have passed: the
			// server sees no more, and the client's read ends (EOF or
			// reset) before its deadline.
			if !bytes.HasPrefix([]byte("0123456789"), got) {
				t.Errorf("limited: read back %q, want at most the first 10 bytes", got)
			}
			if timedOut {
				t.Errorf("limited: the connection was still open after the limit, want it closed")
			}
		}
	}
	p.Cut() // ends the stalled connection
	p.Restore()
	if err := roundTrip(dial(t, p), "whole line, longer than ten bytes"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

func TestOnAccept(t *testing.T) {
	p := Start(t, echoServer(t))
	other := Start(t, echoServer(t))
	c := dial(t, other)
	if err := roundTrip(c, "before"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	p.OnAccept(func() { calls.Add(1); other.Cut() })
	// Connecting through p cuts the other proxy, at the moment p accepts.
	if err := roundTrip(dial(t, p), "through p"); err != nil {
		t.Fatalf("through p: %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("OnAccept's function ran %d times for one connection, want 1", calls.Load())
	}
	if err := roundTrip(c, "after"); err == nil {
		t.Errorf("the other proxy's connection works after OnAccept's function cut it")
	}
	p.OnAccept(nil)
	if err := roundTrip(dial(t, p), "again"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("OnAccept(nil) did not remove the function: it ran %d times", calls.Load())
	}
	// Connections refused while cut do not run it.
	p.OnAccept(func() { calls.Add(1) })
	p.Cut()
	roundTrip(dial(t, p), "cut")
	if calls.Load() != 1 {
		t.Errorf("OnAccept's function ran for a connection refused while cut")
	}
}
