package ifnet_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
	"github.com/wifibox/wifibox/sys"
)

// faulty passes calls to the kernel model, counting them; fail, when set,
// makes the numbered call fail instead.
type faulty struct {
	sys.Sys
	calls int
	fail  func(call int, req uint32) error
}

func (f *faulty) fault(req uint32) error {
	f.calls++
	if f.fail != nil {
		return f.fail(f.calls, req)
	}
	return nil
}

func (f *faulty) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	if err := f.fault(req); err != nil {
		return err
	}
	return f.Sys.Ioctl(fd, req, arg)
}

func (f *faulty) Sysctl(name string, args ...int) ([]byte, error) {
	if err := f.fault(0); err != nil {
		return nil, err
	}
	return f.Sys.Sysctl(name, args...)
}

// testHost is a simulated host (lo0, em0; if_bridge loaded) and ifnet's
// host.Net over its kernel model.
type testHost struct {
	dir string
	sys *faulty
	net *ifnet.Net
}

func newTestHost(t *testing.T, faults ...string) *testHost {
	t.Helper()
	dir, k := simtest.New(t, faults...)
	h, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Kernel.Load(filepath.Join(dir, "boot/kernel/if_bridge.ko")); err != nil {
		t.Fatal(err)
	}
	f := &faulty{Sys: k}
	n, err := ifnet.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return &testHost{dir: dir, sys: f, net: n}
}

// journal is where Setup notes what it is about to create.
// netif is the netif target on the test host, its run files in h.dir.
func (h *testHost) netif() ifnet.Netif { return ifnet.NewNetif(h.net, host.Paths{RunDir: h.dir}) }

func (h *testHost) journal() string { return h.netif().Journal }

