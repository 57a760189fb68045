package launch

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/host"
)

func TestTapNames(t *testing.T) {
	wifibox := bhyve.Args(bhyve.Spec{
		Program: "/usr/sbin/bhyve", CPUs: 1, Memory: "128M",
		Console: "/dev/nmdm-wifibox.1A", Firmware: "/fw.fd",
		ESPImage: "/esp.img", RootImage: "/root.img",
		Appliance: "/etc/appliance", RunAppliance: "/var/run/appliance",
		Tap:      "tap3",
		Passthru: []host.Selector{{Bus: 3}},
	})
	for _, tc := range []struct {
		name string
		argv []string
		want []string
	}{
		{"wifibox's", wifibox, []string{"tap3"}},
		{"virtio-net with options", []string{"bhyve", "-s", "2:0,virtio-net,tap1,mac=58:9c:fc:00:00:01", "vm"}, []string{"tap1"}},
		{"backend key", []string{"bhyve", "-s", "2,virtio-net,mac=58:9c:fc:00:00:01,backend=tap2", "vm"}, []string{"tap2"}},
		{"vmnet", []string{"bhyve", "-s", "2,e1000,vmnet0", "vm"}, []string{"vmnet0"}},
		{"two", []string{"bhyve", "-s", "2,e1000,tap0", "-s", "3,virtio-net,tap1", "vm"}, []string{"tap0", "tap1"}},
		{"joined", []string{"bhyve", "-s5:0,e1000,tap4", "vm"}, []string{"tap4"}},
		{"after flags", []string{"bhyve", "-AHPSs", "5:0,e1000,tap5", "vm"}, []string{"tap5"}},
		{"netgraph", []string{"bhyve", "-s", "2,virtio-net,netgraph,path=ng0:,peerhook=a", "vm"}, nil},
		{"not a network device", []string{"bhyve", "-s", "4:0,virtio-blk,/tap0.img", "vm"}, nil},
		{"no backend", []string{"bhyve", "-s", "2,e1000", "vm"}, nil},
		{"help", []string{"bhyve", "-s", "help"}, nil},
		{"argument of another option", []string{"bhyve", "-l", "-s", "-c", "1", "vm"}, nil},
		{"after the VM's name", []string{"bhyve", "-c", "1", "vm", "-s", "2,e1000,tap0"}, nil},
		{"after --", []string{"bhyve", "--", "-s", "2,e1000,tap0"}, nil},
		{"option without its argument", []string{"bhyve", "-s"}, nil},
	} {
		if diff := cmp.Diff(tc.want, tapNames(tc.argv)); diff != "" {
			t.Errorf("%s: tapNames(%q) (-want +got):\n%s", tc.name, tc.argv, diff)
		}
	}
}

// fakeRoutes is a routing socket fed by the test. Each message is handed
// over unbuffered: once the next one is taken, the watch is done with the
// one before.
type fakeRoutes struct {
	msgs   chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeRoutes() *fakeRoutes {
	return &fakeRoutes{msgs: make(chan []byte), closed: make(chan struct{})}
}

func (f *fakeRoutes) Read(b []byte) (int, error) {
	select {
	case msg := <-f.msgs:
		return copy(b, msg), nil
	case <-f.closed:
		return 0, os.ErrClosed
	}
}

func (f *fakeRoutes) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// isClosed tells, without waiting, whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// startWatch runs a watch of the given taps (index to name) on a fake
// routing socket.
func startWatch(pending map[uint16]string) (*linkWatch, *fakeRoutes, chan struct{}, *bytes.Buffer) {
	sock := newFakeRoutes()
	w := &linkWatch{sock: sock, pending: pending, done: make(chan struct{})}
	ready := make(chan struct{})
	var out bytes.Buffer
	go w.run(ready, &out)
	return w, sock, ready, &out
}

func TestWatchReady(t *testing.T) {
	w, sock, ready, out := startWatch(map[uint16]string{7: "tap0", 9: "tap1"})
	sock.msgs <- ifinfo(8, 2)      // another interface's link
	sock.msgs <- ifinfo(7, 1)      // the tap's link down
	sock.msgs <- otherMessage(100) // another message about it
	sock.msgs <- ifinfo(7, 2)      // tap0 up, tap1 not yet
	sock.msgs <- ifinfo(9, 0)      // unknown state
	sock.msgs <- otherMessage(100) // taken once the one before is done
	if isClosed(ready) {
		t.Fatal("Ready closed before tap1's link came up")
	}
	sock.msgs <- ifinfo(9, 2)
	<-ready
	<-w.done
	if !isClosed(sock.closed) {
		t.Error("the routing socket is left open after the taps came up")
	}
	if out.Len() != 0 {
		t.Errorf("output %q, want none", out)
	}
}

func TestWatchStopped(t *testing.T) {
	w, sock, ready, out := startWatch(map[uint16]string{7: "tap0"})
	sock.msgs <- ifinfo(7, 1)
	w.stop()
	<-w.done
	if isClosed(ready) {
		t.Error("Ready closed after the watch was stopped with the link down")
	}
	if out.Len() != 0 {
		t.Errorf("output %q, want none", out)
	}
}

func TestWatchFallsBack(t *testing.T) {
	w, sock, ready, out := startWatch(map[uint16]string{7: "tap0"})
	sock.msgs <- ifinfo(7, 2)[:40]
	<-ready
	<-w.done
	want := "wifibox: watching tap0 for bhyve's readiness: read the routing socket: RTM_IFINFO message of 40 bytes"
	if !strings.HasPrefix(out.String(), want) || !strings.HasSuffix(out.String(), "; bhyve counts as ready once started\n") {
		t.Errorf("output %q, want it to start with %q", out, want)
	}
	if !isClosed(sock.closed) {
		t.Error("the routing socket is left open")
	}
}
