package relay

import (
	"net"
	"testing"
	"time"
)

// A FakeWPA with Every sends its attached connections the scan event on
// its own; the connection's requests are still answered.
func TestFakeWPAPeriodicEvents(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeWPA{Every: time.Millisecond}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, MaxMessage)
	read := func() string {
		t.Helper()
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if _, err := c.Write([]byte("ATTACH")); err != nil {
		t.Fatal(err)
	}
	// The reply and the first events may share a read: TCP keeps no
	// boundaries, the relay's guest side is what keeps them.
	got := read()
	for len(got) < len("OK\n"+ScanResults) {
		got += read()
	}
	if want := "OK\n" + ScanResults; got[:len(want)] != want {
		t.Errorf("got %q, want %q then events", got, want)
	}
	ln.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Serve closed the connection on its way out.
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
}
