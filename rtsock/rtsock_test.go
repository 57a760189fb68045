package rtsock_test

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/rtsock"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
	"github.com/wifibox/wifibox/sys"
)

// holdTap, set in the environment to DIR:TAP, makes the test binary open
// the tap on the simulated host under DIR as bhyve does and wait to be
// killed.
const holdTap = "RTSOCK_TEST_HOLD_TAP"

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdTap); spec != "" {
		dir, tap, _ := strings.Cut(spec, ":")
		k, err := sim.NewKernel(dir)
		if err == nil {
			_, err = k.Open("/dev/"+tap, unix.O_RDWR)
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

func newHost(t *testing.T) (string, *sim.Kernel, *ifnet.Net) {
	t.Helper()
	dir, k := simtest.New(t)
	n, err := ifnet.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return dir, k, n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// next reads the next event; it fails the test after a generous bound.
func next(t *testing.T, s *rtsock.Socket) rtsock.Event {
	t.Helper()
	type result struct {
		ev  rtsock.Event
		err error
	}
	c := make(chan result, 1)
	go func() {
		ev, err := s.Next()
		c <- result{ev, err}
	}()
	select {
	case r := <-c:
		must(t, r.err)
		return r.ev
	case <-time.After(30 * time.Second):
		t.Fatal("no routing message within 30 s")
	}
	panic("unreachable")
}

// TestEvents: a tap's life as the routing socket tells it.
func TestEvents(t *testing.T) {
	dir, k, n := newHost(t)
	s, err := rtsock.Open(k)
	must(t, err)
	defer s.Close()
	tap, err := n.CreateInterface("tap")
	must(t, err)
	must(t, n.SetUp(tap))
	bhyve, err := sim.NewKernel(dir)
	must(t, err)
	fd, err := bhyve.Open("/dev/"+tap, unix.O_RDWR)
	must(t, err)
	must(t, bhyve.Close(fd))
	must(t, n.DestroyInterface(tap))
	var got []rtsock.Event
	for range 6 {
		got = append(got, next(t, s))
	}
	want := []rtsock.Event{
		{Kind: rtsock.Arrival, Index: 3, Name: "tap0"},
		{Kind: rtsock.Info, Index: 3, Up: true},
		{Kind: rtsock.Info, Index: 3, Up: true, LinkUp: true},
		// The last close brings the tap down, then its link (tundtor).
		{Kind: rtsock.Info, Index: 3, LinkUp: true},
		{Kind: rtsock.Info, Index: 3},
		{Kind: rtsock.Departure, Index: 3, Name: "tap0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestExitClosesTap: a process that held a tap open and is killed closes
// it, and the link-down message comes, as exit(2) closes descriptors.
func TestExitClosesTap(t *testing.T) {
	dir, k, n := newHost(t)
	tap, err := n.CreateInterface("tap")
	must(t, err)
	s, err := rtsock.Open(k)
	must(t, err)
	defer s.Close()
	exe, err := os.Executable()
	must(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), holdTap+"="+dir+":"+tap)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	defer cmd.Wait()
	line := make([]byte, 5)
	if _, err := out.Read(line); err != nil || string(line) != "open\n" {
		cmd.Process.Kill()
		t.Fatalf("the holder said %q, %v", line, err)
	}
	if ev := next(t, s); ev != (rtsock.Event{Kind: rtsock.Info, Index: 3, LinkUp: true}) {
		t.Errorf("after the open: %+v, want the link up", ev)
	}
	must(t, cmd.Process.Kill())
	if ev := next(t, s); ev != (rtsock.Event{Kind: rtsock.Info, Index: 3}) {
		t.Errorf("after the kill: %+v, want the link down", ev)
	}
}

// TestCloseWakesNext: Close from another goroutine ends a blocked Next.
func TestCloseWakesNext(t *testing.T) {
	_, k, _ := newHost(t)
	s, err := rtsock.Open(k)
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := s.Next()
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // most likely blocked by now
	must(t, s.Close())
	select {
	case err := <-done:
		if !errors.Is(err, rtsock.ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Next still blocked 30 s after Close")
	}
	if _, err := s.Next(); !errors.Is(err, rtsock.ErrClosed) {
		t.Errorf("Next on a closed socket = %v, want ErrClosed", err)
	}
}

// ifinfo crafts the RTM_IFINFO message rt_ifmsg sends, byte by byte at
// the offsets pinned in testdata/freebsd-abi.json.
func ifinfo(index uint16, linkState uint8) []byte {
	msg := make([]byte, 168)
	binary.NativeEndian.PutUint16(msg[0:], 168)    // ifm_msglen
	msg[2] = 5                                     // ifm_version
	msg[3] = 0xe                                   // ifm_type RTM_IFINFO
	binary.NativeEndian.PutUint32(msg[8:], 0x8843) // ifm_flags, IFF_UP among them
	binary.NativeEndian.PutUint16(msg[12:], index) // ifm_index
	msg[16] = 6                                    // ifi_type IFT_ETHER
	msg[16+4] = linkState                          // ifi_link_state
	return msg
}

// announce crafts RTM_IFANNOUNCE.
func announce(index uint16, name string, what uint16) []byte {
	msg := make([]byte, 24)
	binary.NativeEndian.PutUint16(msg[0:], 24)
	msg[2], msg[3] = 5, 0x11
	binary.NativeEndian.PutUint16(msg[4:], index)
	copy(msg[6:22], name)
	binary.NativeEndian.PutUint16(msg[22:], what)
	return msg
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		ev   rtsock.Event
		ok   bool
	}{
		{"link up", ifinfo(7, abi.LINK_STATE_UP), rtsock.Event{Kind: rtsock.Info, Index: 7, Up: true, LinkUp: true}, true},
		{"link down", ifinfo(7, abi.LINK_STATE_DOWN), rtsock.Event{Kind: rtsock.Info, Index: 7, Up: true}, true},
		{"arrival", announce(4, "tap3", abi.IFAN_ARRIVAL), rtsock.Event{Kind: rtsock.Arrival, Index: 4, Name: "tap3"}, true},
		{"departure", announce(4, "tap3", abi.IFAN_DEPARTURE), rtsock.Event{Kind: rtsock.Departure, Index: 4, Name: "tap3"}, true},
		{"another message", []byte{100, 0, 5, 0xc}, rtsock.Event{}, false},
	} {
		ev, ok, err := rtsock.Parse(tc.msg)
		if err != nil || ok != tc.ok || ev != tc.ev {
			t.Errorf("%s: Parse = %+v, %v, %v; want %+v, %v", tc.name, ev, ok, err, tc.ev, tc.ok)
		}
	}
	for name, msg := range map[string][]byte{
		"truncated":          ifinfo(7, 2)[:40],
		"too short":          {1, 0, 5},
		"another version":    func() []byte { m := ifinfo(7, 2); m[2] = 4; return m }(),
		"length not read":    func() []byte { m := ifinfo(7, 2); m[0] = 160; return m }(),
		"unknown announce":   announce(4, "tap3", 9),
		"announce truncated": announce(4, "tap3", 0)[:20],
	} {
		if _, _, err := rtsock.Parse(msg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// countingSys counts the reads of a routing socket.
type countingSys struct {
	sys.Sys
	reads int
}

func (c *countingSys) Socket(int, int, int) (int, error) { return 7, nil }
func (c *countingSys) Close(int) error                   { return nil }

func (c *countingSys) Read(int, []byte) (int, error) {
	c.reads++
	return 0, nil
}

// TestNoReadAfterClose: a Next called after Close (a watch's loop, closed
// between two of its calls) reads nothing: the descriptor is released,
// and its number may be another file's by then.
func TestNoReadAfterClose(t *testing.T) {
	c := &countingSys{}
	s, err := rtsock.Open(c)
	must(t, err)
	must(t, s.Close())
	if _, err := s.Next(); !errors.Is(err, rtsock.ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	if c.reads != 0 {
		t.Errorf("Next after Close made %d reads, want none", c.reads)
	}
}
