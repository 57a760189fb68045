package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wifibox/wifibox/internal/guestfake"
)

// TestRelay: with uds_passthru.conf the guest's wpa_supplicant control
// socket appears on the host while the guest runs, and goes with it.
func TestRelay(t *testing.T) {
	h := newHost(t)
	h.config("appliance/uds_passthru.conf", `network=127.0.0.1:255.0.0.0
_sockdir=/var/run/wpa_supplicant
_perms="user=root,group=0,mode=770"
sockets="path=${_sockdir}/wlan0,${_perms},port=1201"
`)
	h.must("start")
	sock := filepath.Join(h.dir, "var/run/wpa_supplicant/wlan0")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("%s: mode %v, want a socket with 0770", sock, fi.Mode())
	}
	client := filepath.Join(h.dir, "client")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: client, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.WriteTo([]byte("PING"), &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "PONG\n" {
		t.Errorf("PING answered %q, %v; want PONG", buf[:n], err)
	}
	if _, err := conn.WriteTo([]byte("ATTACH"), &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	n, _, err = conn.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "OK\n" {
		t.Errorf("ATTACH answered %q, %v; want OK", buf[:n], err)
	}
	if out := h.must("status", "-v"); !strings.Contains(out, "Relay:       "+sock+" -> guest port 1201, 1 attached clients") {
		t.Errorf("status -v does not list the relay:\n%s", out)
	}
	h.must("stop", "guest")
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the relay's socket is still there after stop: %v", err)
	}
}

// wpaClient is wpa_cli's end of the relayed socket: a datagram socket
// bound at its own path.
type wpaClient struct {
	t    *testing.T
	conn *net.UnixConn
	to   *net.UnixAddr
}

func newWPAClient(t *testing.T, h *simHost, name string) *wpaClient {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(h.dir, name), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wpaClient{t: t, conn: conn, to: &net.UnixAddr{Name: filepath.Join(h.dir, "var/run/wpa_supplicant/wlan0"), Net: "unixgram"}}
}

// request sends a request and gives the reply, or "" when none came
// within wpa_ctrl's own 10 seconds.
func (c *wpaClient) request(req string) string {
	c.t.Helper()
	if _, err := c.conn.WriteToUnix([]byte(req), c.to); err != nil {
		c.t.Fatal(err)
	}
	return c.receive()
}

func (c *wpaClient) receive() string {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := c.conn.ReadFromUnix(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestRelayJam: an attached client that never reads (wpa_cli -a stopped
// with Ctrl-Z) while another makes 400 RECONNECT: every request is
// answered, status answers (its bound is 2 s: exit 127 otherwise), and
// stop powers the guest off without killing the VM manager.
func TestRelayJam(t *testing.T) {
	h := relayHost(t)
	h.must("wait", "wifi", "-t", "20")
	deaf := newWPAClient(t, h, "deaf")
	if got := deaf.request("ATTACH"); got != "OK\n" {
		t.Fatalf("ATTACH: %q", got)
	}
	cmd := newWPAClient(t, h, "cmd")
	for i := range 400 {
		if got := cmd.request("RECONNECT"); got != "OK\n" {
			t.Fatalf("RECONNECT %d: got %q, want OK", i, got)
		}
	}
	if _, errOut, code := h.run("status"); code != 0 {
		t.Errorf("status: exit %d %s", code, errOut)
	}
	h.must("stop")
	if log := h.log(); strings.Contains(log, "killing it") || strings.Contains(log, "forcing power-off") {
		t.Errorf("stop did not power the guest off normally:\n%s", log)
	}
}

// TestAttachedBeforeGuestUp: a client attached before the guest is up
// (wpa_cli -a at boot) gets OK, PONG while the guest is away, and the
// guest's CONNECTED once it associates.
func TestAttachedBeforeGuestUp(t *testing.T) {
	h := relayHost(t, "guest_up_after_ms", "1000", "wifi_after_ms", "300")
	mon := newWPAClient(t, h, "mon")
	if got := mon.request("ATTACH"); got != "OK\n" {
		t.Fatalf("ATTACH before the guest is up: %q", got)
	}
	if got := mon.request("PING"); got != "PONG\n" {
		t.Fatalf("PING before the guest is up: %q", got)
	}
	for {
		got := mon.receive()
		if got == "" {
			t.Fatal("no CONNECTED event")
		}
		if strings.Contains(got, "CTRL-EVENT-CONNECTED") {
			break
		}
	}
}

// connected waits for a CTRL-EVENT-CONNECTED event, skipping others.
func (c *wpaClient) connected() bool {
	for {
		got := c.receive()
		if got == "" {
			return false
		}
		if strings.Contains(got, "CTRL-EVENT-CONNECTED") {
			return true
		}
	}
}

// TestAttachedAcrossRestart: a client attached before restart guest (and
// restart vmm) gets the new guest's CONNECTED: the VM manager that
// restarts takes over the relay's sockets, with their attached clients.
// The guest associates 300 ms after it is up, as a real one takes its
// time.
func TestAttachedAcrossRestart(t *testing.T) {
	h := relayHost(t, "wifi_after_ms", "300")
	h.must("wait", "wifi", "-t", "20")
	mon := newWPAClient(t, h, "mon")
	if got := mon.request("ATTACH"); got != "OK\n" {
		t.Fatalf("ATTACH: %q", got)
	}
	for _, target := range []string{"guest", "vmm"} {
		h.must("restart", target)
		if !mon.connected() {
			t.Fatalf("no CONNECTED from the guest after restart %s", target)
		}
		if got := mon.request("PING"); got != "PONG\n" {
			t.Fatalf("PING after restart %s: %q", target, got)
		}
	}
}

// TestRelayFlood: while one client floods requests without reading the
// replies, another's PINGs are answered (within wpa_ctrl's 10 s, which
// request gives).
func TestRelayFlood(t *testing.T) {
	h := relayHost(t)
	h.must("wait", "wifi", "-t", "20")
	flood := newWPAClient(t, h, "flood")
	defer guestfake.Flood(flood.conn, flood.to, "STATUS")()
	ping := newWPAClient(t, h, "ping")
	for i := range 20 {
		if got := ping.request("PING"); got != "PONG\n" {
			t.Fatalf("PING %d while another client floods: %q", i, got)
		}
	}
}

// TestRelayHungGuest: six clients of a wpa_supplicant that hangs, each
// sending PING at once, all get the relay's FAIL within wpa_ctrl's 10 s:
// each within ReplyTimeout of its own request, not after the requests
// before it (30 s for the sixth).
func TestRelayHungGuest(t *testing.T) {
	h := relayHost(t, "wpa_hang_after_ms", "300")
	h.must("wait", "wifi", "-t", "20")
	probe := newWPAClient(t, h, "probe")
	for {
		if got := probe.request("PING"); strings.HasPrefix(got, "FAIL relay:") {
			break // the hang has come
		}
	}
	var clients []*wpaClient
	for i := range 6 {
		c := newWPAClient(t, h, "c"+string(rune('0'+i)))
		if _, err := c.conn.WriteToUnix([]byte("PING"), c.to); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		if got := c.receive(); !strings.HasPrefix(got, "FAIL relay: no reply from the guest within 5s") {
			t.Errorf("client %d: got %q, want the relay's FAIL", i, got)
		}
	}
}
