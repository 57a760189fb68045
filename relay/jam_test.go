package relay

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/guestfake"
)

// freebsd models what FreeBSD's kernel does with a datagram sent to an
// address: it lands in the receiving socket's buffer, whose room is
// net.local.dgram.recvspace (16 KB) counting the data and the sender's
// address, or, when that has no room, the send fails with ENOBUFS at once
// (freebsd-src 14.x and 15.0: sys/kern/uipc_usrreq.c, uipc_sosend_dgram
// and uipc_dgram_sbspace; unpdg_recvspace). Receivers named deaf never
// read: what is sent to them stays in their buffer. The others read at
// once, so their datagrams are sent for real.
type freebsd struct {
	t    testing.TB
	conn *net.UnixConn
	from int // the length of the relay's address

	mu     sync.Mutex
	deaf   map[string]bool
	queued map[string]int
	full   map[string]int // ENOBUFS given
}

const recvspace = 16 << 10

func newFreeBSD(t testing.TB, relayPath string) *freebsd {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: relayPath + ".kernel", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	k := &freebsd{t: t, conn: conn, from: 2 + len(relayPath), deaf: map[string]bool{}, queued: map[string]int{}, full: map[string]int{}}
	return k
}

// stopReading makes the client read no more, on the model; on this
// kernel, not reading is the client's own doing.
func (k *freebsd) stopReading(c *client) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.deaf[c.conn.LocalAddr().String()] = true
}

func (k *freebsd) deliver(b []byte, to *net.UnixAddr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.deaf[to.Name] {
		_, err := k.conn.WriteToUnix(b, to)
		return err
	}
	if k.queued[to.Name]+len(b)+k.from > recvspace {
		k.full[to.Name]++
		return unix.ENOBUFS
	}
	k.queued[to.Name] += len(b) + k.from
	return nil
}

// kernels are the kernels the jam tests run over: this one, and the
// model of FreeBSD's.
func kernels(t *testing.T, test func(t *testing.T, g *rig, k *freebsd)) {
	t.Run("host", func(t *testing.T) { test(t, newRig(t, Options{}), nil) })
	t.Run("freebsd", func(t *testing.T) {
		dir := tempDir(t)
		var k *freebsd
		opts := Options{deliver: func(b []byte, to *net.UnixAddr) error { return k.deliver(b, to) }}
		g := &rig{dir: dir}
		g.guest = startGuest(t, 0)
		opts.Log, g.log = newLog()
		k = newFreeBSD(t, dir+"/wlan0")
		g.relay, g.path = startRelay(t, dir, g.guest.port, opts)
		test(t, g, k)
	})
}

// An attached client that never reads (a wpa_cli -a stopped with Ctrl-Z)
// while another makes 400 RECONNECT, each causing an event: every request
// is answered, the relay's own requests too, and the client that does
// not read is detached, as wpa_supplicant detaches its monitors.
func TestClientThatDoesNotRead(t *testing.T) {
	kernels(t, func(t *testing.T, g *rig, k *freebsd) {
		deaf := g.client(t, "deaf")
		deaf.expect("ATTACH", "OK\n")
		k.stopReading(deaf)
		cmd := g.client(t, "cmd")
		for i := range 400 {
			if got := cmd.request("RECONNECT"); got != "OK\n" {
				t.Fatalf("RECONNECT %d: got %q, want OK", i, got)
			}
		}
		waitLog(t, g.log, "detached client "+deaf.conn.LocalAddr().String())
		if n := attached(g.relay); n != 0 {
			t.Errorf("%d attached clients, want the deaf one detached", n)
		}
		if k != nil && k.full[deaf.conn.LocalAddr().String()] == 0 {
			t.Error("the model never found the deaf client full")
		}
		cmd.expect("PING", "PONG\n")
	})
}

