package ifnet_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
)

var freshTrace = []string{
	"if_create bridge bridge0",
	"if_descr bridge0 wifibox",
	"if_rename bridge0 wifibox0",
	"if_up wifibox0",
	"if_create tap tap0",
	"if_descr tap0 wifibox",
	"bridge_add wifibox0 tap0",
	"if_up tap0",
}

func TestSetupFresh(t *testing.T) {
	h := newTestHost(t)
	start := len(h.trace(t, 0))
	tap, warnings, err := h.netif().Setup()
	if err != nil || tap != "tap0" || warnings != nil {
		t.Fatalf("Setup = %q, %q, %v; want tap0 and no warnings", tap, warnings, err)
	}
	if diff := cmp.Diff(freshTrace, h.trace(t, start)); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	for _, name := range []string{"wifibox0", "tap0"} {
		if i, err := h.net.Interface(name); err != nil || !i.Up {
			t.Errorf("after Setup: %+v, %v; want it up", i, err)
		}
	}
	if got, err := h.net.Members("wifibox0"); err != nil || !cmp.Equal(got, []string{"tap0"}) {
		t.Errorf("members of wifibox0: %v, %v; want tap0", got, err)
	}

	// Run again: everything is in place, nothing changes.
	start = len(h.trace(t, 0))
	tap, warnings, err = h.netif().Setup()
	if trace := h.trace(t, start); err != nil || tap != "tap0" || warnings != nil || trace != nil {
		t.Errorf("second Setup = %q, %q, %v with changes %q; want tap0 and no change", tap, warnings, err, trace)
	}
}

// TestSetupOn15 runs Setup on FreeBSD 15.0, whose if_bridge refuses a
// member that has an address: a tap brought up before it joins has its
// IPv6 link-local one, so the tap must join first.
func TestSetupOn15(t *testing.T) {
	h := newTestHost(t, "osreldate=1500068")
	if _, _, err := h.netif().Setup(); err != nil {
		t.Fatalf("Setup on 15.0: %v", err)
	}
	// The order Setup used before: up, then add.
	tap := h.create(t, "tap")
	must(t, h.net.SetUp(tap))
	if err := h.net.AddMember("wifibox0", tap); !errors.Is(err, unix.EINVAL) {
		t.Errorf("adding a tap that is up on 15.0: %v, want EINVAL", err)
	}
	// 14.3 lets it in.
	h14 := newTestHost(t)
	h14.create(t, "bridge")
	tap = h14.create(t, "tap")
	must(t, h14.net.SetUp(tap))
	must(t, h14.net.AddMember("bridge0", tap))
}

// setUpHost prepares a host: a bridge wifibox0 (brought up when up) with
// the given interfaces as members, each created first from its cloner.
func setUpHost(t *testing.T, up bool, members ...string) *testHost {
	t.Helper()
	h := newTestHost(t)
	n := h.net
	name, err := n.CreateInterface("bridge")
	if err == nil {
		err = n.RenameInterface(name, "wifibox0")
	}
	if err == nil && up {
		err = n.SetUp("wifibox0")
	}
	for _, m := range members {
		if strings.HasPrefix(m, "tap") {
			_, err = n.CreateInterface(m)
		}
		if err == nil {
			err = n.AddMember("wifibox0", m)
		}
	}
	must(t, err)
	return h
}

