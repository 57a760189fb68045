package relay

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/guestfake"
)

// bound keeps a broken relay from hanging a test; no test asserts on time.
const bound = 10 * time.Second

var localhost = netip.MustParseAddr("127.0.0.1")

// tempDir gives a short directory: socket paths must fit sockaddr_un.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// guest is the guest's end as the real image has it: wpa_supplicant's
// datagram socket behind socat on a port of 127.0.0.1.
type guest struct {
	dir   string
	wpa   *guestfake.WPA
	socat *guestfake.Socat
	port  int
}

// startGuest serves a fake wpa_supplicant behind socat, whose coalesce
// window is given.
func startGuest(t testing.TB, coalesce time.Duration) *guest {
	t.Helper()
	return startGuestAt(t, coalesce, "127.0.0.1:0")
}

// startGuestAt serves the guest at addr, host:port.
func startGuestAt(t testing.TB, coalesce time.Duration, addr string) *guest {
	t.Helper()
	g := &guest{dir: tempDir(t)}
	g.start(t)
	g.socat = &guestfake.Socat{Target: g.wpa.Path(), Bind: filepath.Join(g.dir, "socat"), Coalesce: coalesce, Linger: 50 * time.Millisecond}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.socat.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("Socat.Serve: %v", err)
		}
	})
	g.port = ln.Addr().(*net.TCPAddr).Port
	return g
}