// A client that floods requests without reading the replies is limited
// to its share: another client's requests are answered all along.
func TestFlood(t *testing.T) {
	kernels(t, func(t *testing.T, g *rig, k *freebsd) {
		flood := g.client(t, "flood")
		k.stopReading(flood)
		defer guestfake.Flood(flood.conn, flood.to, "STATUS")()
		c := g.client(t, "c")
		for range 50 {
			c.expect("PING", "PONG\n")
		}
		waitLog(t, g.log, "without waiting for the replies")
	})
}

// A guest that hangs: each of eight clients waiting in turn gets its FAIL
// ReplyTimeout after its request, not after the requests before it
// (which would take eight times as long, beyond the test's bound).
func TestHungGuestEveryClient(t *testing.T) {
	g := newRig(t, Options{ReplyTimeout: 1500 * time.Millisecond})
	g.guest.wpa.Mute.Store(true)
	var cs []*client
	for i := range 8 {
		c := g.client(t, "c"+strconv.Itoa(i))
		c.send("PING")
		cs = append(cs, c)
	}
	for _, c := range cs {
		if got, want := c.receive(), "FAIL relay: no reply from the guest within 1.5s\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// A client attached before the guest is up (wpa_cli -a at boot) gets OK,
// PONG while the guest is away, and the guest's events once it comes.
func TestAttachBeforeGuest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := tempDir(t)
	r, path := startRelay(t, dir, port, Options{})
	mon := newClient(t, dir, "mon", path)
	mon.expect("ATTACH", "OK\n")
	mon.expect("PING", "PONG\n")
	g := startGuestAt(t, 0, addr)
	r.Kick()
	g.waitMonitors(t, 1)
	g.wpa.Event(guestfake.Connected)
	if got := mon.receive(); got != guestfake.Connected {
		t.Fatalf("got %q, want the new guest's event", got)
	}
}

// The relay's own subscriber gets the events, and keeps the guest
// connection attached, across the guest's restart; each attach is told
// by a nil message first. The connection is open, not attached, when it
// subscribes.
func TestSubscribe(t *testing.T) {
	g := newRig(t, Options{})
	g.client(t, "c").expect("PING", "PONG\n")
	events := g.relay.Subscribe()
	next := func() []byte {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(bound):
			t.Fatal("no event")
			return nil
		}
	}
	for range 2 {
		if e := next(); e != nil {
			t.Fatalf("got %q, want nil: attached", e)
		}
		g.guest.wpa.Event(guestfake.Connected)
		if e := next(); string(e) != guestfake.Connected {
			t.Fatalf("got %q, want the event", e)
		}
		g.guest.restart(t)
		g.relay.Kick()
	}
	if n := attached(g.relay); n != 0 {
		t.Errorf("Stats counts %d attached clients, want the subscriber left out", n)
	}
}

// A relay hands its socket over to the next one (the VM manager
// restarts): the attached client stays attached, and a request it sent in
// between is answered by the next relay.
func TestHandover(t *testing.T) {
	g := newRig(t, Options{})
	mon := g.client(t, "mon")
	mon.expect("ATTACH", "OK\n")
	handed, err := g.relay.Handover()
	if err != nil {
		t.Fatal(err)
	}
	mon.send("PING") // waits in the socket
	opts := Options{Guest: localhost, Sockets: []Socket{{Path: g.path, Port: g.guest.port}}, Adopt: map[string]Handed{}}
	for _, h := range handed {
		opts.Adopt[h.Path] = h
	}
	next, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	if got := mon.receive(); got != "PONG\n" {
		t.Fatalf("PING sent between the relays: got %q", got)
	}
	if n := attached(next); n != 1 {
		t.Fatalf("%d attached clients after the handover, want 1", n)
	}
	next.Kick()
	g.guest.restart(t) // the new guest
	next.Kick()
	g.guest.waitMonitors(t, 1)
	g.guest.wpa.Event(guestfake.Connected)
	if got := mon.receive(); got != guestfake.Connected {
		t.Fatalf("got %q, want the new guest's event", got)
	}
}
