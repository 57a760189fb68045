package guestfake

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// bound keeps a broken fake from hanging a test; no test asserts on time.
const bound = 10 * time.Second

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rt") // short: sockaddr_un
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func listenWPA(t *testing.T, dir string, every time.Duration) *WPA {
	t.Helper()
	w, err := ListenWPA(filepath.Join(dir, "wlan0"), every)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// monitor is a wpa_ctrl client socket.
func monitor(t *testing.T, dir, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func request(t *testing.T, c *net.UnixConn, to, msg string) {
	t.Helper()
	if _, err := c.WriteToUnix([]byte(msg), &net.UnixAddr{Name: to, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 2*MaxMessage)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// Each message is its own datagram: DISCONNECT's events come before its
// reply; the monitors' levels and attachments are per address.
func TestWPADatagrams(t *testing.T) {
	dir := tempDir(t)
	w := listenWPA(t, dir, 0)
	a := monitor(t, dir, "a")
	b := monitor(t, dir, "b")
	for _, step := range []struct {
		c         *net.UnixConn
		req, want string
	}{
		{b, "DETACH", "FAIL\n"},
		{b, "LEVEL 2", "FAIL\n"},
		{a, "ATTACH", "OK\n"},
		{a, "ATTACH", "OK\n"}, // the same monitor still
	} {
		request(t, step.c, w.Path(), step.req)
		if got := receive(t, step.c); got != step.want {
			t.Fatalf("%s: got %q, want %q", step.req, got, step.want)
		}
	}
	if n := w.Monitors(); n != 1 {
		t.Errorf("%d monitors, want 1", n)
	}
	request(t, b, w.Path(), "DISCONNECT")
	if got := receive(t, a); got != Disconnected {
		t.Errorf("monitor got %q, want %q", got, Disconnected)
	}
	if got := receive(t, a); got != DSCPClear {
		t.Errorf("monitor got %q, want %q", got, DSCPClear)
	}
	if got := receive(t, b); got != "OK\n" {
		t.Errorf("DISCONNECT: got %q, want OK", got)
	}
	request(t, a, w.Path(), "LEVEL 4")
	if got := receive(t, a); got != "OK\n" {
		t.Fatalf("LEVEL: %q", got)
	}
	w.Event(ScanResults) // level 3: below a's
	w.Event("<4>WARNING")
	if got := receive(t, a); got != "<4>WARNING" {
		t.Errorf("monitor at level 4 got %q, want only the level-4 event", got)
	}
}

// The fake's periodic scan event reaches its monitors.
func TestWPAPeriodicEvents(t *testing.T) {
	dir := tempDir(t)
	w := listenWPA(t, dir, time.Millisecond)
	a := monitor(t, dir, "a")
	request(t, a, w.Path(), "ATTACH")
	if got := receive(t, a); got != "OK\n" {
		t.Fatalf("ATTACH: %q", got)
	}
	if got := receive(t, a); got != ScanResults {
		t.Errorf("got %q, want %q", got, ScanResults)
	}
}

func serveSocat(t *testing.T, s *Socat) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("Socat.Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// What the issue saw on the real chain: the stream merges the events and
// the reply that follows them, and the newest connection takes the
// replies of the older ones.
func TestSocatMergesAndSteals(t *testing.T) {
	dir := tempDir(t)
	w := listenWPA(t, dir, 0)
	addr := serveSocat(t, &Socat{Target: w.Path(), Bind: filepath.Join(dir, "s"), Coalesce: 50 * time.Millisecond})
	old := dial(t, addr)
	write(t, old, "ATTACH")
	if got := receive(t, old); got != "OK\n" {
		t.Fatalf("ATTACH: %q", got)
	}
	write(t, old, "DISCONNECT")
	if got, want := receive(t, old), Disconnected+DSCPClear+"OK\n"; got != want {
		t.Errorf("got %q, want %q: one write", got, want)
	}
	newest := dial(t, addr)
	write(t, newest, "PING") // its child binds the path now
	if got := receive(t, newest); got != "PONG\n" {
		t.Fatalf("PING: %q", got)
	}
	write(t, old, "STATUS")
	if got := receive(t, newest); got != Status {
		t.Errorf("the newest connection got %q, want the older one's STATUS reply", got)
	}
}

// Drop closes the connections, as a guest restart does.
func TestSocatDrop(t *testing.T) {
	dir := tempDir(t)
	w := listenWPA(t, dir, 0)
	s := &Socat{Target: w.Path(), Bind: filepath.Join(dir, "s")}
	c := dial(t, serveSocat(t, s))
	write(t, c, "PING")
	if got := receive(t, c); got != "PONG\n" {
		t.Fatalf("PING: %q", got)
	}
	s.Drop()
	c.SetReadDeadline(time.Now().Add(bound))
	if n, err := c.Read(make([]byte, 10)); err == nil {
		t.Errorf("read %d bytes after Drop, want the connection closed", n)
	}
}