func TestSetupRepairs(t *testing.T) {
	for _, c := range []struct {
		name     string
		up       bool
		members  []string
		tap      string
		trace    []string
		warnings []string
		after    []string // wifibox0's members afterwards
	}{
		{
			name:  "bridge without a tap",
			up:    true,
			tap:   "tap0",
			trace: []string{"if_create tap tap0", "if_descr tap0 wifibox", "bridge_add wifibox0 tap0", "if_up tap0"},
			after: []string{"tap0"},
		},
		{
			name:    "bridge down, tap down",
			members: []string{"tap3"},
			tap:     "tap3",
			trace:   []string{"if_up wifibox0", "if_up tap3"},
			after:   []string{"tap3"},
		},
		{
			name:     "a member that is no tap",
			up:       true,
			members:  []string{"em0"},
			tap:      "tap0",
			trace:    []string{"if_create tap tap0", "if_descr tap0 wifibox", "bridge_add wifibox0 tap0", "if_up tap0"},
			warnings: []string{"wifibox0 has members that are not tap interfaces, kept: em0"},
			after:    []string{"em0", "tap0"},
		},
		{
			name:     "two taps",
			up:       true,
			members:  []string{"tap5", "tap2"},
			tap:      "tap5",
			trace:    []string{"if_up tap5"},
			warnings: []string{"wifibox0 has more than one tap member (tap5, tap2); using tap5"},
			after:    []string{"tap5", "tap2"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := setUpHost(t, c.up, c.members...)
			start := len(h.trace(t, 0))
			tap, warnings, err := h.netif().Setup()
			if err != nil || tap != c.tap {
				t.Fatalf("Setup = %q, %v; want %s", tap, err, c.tap)
			}
			if diff := cmp.Diff(c.trace, h.trace(t, start)); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			got, err := h.net.Members("wifibox0")
			must(t, err)
			if diff := cmp.Diff(c.after, got); diff != "" {
				t.Errorf("members of wifibox0 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupRefusesANonBridge(t *testing.T) {
	h := newTestHost(t)
	h.create(t, "tap")
	must(t, h.net.RenameInterface("tap0", "wifibox0"))
	start := len(h.trace(t, 0))
	_, _, err := h.netif().Setup()
	if err == nil || !strings.Contains(err.Error(), "wifibox0 exists but is not a bridge") || !strings.Contains(err.Error(), "destroy it or rename it") {
		t.Errorf("Setup over a tap named wifibox0: %v", err)
	}
	if trace := h.trace(t, start); trace != nil {
		t.Errorf("Setup changed %q; want wifibox0 left alone", trace)
	}
}

func TestSetupWithoutBridgeModule(t *testing.T) {
	h := newTestHost(t)
	must(t, h.net.DestroyInterface(h.create(t, "bridge")))
	h.sys.fail = func(_ int, req uint32) error {
		if req == abi.SIOCIFCREATE2 {
			return abi.EINVAL // what a kernel without if_bridge answers
		}
		return nil
	}
	_, _, err := h.netif().Setup()
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "SIOCIFCREATE2") || !strings.Contains(err.Error(), "if_bridge is not loaded") {
		t.Errorf("Setup without the bridge cloner: %v", err)
	}
}

// TestSetupUndo fails each kernel call of a Setup in turn: Setup returns
// that failure and leaves behind nothing it created.
func TestSetupUndo(t *testing.T) {
	hosts := map[string]func(t *testing.T) *testHost{
		"fresh host":         func(t *testing.T) *testHost { return newTestHost(t) },
		"bridge without tap": func(t *testing.T) *testHost { return setUpHost(t, true) },
	}
	for name, newHost := range hosts {
		t.Run(name, func(t *testing.T) {
			h := newHost(t)
			before := h.names(t)
			start := h.sys.calls
			if _, _, err := h.netif().Setup(); err != nil {
				t.Fatal(err)
			}
			steps := h.sys.calls - start
			for step := 1; step <= steps; step++ {
				h := newHost(t)
				injected := errors.New("injected failure")
				start := h.sys.calls
				h.sys.fail = func(call int, _ uint32) error {
					if call == start+step {
						return injected
					}
					return nil
				}
				_, _, err := h.netif().Setup()
				if !errors.Is(err, injected) {
					t.Errorf("failing call %d of %d: Setup returned %v", step, steps, err)
				}
				h.sys.fail = nil
				if diff := cmp.Diff(before, h.names(t)); diff != "" {
					t.Errorf("failing call %d of %d: interfaces (-before +after):\n%s", step, steps, diff)
				}
			}
		})
	}
}

// TestKillAtEachStep stops Setup for good after each of its kernel calls,
// as a kill -9 does (no undo runs), then stops netif: Teardown leaves no
// interface behind, even when the kill came between a clone and its mark
// (the journal names it), and a Setup after it works.
func TestKillAtEachStep(t *testing.T) {
	h := newTestHost(t)
	start := h.sys.calls
	if _, _, err := h.netif().Setup(); err != nil {
		t.Fatal(err)
	}
	steps := h.sys.calls - start
	for step := 1; step < steps; step++ {
		for _, then := range []string{"stop", "start"} {
			h := newTestHost(t)
			start := h.sys.calls
			killed := errors.New("killed")
			h.sys.fail = func(call int, req uint32) error {
				if call > start+step {
					return killed
				}
				return nil
			}
			h.netif().Setup()
			h.sys.fail = nil
			want := []string{"em0", "lo0"}
			if then == "start" {
				if tap, _, err := h.netif().Setup(); err != nil || tap != "tap0" {
					t.Errorf("kill after call %d of %d: Setup again = %s, %v; want tap0", step, steps, tap, err)
				}
				want = []string{"em0", "lo0", "tap0", "wifibox0"}
			} else if _, err := h.netif().Teardown(); err != nil {
				t.Errorf("kill after call %d of %d: Teardown: %v", step, steps, err)
			}
			if diff := cmp.Diff(want, h.names(t)); diff != "" {
				t.Errorf("kill after call %d of %d, then %s: interfaces (-want +got):\n%s", step, steps, then, diff)
			}
		}
	}
}

func TestReclaim(t *testing.T) {
	h := setUpHost(t, true, "tap0")
	mark := func(name string) {
		t.Helper()
		must(t, h.net.SetDescription(name, host.InterfaceMark))
	}
	mark("wifibox0")
	mark("tap0")
	orphanBridge, orphanTap, inUse, foreign := h.create(t, "bridge"), h.create(t, "tap"), h.create(t, "tap"), h.create(t, "tap")
	mark(orphanBridge)
	mark(orphanTap)
	mark(inUse)
	must(t, h.net.SetDescription(foreign, "someone else's"))
	destroyed, err := h.netif().Reclaim(inUse)
	must(t, err)
	if diff := cmp.Diff([]string{orphanBridge, orphanTap}, destroyed); diff != "" {
		t.Errorf("Reclaim destroyed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"em0", "lo0", "tap0", inUse, foreign, "wifibox0"}, h.names(t)); diff != "" {
		t.Errorf("interfaces after Reclaim (-want +got):\n%s", diff)
	}
}

// TestSetupUndoFails reports what it could not destroy.
func TestSetupUndoFails(t *testing.T) {
	h := newTestHost(t)
	h.sys.fail = func(_ int, req uint32) error {
		if req == abi.SIOCSDRVSPEC || req == abi.SIOCIFDESTROY {
			return abi.EPERM
		}
		return nil
	}
	_, _, err := h.netif().Setup()
	for _, want := range []string{"add tap0 to bridge wifibox0: SIOCSDRVSPEC BRDGADD", "tap0 is left behind", "wifibox0 is left behind"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Setup = %v, want it to mention %q", err, want)
		}
	}
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("Setup = %v, want EPERM", err)
	}
}

func TestTap(t *testing.T) {
	h := newTestHost(t)
	if _, err := h.netif().Tap(); !errors.Is(err, unix.ENXIO) {
		t.Errorf("Tap without a bridge: %v, want ENXIO", err)
	}
	h = setUpHost(t, true, "em0")
	if tap, err := h.netif().Tap(); tap != "" || err != nil {
		t.Errorf("Tap of a bridge without a tap = %q, %v", tap, err)
	}
	h = setUpHost(t, true, "em0", "tap4")
	if tap, err := h.netif().Tap(); tap != "tap4" || err != nil {
		t.Errorf("Tap = %q, %v; want tap4", tap, err)
	}
}

func TestTeardown(t *testing.T) {
	h := newTestHost(t)
	if _, _, err := h.netif().Setup(); err != nil {
		t.Fatal(err)
	}
	start := len(h.trace(t, 0))
	warnings, err := h.netif().Teardown()
	if err != nil || warnings != nil {
		t.Fatalf("Teardown = %q, %v", warnings, err)
	}
	want := []string{"bridge_del wifibox0 tap0", "if_destroy tap0", "if_destroy wifibox0"}
	if diff := cmp.Diff(want, h.trace(t, start)); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, h.names(t)); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}

	// Nothing left: a warning, no error.
	start = len(h.trace(t, 0))
	warnings, err = h.netif().Teardown()
	if trace := h.trace(t, start); err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "wifibox0 does not exist") || trace != nil {
		t.Errorf("Teardown without a bridge = %q, %v, changes %q", warnings, err, trace)
	}
}

