package ifnet

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

func newTestNet() (*Net, *fakeKernel) {
	k := newFakeKernel()
	return &Net{k: k}, k
}

func mustCreate(t *testing.T, n *Net, kind string) string {
	t.Helper()
	name, err := n.CreateInterface(kind)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestCreateRenameDestroy(t *testing.T) {
	n, k := newTestNet()
	if got := []string{mustCreate(t, n, "bridge"), mustCreate(t, n, "bridge"), mustCreate(t, n, "tap")}; !cmp.Equal(got, []string{"bridge0", "bridge1", "tap0"}) {
		t.Errorf("created %v, want bridge0 bridge1 tap0", got)
	}
	if err := n.RenameInterface("bridge0", "wifibox0"); err != nil {
		t.Fatal(err)
	}
	// The renamed interface keeps its unit: the next bridge is bridge2.
	if got := mustCreate(t, n, "bridge"); got != "bridge2" {
		t.Errorf("created %s after renaming bridge0, want bridge2", got)
	}
	if err := n.DestroyInterface("wifibox0"); err != nil {
		t.Fatal(err)
	}
	if got := mustCreate(t, n, "bridge"); got != "bridge0" {
		t.Errorf("created %s after destroying the renamed bridge0, want bridge0", got)
	}
	want := []string{"bridge0", "bridge1", "bridge2", "em0", "lo0", "tap0"}
	if diff := cmp.Diff(want, k.names()); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	n, _ := newTestNet()
	mustCreate(t, n, "bridge")
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
	} {
		if !errors.Is(c.err, c.want) || !strings.Contains(fmtErr(c.err), c.text) {
			t.Errorf("%s: error %v, want %v mentioning %q", c.what, c.err, c.want, c.text)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestInterfaces(t *testing.T) {
	n, k := newTestNet()
	mustCreate(t, n, "bridge")
	mustCreate(t, n, "tap")
	if err := n.RenameInterface("bridge0", "wifibox0"); err != nil {
		t.Fatal(err)
	}
	k.lookup("tap0").flags |= fakeHighFlag
	if err := n.SetUp("tap0"); err != nil {
		t.Fatal(err)
	}
	if got, want := k.lookup("tap0").flags, uint32(fakeEtherFlags|fakeHighFlag|_IFF_UP); got != want {
		t.Errorf("tap0 flags after SetUp %#x, want %#x (IFF_UP added, the rest kept)", got, want)
	}
	got, err := n.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	want := []host.Interface{
		{Name: "lo0", Kind: "loopback", Up: true},
		{Name: "em0", Kind: "ether"},
		{Name: "wifibox0", Kind: "bridge"},
		{Name: "tap0", Kind: "tap", Up: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Interfaces (-want +got):\n%s", diff)
	}
	one, err := n.Interface("wifibox0")
	if err != nil || one != want[2] {
		t.Errorf("Interface(wifibox0) = %+v, %v; want %+v", one, err, want[2])
	}
}

func TestParseInterfaceListRejects(t *testing.T) {
	_, k := newTestNet()
	good, err := k.interfaceList()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseInterfaceList(good); err != nil {
		t.Fatalf("the model's list: %v", err)
	}
	offData := unsafe.Offsetof(ifMsghdrl{}.DataOff)
	for name, corrupt := range map[string]func(b []byte) []byte{
		"truncated":       func(b []byte) []byte { return b[:len(b)-3] },
		"length past end": func(b []byte) []byte { b[0], b[1] = 0xff, 0xff; return b },
		"other data_off":  func(b []byte) []byte { b[offData] += 8; return b },
		"no sockaddr_dl":  func(b []byte) []byte { b[4] = 0; return b },
	} {
		if _, err := parseInterfaceList(corrupt(append([]byte(nil), good...))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMembers(t *testing.T) {
	n, k := newTestNet()
	mustCreate(t, n, "bridge")
	mustCreate(t, n, "bridge")
	for range 3 {
		mustCreate(t, n, "tap")
	}
	if got, err := n.Members("bridge0"); err != nil || len(got) != 0 {
		t.Errorf("Members of an empty bridge = %v, %v", got, err)
	}
	for _, m := range []string{"tap0", "tap1"} {
		if err := n.AddMember("bridge0", m); err != nil {
			t.Fatal(err)
		}
	}
	// A span port is listed by the kernel but is no member.
	em0 := k.lookup("em0")
	b := k.lookup("bridge0")
	b.spans, em0.bridge = append(b.spans, em0), b
	got, err := n.Members("bridge0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"tap0", "tap1"}, got); diff != "" {
		t.Errorf("Members (-want +got):\n%s", diff)
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
		{"add to a missing bridge", n.AddMember("bridge7", "tap2"), unix.ENXIO, "BRDGADD"},
		{"add to a tap", n.AddMember("tap2", "tap0"), unix.EINVAL, "BRDGADD"},
		{"delete a non-member", n.DeleteMember("bridge0", "tap2"), unix.ENOENT, "remove tap2 from bridge bridge0: SIOCSDRVSPEC BRDGDEL"},
		{"list a tap's members", func() error { _, err := n.Members("tap2"); return err }(), unix.EINVAL, "list members of bridge tap2: SIOCGDRVSPEC BRDGGIFS"},
		{"list a missing bridge", func() error { _, err := n.Members("bridge7"); return err }(), unix.ENXIO, "BRDGGIFS"},
	} {
		if !errors.Is(c.err, c.want) || !strings.Contains(fmtErr(c.err), c.text) {
			t.Errorf("%s: error %v, want %v mentioning %q", c.what, c.err, c.want, c.text)
		}
	}

	if err := n.DeleteMember("bridge0", "tap0"); err != nil {
		t.Fatal(err)
	}
	if got := k.portNames("bridge0"); !cmp.Equal(got, []string{"tap1"}) {
		t.Errorf("members after deleting tap0: %v", got)
	}
}

// TestMembersGrowing adds members while Members negotiates the buffer size:
// it asks again until the whole list fits.
func TestMembersGrowing(t *testing.T) {
	n, k := newTestNet()
	mustCreate(t, n, "bridge")
	for range 4 {
		mustCreate(t, n, "tap")
	}
	if err := n.AddMember("bridge0", "tap0"); err != nil {
		t.Fatal(err)
	}
	b := k.lookup("bridge0")
	next := 1
	k.afterGIFS = func() {
		if next < 4 {
			if err := k.addPort(b, "tap"+strconv.Itoa(next)); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	got, err := n.Members("bridge0")
	if err != nil {
		t.Fatal(err)
	}
	k.afterGIFS = nil
	if diff := cmp.Diff(k.portNames("bridge0"), got); diff != "" {
		t.Errorf("Members while the bridge grew (-kernel +got):\n%s", diff)
	}
}

// TestModelInsists checks that the model refuses what the kernel refuses,
// so the tests above would catch a wrong request.
func TestModelInsists(t *testing.T) {
	n, k := newTestNet()
	mustCreate(t, n, "bridge")
	mustCreate(t, n, "tap")
	var req ifbreq
	copy(req.IfsName[:], "tap0")
	var conf ifbifconf
	for _, c := range []struct {
		what string
		req  uint32
		d    ifdrv
	}{
		{"a set command with SIOCGDRVSPEC", _SIOCGDRVSPEC, ifdrv{Cmd: _BRDGADD, Len: uint64(unsafe.Sizeof(req)), Data: unsafe.Pointer(&req)}},
		{"a get command with SIOCSDRVSPEC", _SIOCSDRVSPEC, ifdrv{Cmd: _BRDGGIFS, Len: uint64(unsafe.Sizeof(conf)), Data: unsafe.Pointer(&conf)}},
		{"ifd_len too short", _SIOCSDRVSPEC, ifdrv{Cmd: _BRDGADD, Len: 40, Data: unsafe.Pointer(&req)}},
	} {
		copy(c.d.Name[:], "bridge0")
		if err := k.ioctl(c.req, unsafe.Pointer(&c.d)); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: %v, want EINVAL", c.what, err)
		}
	}
	if got := k.portNames("bridge0"); len(got) != 0 {
		t.Errorf("members after refused requests: %v", got)
	}
}
