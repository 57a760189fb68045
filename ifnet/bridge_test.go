package ifnet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// recorder is a host.Net that writes down each change that succeeded,
// in the trace format of the simulated host.
type recorder struct {
	host.Net
	trace []string
}

func (r *recorder) note(err error, words ...string) error {
	if err == nil {
		r.trace = append(r.trace, strings.Join(words, " "))
	}
	return err
}

func (r *recorder) CreateInterface(kind string) (string, error) {
	name, err := r.Net.CreateInterface(kind)
	return name, r.note(err, "if_create", kind, name)
}

func (r *recorder) RenameInterface(old, new string) error {
	return r.note(r.Net.RenameInterface(old, new), "if_rename", old, new)
}

func (r *recorder) DestroyInterface(name string) error {
	return r.note(r.Net.DestroyInterface(name), "if_destroy", name)
}

func (r *recorder) SetUp(name string) error {
	return r.note(r.Net.SetUp(name), "if_up", name)
}

func (r *recorder) AddMember(bridge, member string) error {
	return r.note(r.Net.AddMember(bridge, member), "bridge_add", bridge, member)
}

func (r *recorder) DeleteMember(bridge, member string) error {
	return r.note(r.Net.DeleteMember(bridge, member), "bridge_del", bridge, member)
}

// newTestHost gives the FreeBSD host.Net over the kernel model, recorded.
func newTestHost() (*recorder, *fakeKernel) {
	n, k := newTestNet()
	return &recorder{Net: n}, k
}

var freshTrace = []string{
	"if_create bridge bridge0",
	"if_rename bridge0 wifibox0",
	"if_up wifibox0",
	"if_create tap tap0",
	"if_up tap0",
	"bridge_add wifibox0 tap0",
}

