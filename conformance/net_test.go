package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/rtsock"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sys"
)

// The interface ioctls, the interface list and the routing socket. On a
// real kernel the tests create interfaces of their own (destroyed at the
// end) and touch no other.

// ifnetOf gives ifnet's host.Net over the kernel.
func ifnetOf(t *testing.T, k sys.Sys) *ifnet.Net {
	t.Helper()
	n, err := ifnet.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// loadBridge makes sure if_bridge is there: on the model by loading it, on
// a real kernel by skipping when it is not.
func loadBridge(t *testing.T, k sys.Sys) {
	t.Helper()
	if m := modelOf(t); m != nil {
		h, err := sim.Open(m.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Kernel.Load(filepath.Join(m.dir, "boot/kernel/if_bridge.ko")); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := k.Modfind("if_bridge"); err != nil {
		t.Skipf("if_bridge is not loaded (modfind: %v)", err)
	}
}

// clone creates an interface, destroyed at the end of the test.
func clone(t *testing.T, n *ifnet.Net, kind string) string {
	t.Helper()
	name, err := n.CreateInterface(kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.DestroyInterface(name) })
	return name
}

// unique is a name no interface has: the test's process id in it.
func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, os.Getpid()%100000) }

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func TestCloneRenameDestroy(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n := ifnetOf(t, k)
		tap := clone(t, n, "tap")
		if !strings.HasPrefix(tap, "tap") {
			t.Errorf("SIOCIFCREATE2 tap gave %q", tap)
		}
		_, err := n.CreateInterface(tap)
		wantErr(t, "clone a unit in use", err, abi.EEXIST)
		_, err = n.CreateInterface("nosuchcloner")
		wantErr(t, "clone without a cloner", err, abi.EINVAL)
		renamed := unique("wbt")
		if err := n.RenameInterface(tap, renamed); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.DestroyInterface(renamed) })
		wantErr(t, "rename a missing interface", n.RenameInterface(tap, "wbx0"), abi.ENXIO)
		other := clone(t, n, "tap")
		wantErr(t, "rename onto a name in use", n.RenameInterface(other, renamed), abi.EEXIST)
		if err := n.RenameInterface(renamed, renamed); err != nil {
			t.Errorf("rename to its own name: %v", err)
		}
		if i, err := n.Interface(renamed); err != nil || i.Kind != "ether" || i.Index == 0 {
			t.Errorf("NET_RT_IFLISTL: %+v, %v; want an Ethernet interface with an index", i, err)
		}
		if err := n.DestroyInterface(renamed); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "destroy a missing interface", n.DestroyInterface(renamed), abi.ENXIO)
		wantErr(t, "bring up a missing interface", n.SetUp(renamed), abi.ENXIO)
	})
}

func TestFlagsAndDescription(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n := ifnetOf(t, k)
		tap := clone(t, n, "tap")
		if i, err := n.Interface(tap); err != nil || i.Up || i.LinkUp {
			t.Errorf("a new tap: %+v, %v; want it down", i, err)
		}
		if err := n.SetUp(tap); err != nil {
			t.Fatal(err)
		}
		if i, err := n.Interface(tap); err != nil || !i.Up || i.LinkUp {
			t.Errorf("a tap brought up, not open: %+v, %v; want IFF_UP, the link down", i, err)
		}
		if text, err := n.Description(tap); text != "" || err != nil {
			t.Errorf("SIOCGIFDESCR of a new tap = %q, %v; want ENOMSG, none", text, err)
		}
		if err := n.SetDescription(tap, host.InterfaceMark); err != nil {
			t.Fatal(err)
		}
		if text, err := n.Description(tap); text != host.InterfaceMark || err != nil {
			t.Errorf("SIOCGIFDESCR = %q, %v; want %q", text, err, host.InterfaceMark)
		}
		wantErr(t, "a description past net.ifdescr_maxlen", n.SetDescription(tap, strings.Repeat("x", abi.IFDESCRSIZE)), abi.ENAMETOOLONG)
		// A buffer too short: NULL back, and the length needed.
		fd, err := k.Socket(abi.AF_LOCAL, abi.SOCK_DGRAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close(fd)
		buf := make([]byte, 2)
		req := abi.IfreqBuffer{Length: uint64(len(buf)), Buffer: unsafe.Pointer(&buf[0])}
		copy(req.Name[:], tap)
		if err := k.Ioctl(fd, abi.SIOCGIFDESCR, unsafe.Pointer(&req)); err != nil || req.Buffer != nil || req.Length != uint64(len(host.InterfaceMark)+1) {
			t.Errorf("SIOCGIFDESCR with 2 bytes: buffer %v, length %d, %v; want NULL, %d", req.Buffer, req.Length, err, len(host.InterfaceMark)+1)
		}
	})
}