// start starts wpa_supplicant.
func (g *guest) start(t testing.TB) {
	t.Helper()
	w, err := guestfake.ListenWPA(filepath.Join(g.dir, "wlan0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	g.wpa = w
	t.Cleanup(func() { w.Close() })
}

// restart is a guest that reboots: its connections end, and a new
// wpa_supplicant knows no monitor.
func (g *guest) restart(t testing.TB) {
	t.Helper()
	if err := g.wpa.Close(); err != nil {
		t.Fatal(err)
	}
	g.socat.Drop()
	g.start(t)
}

// waitMonitors waits until wpa_supplicant has n monitors.
func (g *guest) waitMonitors(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for g.wpa.Monitors() != n {
		if time.Now().After(deadline) {
			t.Fatalf("wpa_supplicant has %d monitors, want %d", g.wpa.Monitors(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// logSink passes the relay's log entries to the test, which waits for
// the one telling that something happened.
type logSink chan *logrus.Entry

func (s logSink) Levels() []logrus.Level { return logrus.AllLevels }

func (s logSink) Fire(e *logrus.Entry) error {
	select {
	case s <- e:
	default: // the test is not waiting for this many
	}
	return nil
}

func newLog() (*logrus.Logger, logSink) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.DebugLevel)
	sink := make(logSink, 1000)
	log.AddHook(sink)
	return log, sink
}

// waitLog waits for a log entry containing text.
func waitLog(t testing.TB, sink logSink, text string) {
	t.Helper()
	timeout := time.After(bound)
	for {
		select {
		case e := <-sink:
			if strings.Contains(e.Message, text) {
				return
			}
		case <-timeout:
			t.Fatalf("no log entry with %q", text)
		}
	}
}

// startRelay relays one socket, dir/wlan0, to port and stops the relay at
// the test's end.
func startRelay(t testing.TB, dir string, port int, opts Options) (*Relay, string) {
	t.Helper()
	path := filepath.Join(dir, "wlan0")
	if !opts.Guest.IsValid() && opts.Resolve == nil {
		opts.Guest = localhost
	}
	opts.Sockets = []Socket{{Path: path, Port: port}}
	r, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r, path
}

// client is wpa_cli: a datagram socket bound at its own path.
type client struct {
	t    testing.TB
	conn *net.UnixConn
	to   *net.UnixAddr
}

func newClient(t testing.TB, dir, name, relayed string) *client {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, to: &net.UnixAddr{Name: relayed, Net: "unixgram"}}
}

func (c *client) send(msg string) {
	c.t.Helper()
	if _, err := c.conn.WriteToUnix([]byte(msg), c.to); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) receive() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 2*MaxMessage)
	n, _, err := c.conn.ReadFromUnix(buf)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(buf[:n])
}

func (c *client) request(msg string) string {
	c.t.Helper()
	c.send(msg)
	return c.receive()
}

// expect sends a request and stops the test unless the reply is want.
func (c *client) expect(req, want string) {
	c.t.Helper()
	if got := c.request(req); got != want {
		c.t.Fatalf("%.20s: got %q, want %q", req, got, want)
	}
}

// vanish closes the client's socket and removes its file, what wpa_cli
// does when it exits.
func (c *client) vanish() {
	c.t.Helper()
	c.conn.Close()
	os.Remove(c.conn.LocalAddr().String())
}

func attached(r *Relay) int {
	return r.Stats()[0].Attached
}

// rig is a relay of one socket to a simulated guest, with the relay's log.
type rig struct {
	dir, path string
	guest     *guest
	relay     *Relay
	log       logSink
}

func newRig(t testing.TB, opts Options) *rig {
	t.Helper()
	return newRigCoalescing(t, opts, 0)
}

func newRigCoalescing(t testing.TB, opts Options, coalesce time.Duration) *rig {
	t.Helper()
	g := &rig{dir: tempDir(t)}
	g.guest = startGuest(t, coalesce)
	opts.Log, g.log = newLog()
	g.relay, g.path = startRelay(t, g.dir, g.guest.port, opts)
	return g
}

func (g *rig) client(t testing.TB, name string) *client {
	t.Helper()
	return newClient(t, g.dir, name, g.path)
}

func TestRequests(t *testing.T) {
	g := newRig(t, Options{})
	c := g.client(t, "c1")
	c.expect("PING", "PONG\n")
	c.expect("STATUS", guestfake.Status)
	c.expect("LIST_NETWORKS", "UNKNOWN COMMAND\n")
	c.expect(strings.Repeat("x", MaxMessage), "UNKNOWN COMMAND\n") // the largest allowed
	want := []SocketStats{{Path: g.path, Port: g.guest.port, Attached: 0}}
	if diff := cmp.Diff(want, g.relay.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	g := newRig(t, Options{Resolve: func() (netip.Addr, error) { return localhost, nil }})
	g.client(t, "c1").expect("PING", "PONG\n")
}

func TestResolveFails(t *testing.T) {
	noRoute := errors.New("no default route through wifibox0")
	g := newRig(t, Options{Resolve: func() (netip.Addr, error) { return netip.Addr{}, noRoute }})
	got := g.client(t, "c1").request("STATUS")
	// A line, as wpa_supplicant's own replies are ("FAIL\n"), so that
	// wpa_cli's output ends with a newline.
	if want := "FAIL relay: guest unreachable: find the guest's address: "; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\n") {
		t.Errorf("got %q, want %q...", got, want)
	}
}

func TestNoGuestAddress(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "wlan0")
	if _, err := Start(Options{Sockets: []Socket{{Path: path, Port: 1200}}}); err == nil {
		t.Fatal("Start without a guest address succeeded")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}

// Requests of two clients that arrive together are answered each to its
// sender, over the one guest connection.
func TestTwoClients(t *testing.T) {
	g := newRig(t, Options{})
	a := g.client(t, "a")
	b := g.client(t, "b")
	for range 4 {
		a.send("PING")
		b.send("STATUS")
		if got := b.receive(); got != guestfake.Status {
			t.Errorf("b got %q, want the status", got)
		}
		if got := a.receive(); got != "PONG\n" {
			t.Errorf("a got %q, want PONG", got)
		}
	}
}

// What the issue saw with wpa_cli -a: the guest's stream merges the
// events of DISCONNECT with its reply. The requester gets OK, the
// attached client every event, each in a datagram of its own.
func TestMergedStreamSplit(t *testing.T) {
	g := newRigCoalescing(t, Options{}, 20*time.Millisecond)
	mon := g.client(t, "mon")
	cmd := g.client(t, "cmd")
	mon.expect("ATTACH", "OK\n")
	for range 4 {
		cmd.expect("DISCONNECT", "OK\n")
		for _, want := range []string{guestfake.Disconnected, guestfake.DSCPClear} {
			if got := mon.receive(); got != want {
				t.Fatalf("monitor got %q, want %q", got, want)
			}
		}
		cmd.expect("RECONNECT", "OK\n")
		if got := mon.receive(); got != guestfake.Connected {
			t.Fatalf("monitor got %q, want %q", got, guestfake.Connected)
		}
	}
	// A client that sends ATTACH and then commands on one socket gets
	// the reply and the events apart.
	mon.send("DISCONNECT")
	got := []string{mon.receive(), mon.receive(), mon.receive()}
	want := []string{guestfake.Disconnected, guestfake.DSCPClear, "OK\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
}

// Attached clients share the one guest connection; it is attached while
// one of them is.
func TestSharedAttach(t *testing.T) {
	g := newRig(t, Options{})
	a := g.client(t, "a")
	b := g.client(t, "b")
	c := g.client(t, "c")
	c.expect("DETACH", "FAIL\n") // not attached: what the guest answers
	a.expect("ATTACH", "OK\n")
	b.expect("ATTACH", "OK\n")
	if n := g.guest.wpa.Monitors(); n != 1 {
		t.Errorf("wpa_supplicant has %d monitors, want the relay's one", n)
	}
	if n := attached(g.relay); n != 2 {
		t.Errorf("%d attached clients, want 2", n)
	}
	g.guest.wpa.Event(guestfake.ScanResults)
	for _, cl := range []*client{a, b} {
		if got := cl.receive(); got != guestfake.ScanResults {
			t.Errorf("got %q, want the event", got)
		}
	}
	c.expect("PING", "PONG\n") // no event came before: c is not attached
	a.expect("DETACH", "OK\n")
	if n := g.guest.wpa.Monitors(); n != 1 {
		t.Errorf("wpa_supplicant has %d monitors while b is attached, want 1", n)
	}
	b.expect("DETACH", "OK\n")
	if n := g.guest.wpa.Monitors(); n != 0 {
		t.Errorf("wpa_supplicant has %d monitors after the last DETACH, want 0", n)
	}
}

// LEVEL is per client: an event below a client's level does not reach it.
func TestLevel(t *testing.T) {
	g := newRig(t, Options{})
	a := g.client(t, "a")
	b := g.client(t, "b")
	a.expect("LEVEL 4", "FAIL\n") // not attached
	a.expect("ATTACH", "OK\n")
	b.expect("ATTACH", "OK\n")
	a.expect("LEVEL 4", "OK\n")
	b.expect("LEVEL 2", "OK\n")
	g.guest.wpa.Event("<2>DEBUG")
	g.guest.wpa.Event("<4>WARNING")
	if got := a.receive(); got != "<4>WARNING" {
		t.Errorf("a (level 4) got %q, want only the warning", got)
	}
	for _, want := range []string{"<2>DEBUG", "<4>WARNING"} {
		if got := b.receive(); got != want {
			t.Errorf("b (level 2) got %q, want %q", got, want)
		}
	}
}

// A monitor that vanished is forgotten when an event cannot reach it,
// and the guest connection is detached with the last one.
func TestVanishedMonitor(t *testing.T) {
	g := newRig(t, Options{})
	c := g.client(t, "c1")
	c.expect("ATTACH", "OK\n")
	c.vanish()
	g.guest.wpa.Event(guestfake.ScanResults)
	waitLog(t, g.log, "is gone")
	if n := attached(g.relay); n != 0 {
		t.Errorf("%d attached clients after the client vanished, want 0", n)
	}
	g.guest.waitMonitors(t, 0)
}

// A guest that restarts: the relay connects again and attaches again,
// and the attached client gets the new guest's events.
func TestGuestRestart(t *testing.T) {
	g := newRig(t, Options{})
	mon := g.client(t, "mon")
	mon.expect("ATTACH", "OK\n")
	for range 2 {
		g.guest.restart(t)
		g.guest.waitMonitors(t, 1)
		g.guest.wpa.Event(guestfake.ScanResults)
		if got := mon.receive(); got != guestfake.ScanResults {
			t.Fatalf("got %q, want the event", got)
		}
	}
	mon.expect("PING", "PONG\n")
	if _, err := os.Lstat(g.path); err != nil {
		t.Errorf("host socket: %v", err)
	}
}

// A request whose reply is empty: socat writes nothing of it to the
// stream, the relay finds it out and sends the empty reply; the PING it
// asked to find out is not passed on.
func TestEmptyReply(t *testing.T) {
	g := newRig(t, Options{})
	c := g.client(t, "c1")
	for range 2 {
		c.expect("BSS RANGE=ALL MASK=0x2", "")
		c.expect("STATUS", guestfake.Status)
	}
}

// A guest that hangs: the client gets FAIL within ReplyTimeout. The
// connection is closed, and once the guest answers again, so is the next
// request: over a new connection whose socat child binds the path after
// the old child removed it.
func TestHungGuest(t *testing.T) {
	g := newRig(t, Options{ReplyTimeout: time.Second})
	c := g.client(t, "c1")
	g.guest.wpa.Mute.Store(true)
	c.expect("STATUS", "FAIL relay: no reply from the guest within 1s\n")
	g.guest.wpa.Mute.Store(false)
	c.expect("PING", "PONG\n")
	time.Sleep(4 * g.guest.socat.Linger) // the old child has ended by now
	c.expect("PING", "PONG\n")
}

// A reply that comes after the client got its FAIL answers no other
// request.
func TestLateReply(t *testing.T) {
	dir := tempDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	late := make(chan bool, 1)
	go func() {
		for n := 0; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, MaxMessage)
				for {
					if _, err := conn.Read(buf); err != nil {
						break
					}
					if n > 0 {
						conn.Write([]byte("PONG\n"))
					}
				}
				if n == 0 { // the relay gave up: the late reply
					_, err := conn.Write([]byte("LATE\n"))
					late <- err == nil
				}
			}()
		}
	}()
	_, path := startRelay(t, dir, ln.Addr().(*net.TCPAddr).Port, Options{ReplyTimeout: time.Second})
	c := newClient(t, dir, "c1", path)
	c.expect("PING", "FAIL relay: no reply from the guest within 1s\n")
	if !<-late {
		t.Log("the late reply could not be written")
	}
	c.expect("PING", "PONG\n")
}