func TestSetupFresh(t *testing.T) {
	r, k := newTestHost()
	tap, warnings, err := Setup(r, "wifibox0")
	if err != nil || tap != "tap0" || warnings != nil {
		t.Fatalf("Setup = %q, %q, %v; want tap0 and no warnings", tap, warnings, err)
	}
	if diff := cmp.Diff(freshTrace, r.trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	b, tp := k.lookup("wifibox0"), k.lookup("tap0")
	if b == nil || b.ifType != _IFT_BRIDGE || b.flags&_IFF_UP == 0 || tp == nil || tp.flags&_IFF_UP == 0 {
		t.Errorf("after Setup: wifibox0 %+v, tap0 %+v; want both up, wifibox0 a bridge", b, tp)
	}
	if got := k.portNames("wifibox0"); !cmp.Equal(got, []string{"tap0"}) {
		t.Errorf("members of wifibox0: %v, want tap0", got)
	}

	// Run again: everything is in place, nothing changes.
	r.trace = nil
	tap, warnings, err = Setup(r, "wifibox0")
	if err != nil || tap != "tap0" || warnings != nil || r.trace != nil {
		t.Errorf("second Setup = %q, %q, %v with changes %q; want tap0 and no change", tap, warnings, err, r.trace)
	}
}

// setUpHost prepares a host: a bridge wifibox0 (brought up when up) with
// the given interfaces as members, each created first from its cloner.
func setUpHost(t *testing.T, up bool, members ...string) (*recorder, *fakeKernel) {
	t.Helper()
	r, k := newTestHost()
	n := r.Net
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
	if err != nil {
		t.Fatal(err)
	}
	return r, k
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
			trace: []string{"if_create tap tap0", "if_up tap0", "bridge_add wifibox0 tap0"},
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
			trace:    []string{"if_create tap tap0", "if_up tap0", "bridge_add wifibox0 tap0"},
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
			r, k := setUpHost(t, c.up, c.members...)
			r.trace = nil
			tap, warnings, err := Setup(r, "wifibox0")
			if err != nil || tap != c.tap {
				t.Fatalf("Setup = %q, %v; want %s", tap, err, c.tap)
			}
			if diff := cmp.Diff(c.trace, r.trace); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.after, k.portNames("wifibox0")); diff != "" {
				t.Errorf("members of wifibox0 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupRefusesANonBridge(t *testing.T) {
	r, k := newTestHost()
	if _, err := r.Net.CreateInterface("tap"); err != nil {
		t.Fatal(err)
	}
	if err := r.Net.RenameInterface("tap0", "wifibox0"); err != nil {
		t.Fatal(err)
	}
	r.trace = nil
	_, _, err := Setup(r, "wifibox0")
	if err == nil || !strings.Contains(err.Error(), "wifibox0 exists but is not a bridge") || !strings.Contains(err.Error(), "destroy it or rename it") {
		t.Errorf("Setup over a tap named wifibox0: %v", err)
	}
	if r.trace != nil || k.lookup("wifibox0") == nil {
		t.Errorf("Setup changed %q; want wifibox0 left alone", r.trace)
	}
}

func TestSetupWithoutBridgeModule(t *testing.T) {
	r, k := newTestHost()
	delete(k.cloners, "bridge")
	_, _, err := Setup(r, "wifibox0")
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "SIOCIFCREATE2") || !strings.Contains(err.Error(), "if_bridge is not loaded") {
		t.Errorf("Setup without the bridge cloner: %v", err)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, k.names()); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

// TestSetupUndo fails each kernel call of a Setup in turn: Setup returns
// that failure and leaves behind nothing it created.
func TestSetupUndo(t *testing.T) {
	hosts := map[string]func(t *testing.T) (*recorder, *fakeKernel){
		"fresh host": func(*testing.T) (*recorder, *fakeKernel) { return newTestHost() },
		"bridge without tap": func(t *testing.T) (*recorder, *fakeKernel) {
			return setUpHost(t, true)
		},
	}
	for name, host := range hosts {
		t.Run(name, func(t *testing.T) {
			r, k := host(t)
			before := k.names()
			start := k.calls
			if _, _, err := Setup(r, "wifibox0"); err != nil {
				t.Fatal(err)
			}
			steps := k.calls - start
			for step := 1; step <= steps; step++ {
				r, k := host(t)
				injected := errors.New("injected failure")
				start := k.calls
				k.fail = func(call int, _ uint32) error {
					if call == start+step {
						return injected
					}
					return nil
				}
				_, _, err := Setup(r, "wifibox0")
				if !errors.Is(err, injected) {
					t.Errorf("failing call %d of %d: Setup returned %v", step, steps, err)
				}
				if diff := cmp.Diff(before, k.names()); diff != "" {
					t.Errorf("failing call %d of %d (after %q): interfaces (-before +after):\n%s", step, steps, r.trace, diff)
				}
			}
		})
	}
}

// TestSetupUndoFails reports what it could not destroy.
func TestSetupUndoFails(t *testing.T) {
	r, k := newTestHost()
	k.fail = func(_ int, req uint32) error {
		if req == _SIOCSDRVSPEC || req == _SIOCIFDESTROY {
			return unix.EPERM
		}
		return nil
	}
	_, _, err := Setup(r, "wifibox0")
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
	r, _ := newTestHost()
	if _, err := Tap(r, "wifibox0"); !errors.Is(err, unix.ENXIO) {
		t.Errorf("Tap without a bridge: %v, want ENXIO", err)
	}
	r, _ = setUpHost(t, true, "em0")
	if tap, err := Tap(r, "wifibox0"); tap != "" || err != nil {
		t.Errorf("Tap of a bridge without a tap = %q, %v", tap, err)
	}
	r, _ = setUpHost(t, true, "em0", "tap4")
	if tap, err := Tap(r, "wifibox0"); tap != "tap4" || err != nil {
		t.Errorf("Tap = %q, %v; want tap4", tap, err)
	}
}

func TestTeardown(t *testing.T) {
	r, k := newTestHost()
	if _, _, err := Setup(r, "wifibox0"); err != nil {
		t.Fatal(err)
	}
	r.trace = nil
	warnings, err := Teardown(r, "wifibox0")
	if err != nil || warnings != nil {
		t.Fatalf("Teardown = %q, %v", warnings, err)
	}
	want := []string{"bridge_del wifibox0 tap0", "if_destroy tap0", "if_destroy wifibox0"}
	if diff := cmp.Diff(want, r.trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, k.names()); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}

	// Nothing left: a warning, no error.
	r.trace = nil
	warnings, err = Teardown(r, "wifibox0")
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "wifibox0 does not exist") || r.trace != nil {
		t.Errorf("Teardown without a bridge = %q, %v, changes %q", warnings, err, r.trace)
	}
}

func TestTeardownKeepsOtherMembers(t *testing.T) {
	r, k := setUpHost(t, true, "em0")
	r.trace = nil
	warnings, err := Teardown(r, "wifibox0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"em0 is a member of wifibox0 but not a tap; it is released, not destroyed",
		"no tap interface found on wifibox0",
	}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"if_destroy wifibox0"}, r.trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if k.lookup("em0") == nil || k.lookup("em0").bridge != nil {
		t.Errorf("em0 after Teardown: %+v, want it present and free", k.lookup("em0"))
	}
}

func TestTeardownRefusesANonBridge(t *testing.T) {
	r, k := newTestHost()
	if err := r.Net.RenameInterface("em0", "wifibox0"); err != nil {
		t.Fatal(err)
	}
	if _, err := Teardown(r, "wifibox0"); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("Teardown of a card named wifibox0: %v", err)
	}
	if k.lookup("wifibox0") == nil {
		t.Error("Teardown destroyed a card")
	}
}

// TestTeardownGoesOn: a failed step does not stop the others.
func TestTeardownGoesOn(t *testing.T) {
	r, k := setUpHost(t, true, "tap0")
	k.fail = func(_ int, req uint32) error {
		if req == _SIOCSDRVSPEC {
			return unix.EPERM
		}
		return nil
	}
	_, err := Teardown(r, "wifibox0")
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "BRDGDEL") {
		t.Errorf("Teardown = %v, want the BRDGDEL failure", err)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, k.names()); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}