func TestTeardownKeepsOtherMembers(t *testing.T) {
	h := setUpHost(t, true, "em0")
	start := len(h.trace(t, 0))
	warnings, err := h.netif().Teardown()
	must(t, err)
	want := []string{
		"em0 is a member of wifibox0 but not a tap; it is released, not destroyed",
		"no tap interface found on wifibox0",
	}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"if_destroy wifibox0"}, h.trace(t, start)); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, h.names(t)); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

func TestTeardownRefusesANonBridge(t *testing.T) {
	h := newTestHost(t)
	must(t, h.net.RenameInterface("em0", "wifibox0"))
	if _, err := h.netif().Teardown(); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("Teardown of a card named wifibox0: %v", err)
	}
	if _, err := h.net.Interface("wifibox0"); err != nil {
		t.Errorf("Teardown destroyed a card: %v", err)
	}
}

// TestTeardownGoesOn: a failed step does not stop the others.
func TestTeardownGoesOn(t *testing.T) {
	h := setUpHost(t, true, "tap0")
	h.sys.fail = func(_ int, req uint32) error {
		if req == abi.SIOCSDRVSPEC {
			return abi.EPERM
		}
		return nil
	}
	_, err := h.netif().Teardown()
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "BRDGDEL") {
		t.Errorf("Teardown = %v, want the BRDGDEL failure", err)
	}
	h.sys.fail = nil
	if diff := cmp.Diff([]string{"em0", "lo0"}, h.names(t)); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