func TestBridgeMembers(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		loadBridge(t, k)
		n := ifnetOf(t, k)
		b1, b2 := clone(t, n, "bridge"), clone(t, n, "bridge")
		tap1, tap2 := clone(t, n, "tap"), clone(t, n, "tap")
		if got, err := n.Members(b1); err != nil || len(got) != 0 {
			t.Errorf("BRDGGIFS of a new bridge = %v, %v", got, err)
		}
		// The order Setup uses: join, then up (15.0 refuses a member
		// that has an address).
		if err := n.AddMember(b1, tap1); err != nil {
			t.Fatal(err)
		}
		if err := n.SetUp(tap1); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "BRDGADD a member again", n.AddMember(b1, tap1), abi.EEXIST)
		wantErr(t, "BRDGADD another bridge's member", n.AddMember(b2, tap1), abi.EBUSY)
		wantErr(t, "BRDGADD a missing interface", n.AddMember(b1, "wbnone0"), abi.ENOENT)
		wantErr(t, "BRDGADD a bridge", n.AddMember(b1, b2), abi.EINVAL)
		wantErr(t, "BRDGADD to a tap", n.AddMember(tap2, tap1), abi.EINVAL)
		wantErr(t, "BRDGDEL a non-member", n.DeleteMember(b1, tap2), abi.ENOENT)
		_, err := n.Members(tap2)
		wantErr(t, "BRDGGIFS of a tap", err, abi.EINVAL)
		if err := n.AddMember(b1, tap2); err != nil {
			t.Fatal(err)
		}
		if got, err := n.Members(b1); err != nil || len(got) != 2 || got[0] != tap1 || got[1] != tap2 {
			t.Errorf("BRDGGIFS = %v, %v; want %s %s", got, err, tap1, tap2)
		}
		// bridge_ioctl's checks: the direction and ifd_len of a command.
		fd, err := k.Socket(abi.AF_LOCAL, abi.SOCK_DGRAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close(fd)
		var breq abi.Ifbreq
		copy(breq.IfsName[:], tap2)
		var conf abi.Ifbifconf
		for _, c := range []struct {
			what string
			req  uint32
			d    abi.Ifdrv
		}{
			{"BRDGDEL with SIOCGDRVSPEC", abi.SIOCGDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGDEL, Len: uint64(unsafe.Sizeof(breq)), Data: unsafe.Pointer(&breq)}},
			{"BRDGGIFS with SIOCSDRVSPEC", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGGIFS, Len: uint64(unsafe.Sizeof(conf)), Data: unsafe.Pointer(&conf)}},
			{"BRDGDEL with a short ifd_len", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: abi.BRDGDEL, Len: 40, Data: unsafe.Pointer(&breq)}},
			{"a command past the table", abi.SIOCSDRVSPEC, abi.Ifdrv{Cmd: 1000, Len: uint64(unsafe.Sizeof(breq)), Data: unsafe.Pointer(&breq)}},
		} {
			copy(c.d.Name[:], b1)
			wantErr(t, c.what, k.Ioctl(fd, c.req, unsafe.Pointer(&c.d)), abi.EINVAL)
		}
		// Destroying the bridge releases its members (tap2 was never
		// up: it has no address).
		if err := n.DestroyInterface(b1); err != nil {
			t.Fatal(err)
		}
		if err := n.AddMember(b2, tap2); err != nil {
			t.Errorf("BRDGADD of a member of a destroyed bridge: %v", err)
		}
		// Destroying a member takes it out of its bridge.
		if err := n.DestroyInterface(tap2); err != nil {
			t.Fatal(err)
		}
		if got, err := n.Members(b2); err != nil || len(got) != 0 {
			t.Errorf("BRDGGIFS after destroying the member = %v, %v", got, err)
		}
	})
}

// TestMemberWithAddress: 15.0 refuses a member that has an address, and a
// tap that comes up has its IPv6 link-local one (on the model; a real
// kernel's depends on its IPv6 settings).
func TestMemberWithAddress(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		modelOnly(t)
		loadBridge(t, k)
		n := ifnetOf(t, k)
		b, tap := clone(t, n, "bridge"), clone(t, n, "tap")
		if err := n.SetUp(tap); err != nil {
			t.Fatal(err)
		}
		err := n.AddMember(b, tap)
		if osreldate(t, k) >= 1500000 {
			wantErr(t, "BRDGADD of a tap up on 15.0", err, abi.EINVAL)
		} else if err != nil {
			t.Errorf("BRDGADD of a tap up before 15.0: %v", err)
		}
	})
}

