package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/sim"
)

// netOf gives the simulated host's interfaces, as the kernel model has
// them.
func netOf(t *testing.T, h *simHost) host.Net {
	t.Helper()
	hh, err := sim.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	return hh.Net
}

// guestNet gives the simulated host's interfaces and the tap of the
// guest that runs there.
func guestNet(t *testing.T, h *simHost) (host.Net, string) {
	t.Helper()
	n := netOf(t, h)
	tap, err := ifnet.Netif{Net: n, Bridge: host.BridgeName}.Tap()
	if err != nil || tap == "" {
		t.Fatalf("no tap in %s: %v", host.BridgeName, err)
	}
	return n, tap
}

// netState tells whether wifibox0 is up, whether tap is up, and whether
// tap is its member.
func netState(t *testing.T, n host.Net, tap string) (bridgeUp, tapUp, member bool) {
	t.Helper()
	all, err := n.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range all {
		switch i.Name {
		case host.BridgeName:
			bridgeUp = i.Up
			members, err := n.Members(host.BridgeName)
			if err != nil {
				t.Fatal(err)
			}
			member = slices.Contains(members, tap)
		case tap:
			tapUp = i.Up
		}
	}
	return bridgeUp, tapUp, member
}

// eventually waits, at most 10 s, for cond to hold, and tells how long it
// took.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > 10*time.Second {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(began)
}

// logSays waits, as eventually does, for the log to hold want: the VM
// manager logs a repair after it has made it, so the repaired network can
// be seen before the line is written.
func logSays(t *testing.T, h *simHost, want string) {
	t.Helper()
	eventually(t, "the log says "+strconv.Quote(want), func() bool { return strings.Contains(h.log(), want) })
}

// TestNetifStopStart: `service netif stop` downs every interface, the
// guest's tap among them, and `service netif start` brings up wifibox0
// only, as rc.conf configures it; the VM manager brings the tap up again,
// so the guest's frames flow without a restart, and says so.
func TestNetifStopStart(t *testing.T) {
	h := newHost(t)
	rc := filepath.Join(h.dir, "etc", "rc.conf")
	if err := os.MkdirAll(filepath.Dir(rc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rc, []byte("ifconfig_wifibox0=\"SYNCDHCP\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.must("start")
	guest := h.guestPID()
	n, tap := guestNet(t, h)
	h.must("sim", "netif-stop", h.dir)
	h.must("sim", "netif-start", h.dir)
	took := eventually(t, "wifibox0 and its tap up, the tap a member", func() bool {
		bridgeUp, tapUp, member := netState(t, n, tap)
		return bridgeUp && tapUp && member
	})
	t.Logf("the network worked again %s after netif start", took)
	if pid := h.guestPID(); pid != guest {
		t.Errorf("the guest was restarted: PID %d, then %d", guest, pid)
	}
	logSays(t, h, tap+" was down, so the guest's frames were dropped: brought it up again")
	if out := h.must("status", "-v"); !strings.Contains(out, "Repaired:") {
		t.Errorf("status -v shows no repair:\n%s", out)
	}
}

// TestBridgeDestroyed: wifibox0 destroyed under a running guest is back,
// up, with the guest's tap as its member, and configured as rc.conf says,
// as devd does for an interface that attaches.
func TestBridgeDestroyed(t *testing.T) {
	h := newHost(t)
	h.must("start")
	from := len(h.trace())
	n, tap := guestNet(t, h)
	if err := n.DestroyInterface(host.BridgeName); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "wifibox0 back, up, with the tap", func() bool {
		bridgeUp, tapUp, member := netState(t, n, tap)
		return bridgeUp && tapUp && member
	})
	t.Logf("wifibox0 was back %s after it was destroyed", took)
	logSays(t, h, "wifibox0 was gone: created it again with "+tap)
	eventually(t, "wifibox0 configured as rc.conf says", func() bool {
		return slices.Contains(h.trace()[from:], "run /etc/pccard_ether wifibox0 forcestart")
	})
	h.must("stop")
	if all, err := n.Interfaces(); err != nil || slices.ContainsFunc(all, func(i host.Interface) bool {
		return i.Kind == ifnet.KindBridge || i.Kind == ifnet.KindTap
	}) {
		t.Errorf("after stop: %v, %v", all, err)
	}
}

// TestTapDestroyed: destroying the guest's tap (ifconfig tap0 destroy)
// waits in the kernel while bhyve holds it (tun_destroy), and the guest
// goes on on it; once bhyve exits (here it is killed), the destroy ends
// and the guest is started again on a new tap (which may take the old
// one's name).
func TestTapDestroyed(t *testing.T) {
	h := newHost(t)
	h.must("start")
	guest := h.guestPID()
	n, tap := guestNet(t, h)
	done := make(chan error, 1)
	go func() { done <- n.DestroyInterface(tap) }()
	// A destroy that does not wait has returned by now.
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the destroy of %s returned (%v) while bhyve holds it", tap, err)
	default:
	}
	if _, tapUp, member := netState(t, n, tap); !tapUp || !member || h.guestPID() != guest {
		t.Errorf("while the destroy waits: %s up %v, member %v; guest %d, want %d", tap, tapUp, member, h.guestPID(), guest)
	}
	if err := syscall.Kill(guest, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the destroy of %s once bhyve exited: %v", tap, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the destroy of %s still waits 30 s after bhyve was killed", tap)
	}
	var newTap string
	eventually(t, "the guest running again on a new tap", func() bool {
		newTap, _ = ifnet.Netif{Net: n, Bridge: host.BridgeName}.Tap()
		pid := h.guestPID()
		return newTap != "" && pid != 0 && pid != guest
	})
	if _, tapUp, member := netState(t, n, newTap); !tapUp || !member {
		t.Errorf("the new tap %s: up %v, member %v", newTap, tapUp, member)
	}
	logSays(t, h, host.BridgeName+" had no tap: the guest starts again on "+newTap)
}

// TestStartDuringNetifRestart: right after `service netif stop` destroyed
// wifibox0, before the VM manager has put it back (it is stopped here, so
// the window stays open), the guest's tap is marked and in no bridge,
// but bhyve holds it. A `start netif` must not reclaim it, which would
// wait in the kernel until bhyve exits (tun_destroy) with the command's
// lock held: it returns, and the guest keeps its tap.
func TestStartDuringNetifRestart(t *testing.T) {
	h := newHost(t)
	h.must("start")
	guest := h.guestPID()
	n, tap := guestNet(t, h)
	mgr := h.managerPID()
	if err := syscall.Kill(mgr, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(mgr, syscall.SIGCONT)
	if err := n.DestroyInterface(host.BridgeName); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-S", h.dir, "start", "netif")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		// The guest part finds the VM manager stopped (SIGSTOP), and
		// says so as status does: 127.
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 127) {
			t.Errorf("start netif during the netif restart: %v", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("start netif still running after 60 s: it waits on the destroy of %s, which bhyve holds", tap)
	}
	if i, err := n.Interface(tap); err != nil || !i.LinkUp {
		t.Errorf("the guest's tap after start netif: %+v, %v; want it there, held by bhyve", i, err)
	}
	syscall.Kill(mgr, syscall.SIGCONT)
	eventually(t, "the guest's tap back in wifibox0", func() bool {
		_, _, member := netState(t, n, tap)
		return member
	})
	if pid := h.guestPID(); pid != guest {
		t.Errorf("guest %d after start netif, want %d, still running", pid, guest)
	}
	h.must("stop")
}