// TestJournalFIFO: a FIFO put in the journal's place is refused at once,
// naming it, by Setup and by Reclaim (start and stop), which would
// otherwise wait forever for a writer or a reader while they hold the
// command lock. The guard only turns a hang into a failure.
func TestJournalFIFO(t *testing.T) {
	h := newTestHost(t)
	if err := syscall.Mkfifo(h.journal(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		run  func() error
	}{
		{"Setup", func() error { _, _, err := h.netif().Setup(); return err }},
		{"Reclaim", func() error { _, err := h.netif().Reclaim(); return err }},
	} {
		done := make(chan error, 1)
		go func() { done <- call.run() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "named pipe") {
				t.Errorf("%s with a FIFO for a journal: %v, want an error naming the named pipe", call.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s with a FIFO for a journal hangs", call.name)
		}
	}
}

// TestSetupLeavesHeldTap: right after `service netif stop` destroyed
// wifibox0, the running guest's tap is marked and in no bridge, but its
// bhyve holds it open. A start's Setup must not reclaim it: destroying it
// would wait in the kernel until bhyve exits (tun_destroy), with the
// command's lock held. The guest's VM manager puts it back (Repair).
func TestSetupLeavesHeldTap(t *testing.T) {
	h := newTestHost(t)
	tap, _, err := h.netif().Setup()
	must(t, err)
	closeTap := h.holdTap(t, tap)
	defer closeTap()
	must(t, h.net.DestroyInterface("wifibox0"))
	done := make(chan error, 1)
	go func() {
		_, _, err := h.netif().Setup()
		done <- err
	}()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("Setup still running after 30 s: it waits on the destroy of %s, which its bhyve holds", tap)
	}
	if i, err := h.net.Interface(tap); err != nil || !i.LinkUp {
		t.Errorf("the guest's tap after Setup: %+v, %v; want it kept, open", i, err)
	}
	destroyed, err := h.netif().Reclaim()
	if err != nil || destroyed != nil {
		t.Errorf("Reclaim = %v, %v; want nothing destroyed", destroyed, err)
	}
	if _, _, err := h.netif().Repair(tap); err != nil {
		t.Errorf("Repair after Setup: %v", err)
	}
}

// TestRepairOn15: after `service netif stop` the guest's tap, which came
// up once and so has its IPv6 link-local address, cannot join wifibox0
// again on 15.0 (member_ifaddrs): Repair says ErrTapGone, so the guest
// starts again on a new tap, and leaves no bridge of its own behind. On
// 14.3 it joins again.
func TestRepairOn15(t *testing.T) {
	for _, rel := range []string{"1403000", "1500068"} {
		t.Run(rel, func(t *testing.T) {
			h := newTestHost(t, "osreldate="+rel)
			tap, _, err := h.netif().Setup()
			must(t, err)
			defer h.holdTap(t, tap)()
			must(t, h.net.SetDown(tap))
			must(t, h.net.DestroyInterface("wifibox0"))
			done, created, err := h.netif().Repair(tap)
			if rel == "1403000" {
				if err != nil || len(done) == 0 || !created {
					t.Errorf("Repair on 14.3 = %q, created %v, %v; want the tap back in a new wifibox0", done, created, err)
				}
				return
			}
			if !errors.Is(err, ifnet.ErrTapGone) || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "member_ifaddrs") {
				t.Errorf("Repair on 15.0 = %q, %v; want ErrTapGone naming member_ifaddrs", done, err)
			}
			if _, err := h.net.Interface("wifibox0"); !errors.Is(err, unix.ENXIO) {
				t.Errorf("wifibox0 after the failed repair: %v, want it undone (ENXIO)", err)
			}
		})
	}
}