// next reads the next event about the interface, within a generous bound.
func next(t *testing.T, s *rtsock.Socket, index int) rtsock.Event {
	t.Helper()
	c := make(chan rtsock.Event, 1)
	errc := make(chan error, 1)
	go func() {
		for {
			ev, err := s.Next()
			if err != nil {
				errc <- err
				return
			}
			if ev.Index == index {
				c <- ev
				return
			}
		}
	}()
	select {
	case ev := <-c:
		return ev
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("no routing message about interface %d within 30 s", index)
	}
	panic("unreachable")
}

// TestRoutingSocket: a tap's arrival, its link coming up when it is opened
// as bhyve opens it (/dev/tapN, O_RDWR) and going down when it is closed,
// and its departure, as the routing socket tells them.
func TestRoutingSocket(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n := ifnetOf(t, k)
		s, err := rtsock.Open(k)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tap := clone(t, n, "tap")
		i, err := n.Interface(tap)
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, s, i.Index); ev.Kind != rtsock.Arrival || ev.Name != tap {
			t.Errorf("after SIOCIFCREATE2: %+v, want the arrival of %s", ev, tap)
		}
		fd, err := k.Open("/dev/"+tap, unix.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		_, err = k.Open("/dev/"+tap, unix.O_RDWR)
		wantErr(t, "open a tap open already", err, abi.EBUSY)
		if ev := next(t, s, i.Index); ev.Kind != rtsock.Info || !ev.LinkUp {
			t.Errorf("after the open: %+v, want the link up", ev)
		}
		if err := k.Close(fd); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, s, i.Index); ev.Kind != rtsock.Info || ev.LinkUp {
			t.Errorf("after the close: %+v, want the link down", ev)
		}
		if err := n.DestroyInterface(tap); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, s, i.Index); ev.Kind != rtsock.Departure || ev.Name != tap {
			t.Errorf("after SIOCIFDESTROY: %+v, want the departure of %s", ev, tap)
		}
	})
}

// TestRoutingSocketClose: closing the socket ends a read under way.
func TestRoutingSocketClose(t *testing.T) {
	k := kernel(t)
	s, err := rtsock.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		wantErr(t, "Next after Close", err, rtsock.ErrClosed)
	case <-time.After(30 * time.Second):
		t.Fatal("Next still blocked 30 s after Close")
	}
}

// TestDestroyOpenTap: destroying a tap whose device is open waits until
// it is closed (tun_destroy sleeps while tunopen's busy holds), meanwhile
// the tap is still there and cannot be opened again; the close lets the
// destroy finish.
func TestDestroyOpenTap(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n := ifnetOf(t, k)
		tap := clone(t, n, "tap")
		fd, err := k.Open("/dev/"+tap, unix.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- n.DestroyInterface(tap) }()
		// A destroy that does not wait has returned by now.
		time.Sleep(100 * time.Millisecond)
		select {
		case err := <-done:
			k.Close(fd)
			t.Fatalf("SIOCIFDESTROY of a tap open returned (%v) before the close", err)
		default:
		}
		if _, err := n.Interface(tap); err != nil {
			t.Errorf("the tap while its destroy waits: %v, want it listed", err)
		}
		_, err = k.Open("/dev/"+tap, unix.O_RDWR)
		wantErr(t, "open a tap open and being destroyed", err, abi.EBUSY)
		if err := k.Close(fd); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("SIOCIFDESTROY after the close: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("SIOCIFDESTROY still waiting 30 s after the tap was closed")
		}
		if _, err := n.Interface(tap); !errors.Is(err, unix.ENXIO) {
			t.Errorf("the tap after its destroy: %v, want ENXIO", err)
		}
	})
}

// TestRoutetableComponents: net.routetable takes, after the protocol,
// the family, the operation and its argument, and a fib for NET_RT_DUMP
// only (sysctl_rtsock): NET_RT_IFLISTL with fewer components is EISDIR,
// with more ENOTDIR.
func TestRoutetableComponents(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		_, err := k.Sysctl("net.routetable", 0, 0, abi.NET_RT_IFLISTL)
		wantErr(t, "NET_RT_IFLISTL without its argument", err, abi.EISDIR)
		_, err = k.Sysctl("net.routetable", 0, 0, abi.NET_RT_IFLISTL, 0, 0)
		wantErr(t, "NET_RT_IFLISTL with a fib", err, abi.ENOTDIR)
		if b, err := k.Sysctl("net.routetable", 0, 0, abi.NET_RT_IFLISTL, 0); err != nil || len(b) == 0 {
			t.Errorf("NET_RT_IFLISTL: %d bytes, %v", len(b), err)
		}
	})
}