// trace gives the trace lines from the n-th on.
func (h *testHost) trace(t *testing.T, from int) []string {
	t.Helper()
	lines, err := sim.ReadTrace(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == from {
		return nil
	}
	return lines[from:]
}

// names lists the interfaces, sorted.
func (h *testHost) names(t *testing.T) []string {
	t.Helper()
	return simtest.Names(t, h.net)
}

func (h *testHost) create(t *testing.T, kind string) string {
	t.Helper()
	name, err := h.net.CreateInterface(kind)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// holdTap opens /dev/TAP as bhyve does, from another process's view of
// the kernel: its link comes up. The returned func closes it.
func (h *testHost) holdTap(t *testing.T, tap string) func() {
	t.Helper()
	bhyve, err := sim.NewKernel(h.dir)
	must(t, err)
	fd, err := bhyve.Open("/dev/"+tap, unix.O_RDWR)
	must(t, err)
	return func() { must(t, bhyve.Close(fd)) }
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateRenameDestroy(t *testing.T) {
	h := newTestHost(t)
	if got := []string{h.create(t, "bridge"), h.create(t, "bridge"), h.create(t, "tap")}; !cmp.Equal(got, []string{"bridge0", "bridge1", "tap0"}) {
		t.Errorf("created %v, want bridge0 bridge1 tap0", got)
	}
	must(t, h.net.RenameInterface("bridge0", "wifibox0"))
	// The renamed interface keeps its unit: the next bridge is bridge2.
	if got := h.create(t, "bridge"); got != "bridge2" {
		t.Errorf("created %s after renaming bridge0, want bridge2", got)
	}
	must(t, h.net.DestroyInterface("wifibox0"))
	if got := h.create(t, "bridge"); got != "bridge0" {
		t.Errorf("created %s after destroying the renamed bridge0, want bridge0", got)
	}
	want := []string{"bridge0", "bridge1", "bridge2", "em0", "lo0", "tap0"}
	if diff := cmp.Diff(want, h.names(t)); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	h := newTestHost(t)
	n := h.net
	h.create(t, "bridge")
	for _, c := range []struct {
		what string
		err  error
		want error
		text string
	}{
		{"create with no cloner", func() error { _, err := n.CreateInterface("wlan"); return err }(), unix.EINVAL, "create interface wlan: SIOCIFCREATE2"},
		{"create a taken unit", func() error { _, err := n.CreateInterface("bridge0"); return err }(), unix.EEXIST, "SIOCIFCREATE2"},
		{"rename onto a name in use", n.RenameInterface("bridge0", "em0"), unix.EEXIST, "rename interface bridge0 to em0: SIOCSIFNAME"},
		{"rename a missing interface", n.RenameInterface("tap9", "x0"), unix.ENXIO, "SIOCSIFNAME"},
		{"rename to a name too long", n.RenameInterface("bridge0", "abcdefghijklmnop"), unix.EINVAL, "bridge0"},
		{"destroy a missing interface", n.DestroyInterface("tap9"), unix.ENXIO, "destroy interface tap9: SIOCIFDESTROY"},
		{"destroy a card", n.DestroyInterface("em0"), unix.EINVAL, "SIOCIFDESTROY"},
		{"bring up a missing interface", n.SetUp("tap9"), unix.ENXIO, "bring up interface tap9: SIOCGIFFLAGS"},
		{"describe a missing interface", func() error { _, err := n.Interface("tap9"); return err }(), unix.ENXIO, "tap9"},
		{"mark a missing interface", n.SetDescription("tap9", "x"), unix.ENXIO, "describe interface tap9 as \"x\": SIOCSIFDESCR"},
		{"a description too long", n.SetDescription("bridge0", strings.Repeat("x", abi.IFDESCRSIZE)), unix.ENAMETOOLONG, "SIOCSIFDESCR"},
		{"read a missing description", func() error { _, err := n.Description("tap9"); return err }(), unix.ENXIO, "SIOCGIFDESCR"},
	} {
		if !errors.Is(c.err, c.want) || c.err == nil || !strings.Contains(c.err.Error(), c.text) {
			t.Errorf("%s: error %v, want %v mentioning %q", c.what, c.err, c.want, c.text)
		}
	}
}

func TestDescription(t *testing.T) {
	h := newTestHost(t)
	tap := h.create(t, "tap")
	if text, err := h.net.Description(tap); text != "" || err != nil {
		t.Errorf("Description of a new tap = %q, %v; want none", text, err)
	}
	long := strings.Repeat("d", abi.IFDESCRSIZE-1)
	for _, text := range []string{host.InterfaceMark, long} {
		must(t, h.net.SetDescription(tap, text))
		if got, err := h.net.Description(tap); got != text || err != nil {
			t.Errorf("Description = %.20q, %v; want %.20q", got, err, text)
		}
	}
	must(t, h.net.SetDescription(tap, ""))
	if text, err := h.net.Description(tap); text != "" || err != nil {
		t.Errorf("Description after removing it = %q, %v", text, err)
	}
}

func TestInterfaces(t *testing.T) {
	h := newTestHost(t)
	h.create(t, "bridge")
	h.create(t, "tap")
	must(t, h.net.RenameInterface("bridge0", "wifibox0"))
	must(t, h.net.SetUp("tap0"))
	got, err := h.net.Interfaces()
	must(t, err)
	want := []host.Interface{
		{Name: "lo0", Index: 1, Kind: "loopback", Up: true},
		{Name: "em0", Index: 2, Kind: "ether", Up: true, LinkUp: true},
		{Name: "wifibox0", Index: 3, Kind: "bridge"},
		{Name: "tap0", Index: 4, Kind: "tap", Up: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Interfaces (-want +got):\n%s", diff)
	}
	one, err := h.net.Interface("wifibox0")
	if err != nil || one != want[2] {
		t.Errorf("Interface(wifibox0) = %+v, %v; want %+v", one, err, want[2])
	}
}

// TestInterfacesRetries: ENOMEM (the list grew between sizing and filling
// it) makes Interfaces ask again.
func TestInterfacesRetries(t *testing.T) {
	h := newTestHost(t)
	h.sys.fail = func(call int, req uint32) error {
		if call <= 2 {
			return abi.ENOMEM
		}
		return nil
	}
	if got := h.names(t); !cmp.Equal(got, []string{"em0", "lo0"}) {
		t.Errorf("Interfaces after ENOMEM = %v", got)
	}
	h.sys.fail = func(int, uint32) error { return abi.EPERM }
	if _, err := h.net.Interfaces(); !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "NET_RT_IFLISTL") {
		t.Errorf("Interfaces = %v, want EPERM from NET_RT_IFLISTL", err)
	}
}

func TestMembers(t *testing.T) {
	h := newTestHost(t)
	n := h.net
	h.create(t, "bridge")
	h.create(t, "bridge")
	for range 3 {
		h.create(t, "tap")
	}
	if got, err := n.Members("bridge0"); err != nil || len(got) != 0 {
		t.Errorf("Members of an empty bridge = %v, %v", got, err)
	}
	for _, m := range []string{"tap0", "tap1"} {
		must(t, n.AddMember("bridge0", m))
	}
	if got, err := n.Members("bridge0"); err != nil || !cmp.Equal(got, []string{"tap0", "tap1"}) {
		t.Errorf("Members = %v, %v; want tap0 tap1", got, err)
	}
	for _, c := range []struct {
		what string
		err  error
		want error
		text string
	}{
		{"add a missing interface", n.AddMember("bridge0", "tap9"), unix.ENOENT, "add tap9 to bridge bridge0: SIOCSDRVSPEC BRDGADD"},
		{"add a member again", n.AddMember("bridge0", "tap0"), unix.EEXIST, "BRDGADD"},
		{"add another bridge's member", n.AddMember("bridge1", "tap1"), unix.EBUSY, "BRDGADD"},
		{"add a bridge", n.AddMember("bridge0", "bridge1"), unix.EINVAL, "BRDGADD"},
		{"add the loopback", n.AddMember("bridge0", "lo0"), unix.EINVAL, "BRDGADD"},
		{"add to a missing bridge", n.AddMember("bridge7", "tap2"), unix.ENXIO, "BRDGADD"},
		{"add to a tap", n.AddMember("tap2", "tap0"), unix.EINVAL, "BRDGADD"},
		{"delete a non-member", n.DeleteMember("bridge0", "tap2"), unix.ENOENT, "remove tap2 from bridge bridge0: SIOCSDRVSPEC BRDGDEL"},
		{"list a tap's members", func() error { _, err := n.Members("tap2"); return err }(), unix.EINVAL, "list members of bridge tap2: SIOCGDRVSPEC BRDGGIFS"},
		{"list a missing bridge", func() error { _, err := n.Members("bridge7"); return err }(), unix.ENXIO, "BRDGGIFS"},
	} {
		if !errors.Is(c.err, c.want) || c.err == nil || !strings.Contains(c.err.Error(), c.text) {
			t.Errorf("%s: error %v, want %v mentioning %q", c.what, c.err, c.want, c.text)
		}
	}
	must(t, n.DeleteMember("bridge0", "tap0"))
	if got, err := n.Members("bridge0"); err != nil || !cmp.Equal(got, []string{"tap1"}) {
		t.Errorf("members after deleting tap0: %v, %v", got, err)
	}
}

// TestModelInsists checks that the model refuses what the kernel refuses
// (bridge_ioctl: direction, ifd_len), so the tests above would catch a
// wrong request.
func TestModelInsists(t *testing.T) {
	h := newTestHost(t)
	h.create(t, "bridge")
	h.create(t, "tap")
	k := h.sys.Sys
	fd, err := k.Socket(abi.AF_LOCAL, abi.SOCK_DGRAM, 0)
	must(t, err)
	var req abi.Ifbreq
	copy(req.IfsName[:], "tap0")
	var conf abi.Ifbifconf
	for _, c := range []struct {
		what string
		req  uint32
		d    abi.Ifdrv
	}{
		{"a set command with SIOCGDRVSPEC", abi.SIOCGDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGADD, Len: uint64(unsafe.Sizeof(req)), Data: unsafe.Pointer(&req)}},
		{"a get command with SIOCSDRVSPEC", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGGIFS, Len: uint64(unsafe.Sizeof(conf)), Data: unsafe.Pointer(&conf)}},
		{"ifd_len too short", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGADD, Len: 40, Data: unsafe.Pointer(&req)}},
		{"a command past the table", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: 200, Len: uint64(unsafe.Sizeof(req)), Data: unsafe.Pointer(&req)}},
	} {
		copy(c.d.Name[:], "bridge0")
		if err := k.Ioctl(fd, c.req, unsafe.Pointer(&c.d)); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: %v, want EINVAL", c.what, err)
		}
	}
	if got, err := h.net.Members("bridge0"); err != nil || len(got) != 0 {
		t.Errorf("members after refused requests: %v, %v", got, err)
	}
}