func TestUnboundClientDropped(t *testing.T) {
	g := newRig(t, Options{})
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: g.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("PING")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, g.log, "no address")
	if n := g.guest.wpa.Requests(); n != 0 {
		t.Errorf("the guest got %d requests, want 0", n)
	}
}

func TestOversizedMessageRefused(t *testing.T) {
	g := newRig(t, Options{})
	c := g.client(t, "c1")
	c.expect("ATTACH", "OK\n")
	c.expect(strings.Repeat("x", MaxMessage+1), "FAIL relay: message longer than 4096 bytes\n")
	// Still attached.
	g.guest.wpa.Event(guestfake.ScanResults)
	if got := c.receive(); got != guestfake.ScanResults {
		t.Errorf("got %q, want the event", got)
	}
}

func TestGuestDown(t *testing.T) {
	dir := tempDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now: connection refused
	_, path := startRelay(t, dir, port, Options{})
	c := newClient(t, dir, "c1", path)
	got := c.request("STATUS")
	if want := "FAIL relay: guest unreachable: "; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "refused\n") {
		t.Errorf("got %q, want %q...connection refused", got, want)
	}
	// PING is the relay's to answer while the guest is away: wpa_cli -a
	// exits at anything but PONG.
	c.expect("PING", "PONG\n")
}