// linkState reads an interface's ifi_link_state from NET_RT_IFLISTL.
func linkState(t *testing.T, k sys.Sys, index int) uint8 {
	t.Helper()
	b, err := k.Sysctl("net.routetable", 0, 0, abi.NET_RT_IFLISTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	for len(b) >= 4 {
		size := int(binary.NativeEndian.Uint16(b))
		var m abi.IfMsghdrl
		if b[3] == abi.RTM_IFINFO {
			if _, err := binary.Decode(b, binary.NativeEndian, &m); err != nil {
				t.Fatal(err)
			}
			if int(m.Index) == index {
				return m.Data.Link_state
			}
		}
		b = b[size:]
	}
	t.Fatalf("no interface of index %d listed", index)
	return 0
}

// bridgeAndTap clones a bridge and a tap, with if_bridge there.
func bridgeAndTap(t *testing.T, k sys.Sys) (n *ifnet.Net, bridge, tap string) {
	t.Helper()
	loadBridge(t, k)
	n = ifnetOf(t, k)
	return n, clone(t, n, "bridge"), clone(t, n, "tap")
}

// TestBridgeLinkState: a bridge without members has link state UNKNOWN
// (bridge_linkcheck), as a new one has; with a member whose link is down
// it is DOWN, with one up it is UP.
func TestBridgeLinkState(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n, b, tap := bridgeAndTap(t, k)
		bi, err := n.Interface(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := linkState(t, k, bi.Index); got != abi.LINK_STATE_UNKNOWN {
			t.Errorf("a bridge that never had a member: link state %d, want UNKNOWN", got)
		}
		if err := n.AddMember(b, tap); err != nil {
			t.Fatal(err)
		}
		if got := linkState(t, k, bi.Index); got != abi.LINK_STATE_DOWN {
			t.Errorf("a bridge whose member's link is down: link state %d, want DOWN", got)
		}
		fd := open(t, k, "/dev/"+tap, unix.O_RDWR)
		if got := linkState(t, k, bi.Index); got != abi.LINK_STATE_UP {
			t.Errorf("a bridge whose member's link is up: link state %d, want UP", got)
		}
		k.Close(fd)
	})
}

// TestJoinPromisc: a tap joining a bridge is put into promiscuous mode
// (bridge_ioctl_add: ifpromisc), which the routing socket announces with
// an RTM_IFINFO carrying IFF_PROMISC; leaving it takes that back, with
// another.
func TestJoinPromisc(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		n, b, tap := bridgeAndTap(t, k)
		i, err := n.Interface(tap)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := k.Socket(abi.PF_ROUTE, abi.SOCK_RAW, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close(fd)
		// flags reads the routing messages up to the next RTM_IFINFO
		// about the tap, and gives its flags.
		flags := func() int32 {
			t.Helper()
			buf := make([]byte, 2048)
			for {
				n, err := k.Read(fd, buf)
				if err != nil {
					t.Fatal(err)
				}
				var m abi.IfMsghdr
				if n >= int(unsafe.Sizeof(m)) && buf[3] == abi.RTM_IFINFO {
					binary.Decode(buf[:n], binary.NativeEndian, &m)
					if int(m.Index) == i.Index {
						return m.Flags
					}
				}
			}
		}
		if err := n.AddMember(b, tap); err != nil {
			t.Fatal(err)
		}
		if f := flags(); f&abi.IFF_PROMISC == 0 {
			t.Errorf("RTM_IFINFO after BRDGADD: flags %#x, want IFF_PROMISC", f)
		}
		if err := n.DeleteMember(b, tap); err != nil {
			t.Fatal(err)
		}
		if f := flags(); f&abi.IFF_PROMISC != 0 {
			t.Errorf("RTM_IFINFO after BRDGDEL: flags %#x, want no IFF_PROMISC", f)
		}
	})
}

// TestRouteDump: NET_RT_DUMP of AF_INET lists the IPv4 routes as RTM_GET
// messages that rtsock reads, the loopback's host route 127.0.0.1/32 out
// of lo0 among them; with a fib it takes 5 components.
func TestRouteDump(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		routes, err := rtsock.Routes(k)
		if err != nil {
			t.Fatal(err)
		}
		lo, err := ifnetOf(t, k).Interface("lo0")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range routes {
			found = found || (r.Dst.String() == "127.0.0.1/32" && r.Index == lo.Index)
		}
		if !found {
			t.Errorf("routes %+v: no host route 127.0.0.1/32 out of lo0 (index %d)", routes, lo.Index)
		}
		_, err = k.Sysctl("net.routetable", 0, abi.AF_INET, abi.NET_RT_DUMP, 0, 0, 0)
		wantErr(t, "NET_RT_DUMP with a component past the fib", err, abi.ENOTDIR)
	})
}