// TestWaitLinkDown: a tap nobody has open returns at once; one a process
// has open returns when it is closed; one that stays open is EBUSY after
// the bound.
func TestWaitLinkDown(t *testing.T) {
	h := newTestHost(t)
	tap := h.create(t, "tap")
	must(t, h.net.WaitLinkDown(tap, time.Hour))
	bhyve, err := sim.NewKernel(h.dir)
	must(t, err)
	fd, err := bhyve.Open("/dev/"+tap, unix.O_RDWR)
	must(t, err)
	err = h.net.WaitLinkDown(tap, 10*time.Millisecond)
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "another process has it open") {
		t.Errorf("WaitLinkDown of a tap held open = %v, want EBUSY saying why", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.net.WaitLinkDown(tap, time.Hour) }()
	time.Sleep(10 * time.Millisecond)
	must(t, bhyve.Close(fd))
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("WaitLinkDown still waiting 30 s after the tap was closed")
	}
	if err := h.net.WaitLinkDown("tap9", time.Hour); !errors.Is(err, unix.ENXIO) {
		t.Errorf("WaitLinkDown of a missing tap = %v, want ENXIO", err)
	}
}

// TestDefaultGateway: the gateway of the default route out of wifibox0,
// read from the routing table (NET_RT_DUMP), the relay's guest address
// when uds_passthru.conf gives none; none out of another interface, and
// none without the route.
func TestDefaultGateway(t *testing.T) {
	h := newTestHost(t, "default_gateway=10.0.0.1")
	if _, err := h.net.DefaultGateway("wifibox0"); !errors.Is(err, unix.ENXIO) {
		t.Errorf("DefaultGateway without wifibox0: %v, want ENXIO", err)
	}
	_, _, err := h.netif().Setup()
	must(t, err)
	if gw, err := h.net.DefaultGateway("wifibox0"); err != nil || gw.String() != "10.0.0.1" {
		t.Errorf("DefaultGateway(wifibox0) = %v, %v; want 10.0.0.1", gw, err)
	}
	if gw, err := h.net.DefaultGateway("lo0"); err == nil || !strings.Contains(err.Error(), "no default route through lo0") {
		t.Errorf("DefaultGateway(lo0) = %v, %v; want no default route", gw, err)
	}
	h = newTestHost(t)
	_, _, err = h.netif().Setup()
	must(t, err)
	if gw, err := h.net.DefaultGateway("wifibox0"); err == nil {
		t.Errorf("DefaultGateway(wifibox0) with no default route = %v", gw)
	}
}