func TestMaxClients(t *testing.T) {
	g := newRig(t, Options{MaxClients: 2})
	g.client(t, "a").expect("ATTACH", "OK\n")
	g.client(t, "b").expect("ATTACH", "OK\n")
	c := g.client(t, "c")
	c.expect("ATTACH", "FAIL relay: too many attached clients (2)\n")
	c.expect("PING", "PONG\n") // requests still go
	if n := attached(g.relay); n != 2 {
		t.Errorf("%d attached clients, want 2", n)
	}
}

func TestOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := tempDir(t)
	path := filepath.Join(dir, "run", "wlan0") // run/ is created
	r, err := Start(Options{Guest: localhost, Sockets: []Socket{{Path: path, User: "1", Group: "1", Mode: 0o660, Port: 1200}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 || st.Uid != 1 || st.Gid != 1 {
		t.Errorf("socket is %v owned %d:%d, want a socket 0660 owned 1:1", fi.Mode(), st.Uid, st.Gid)
	}
	di, err := os.Lstat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if !di.IsDir() || di.Mode().Perm() != 0o755 {
		t.Errorf("directory is %v, want 0755", di.Mode())
	}
}

func TestUnknownOwner(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "wlan0")
	_, err := Start(Options{Guest: localhost, Sockets: []Socket{{Path: path, User: "no-such-user-wifibox", Port: 1200}}})
	if err == nil || !strings.Contains(err.Error(), "no-such-user-wifibox") {
		t.Errorf("Start: %v, want an error naming the user", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket created for an unknown user: %v", err)
	}
}

func TestLookupID(t *testing.T) {
	lookup := func(name string) (string, error) {
		if name == "wheel" {
			return "0", nil
		}
		return "", errors.New("unknown")
	}
	for _, tc := range []struct {
		name string
		want int
		ok   bool
	}{
		{"", -1, true},
		{"22", 22, true},
		{"wheel", 0, true},
		{"nobody-here", 0, false},
		{"-1", 0, false},
	} {
		got, err := lookupID("group", tc.name, lookup)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("lookupID(%q) = %d, %v; want %d, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func TestStopRemovesSockets(t *testing.T) {
	dir := tempDir(t)
	paths := []string{filepath.Join(dir, "wlan0"), filepath.Join(dir, "hostapd")}
	r, err := Start(Options{Guest: localhost, Sockets: []Socket{{Path: paths[0], Port: 1200}, {Path: paths[1], Port: 1201}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Stop: %v, want it removed", p, err)
		}
	}
	if err := r.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopWithAttachedClient(t *testing.T) {
	g := newRig(t, Options{})
	g.client(t, "c1").expect("ATTACH", "OK\n")
	if err := g.relay.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(g.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Stop: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	dir := tempDir(t)
	port := startGuest(t, 0).port
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "wlan0"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // the file stays: what a crashed relay leaves
	_, path := startRelay(t, dir, port, Options{})
	newClient(t, dir, "c1", path).expect("PING", "PONG\n")
}

func TestRefusedPaths(t *testing.T) {
	dir := tempDir(t)
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(real, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{filepath.Join(dir, "link"), unix.ELOOP},             // the socket's path is a link
		{filepath.Join(dir, "linkdir", "wlan0"), unix.ELOOP}, // its directory is
		{target, unix.EEXIST},                                // a file that is no socket
		{filepath.Join(target, "wlan0"), unix.ENOTDIR},       // its directory is no directory
	} {
		_, err := Start(Options{Guest: localhost, Sockets: []Socket{{Path: tc.path, Port: 1200}}})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.path, err, tc.want)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Errorf("target file: %q, %v; want it untouched", b, err)
	}
	if _, err := os.Lstat(filepath.Join(real, "wlan0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket created through the linked directory: %v", err)
	}
}

func TestFailedStartUndoes(t *testing.T) {
	dir := tempDir(t)
	first := filepath.Join(dir, "wlan0")
	bad := filepath.Join(dir, "file")
	if err := os.WriteFile(bad, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(Options{Guest: localhost, Sockets: []Socket{{Path: first, Port: 1200}, {Path: bad, Port: 1201}}})
	if !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Start: %v, want EEXIST", err)
	}
	if _, err := os.Lstat(first); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("first socket left behind: %v", err)
	}
}
