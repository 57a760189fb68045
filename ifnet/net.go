// Package ifnet owns wifibox's network interfaces: the FreeBSD
// implementation of host.Net, which clones, renames, destroys, describes
// and brings up interfaces and manages if_bridge members with ioctls on a
// datagram socket and lists interfaces with the routing sysctl, all
// through the system-call seam (sys.Sys); and the logic of the `netif`
// target over any host.Net (Netif: Setup, Tap, Teardown, Reclaim, Repair). The same code
// runs on FreeBSD (sys.Native) and over the kernel model (sim.Kernel).
package ifnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/rtsock"
	"github.com/wifibox/wifibox/sys"
)

var errInvalidName = fmt.Errorf("an interface name has 1 to %d bytes and no NUL: %w", abi.IFNAMSIZ-1, unix.EINVAL)

// Net is the FreeBSD implementation of host.Net.
type Net struct {
	s  sys.Sys
	fd int // the datagram socket the interface ioctls go through
}

var _ host.Net = (*Net)(nil)

// New opens the datagram socket the interface ioctls go through (an
// AF_LOCAL one, as ifconfig(8) uses: every kernel has that family) and
// returns the host.Net over s. The socket stays open for the life of the
// process.
func New(s sys.Sys) (*Net, error) {
	fd, err := s.Socket(abi.AF_LOCAL, abi.SOCK_DGRAM, 0)
	if err != nil {
		return nil, fmt.Errorf("open a socket for interface ioctls: socket(AF_LOCAL, SOCK_DGRAM): %w", err)
	}
	return &Net{s: s, fd: fd}, nil
}

func (n *Net) ioctl(req uint32, arg unsafe.Pointer) error { return n.s.Ioctl(n.fd, req, arg) }

// setName copies an interface name into a NUL-terminated name field. A
// name that is empty, does not fit with its NUL, or holds a NUL itself is
// refused with EINVAL, what the kernel answers for such names.
func setName(dst *[abi.IFNAMSIZ]byte, name string) error {
	if name == "" || len(name) >= abi.IFNAMSIZ || strings.IndexByte(name, 0) >= 0 {
		return errInvalidName
	}
	*dst = [abi.IFNAMSIZ]byte{}
	copy(dst[:], name)
	return nil
}

// CreateInterface clones an interface of the given kind (KindBridge, KindTap)
// with SIOCIFCREATE2 and returns the name the kernel chose. EINVAL means no
// cloner of that kind exists (its module is not loaded).
func (n *Net) CreateInterface(kind string) (string, error) {
	var req abi.IfreqData
	if err := setName(&req.Name, kind); err != nil {
		return "", fmt.Errorf("create interface %q: %w", kind, err)
	}
	if err := n.ioctl(abi.SIOCIFCREATE2, unsafe.Pointer(&req)); err != nil {
		return "", fmt.Errorf("create interface %s: SIOCIFCREATE2: %w", kind, err)
	}
	return unix.ByteSliceToString(req.Name[:]), nil
}

// RenameInterface renames an interface with SIOCSIFNAME, which takes the
// new name by pointer.
func (n *Net) RenameInterface(old, new string) error {
	var req abi.IfreqData
	var name [abi.IFNAMSIZ]byte
	if err := setName(&req.Name, old); err != nil {
		return fmt.Errorf("rename interface %q: %w", old, err)
	}
	if err := setName(&name, new); err != nil {
		return fmt.Errorf("rename interface %s to %q: %w", old, new, err)
	}
	req.Data = unsafe.Pointer(&name)
	if err := n.ioctl(abi.SIOCSIFNAME, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("rename interface %s to %s: SIOCSIFNAME: %w", old, new, err)
	}
	return nil
}

// DestroyInterface destroys a cloned interface with SIOCIFDESTROY.
func (n *Net) DestroyInterface(name string) error {
	var req abi.IfreqData
	if err := setName(&req.Name, name); err != nil {
		return fmt.Errorf("destroy interface %q: %w", name, err)
	}
	if err := n.ioctl(abi.SIOCIFDESTROY, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("destroy interface %s: SIOCIFDESTROY: %w", name, err)
	}
	return nil
}

// SetUp reads the interface's flags (SIOCGIFFLAGS) and writes them back
// with IFF_UP set (SIOCSIFFLAGS).
func (n *Net) SetUp(name string) error { return n.setUp(name, true) }

// SetDown clears IFF_UP on the interface, as `ifconfig IF down` does.
func (n *Net) SetDown(name string) error { return n.setUp(name, false) }

// setUp sets or clears IFF_UP with SIOCGIFFLAGS and SIOCSIFFLAGS.
func (n *Net) setUp(name string, up bool) error {
	what := "bring up"
	if !up {
		what = "bring down"
	}
	var req abi.IfreqFlags
	if err := setName(&req.Name, name); err != nil {
		return fmt.Errorf("%s interface %q: %w", what, name, err)
	}
	if err := n.ioctl(abi.SIOCGIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("%s interface %s: SIOCGIFFLAGS: %w", what, name, err)
	}
	flags := uint32(req.Flags) | uint32(req.FlagsHigh)<<16
	if up {
		flags |= abi.IFF_UP
	} else {
		flags &^= abi.IFF_UP
	}
	req.Flags, req.FlagsHigh = uint16(flags), uint16(flags>>16)
	if err := n.ioctl(abi.SIOCSIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("%s interface %s: SIOCSIFFLAGS: %w", what, name, err)
	}
	return nil
}

// SetDescription sets the interface's description with SIOCSIFDESCR
// (ifr_buffer: the text and its length, NUL included).
func (n *Net) SetDescription(name, text string) error {
	var req abi.IfreqBuffer
	if err := setName(&req.Name, name); err != nil {
		return fmt.Errorf("describe interface %q: %w", name, err)
	}
	buf := append([]byte(text), 0)
	req.Length, req.Buffer = uint64(len(buf)), unsafe.Pointer(&buf[0])
	if err := n.ioctl(abi.SIOCSIFDESCR, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("describe interface %s as %q: SIOCSIFDESCR: %w", name, text, err)
	}
	return nil
}

// Description gives the interface's description, "" when it has none
// (SIOCGIFDESCR answers ENOMSG then). The buffer holds the longest
// description the kernel keeps by default; one that does not fit comes
// back with a NULL buffer and its length, and is asked for again.
func (n *Net) Description(name string) (string, error) {
	size := uint64(abi.IFDESCRSIZE)
	for {
		var req abi.IfreqBuffer
		if err := setName(&req.Name, name); err != nil {
			return "", fmt.Errorf("read the description of interface %q: %w", name, err)
		}
		buf := make([]byte, size)
		req.Length, req.Buffer = size, unsafe.Pointer(&buf[0])
		err := n.ioctl(abi.SIOCGIFDESCR, unsafe.Pointer(&req))
		switch {
		case errors.Is(err, unix.ENOMSG):
			return "", nil
		case err != nil:
			return "", fmt.Errorf("read the description of interface %s: SIOCGIFDESCR: %w", name, err)
		case req.Buffer == nil && req.Length > size:
			size = req.Length
			continue
		}
		return unix.ByteSliceToString(buf[:min(req.Length, size)]), nil
	}
}

// AddMember adds an interface to a bridge (BRDGADD).
func (n *Net) AddMember(bridge, member string) error {
	if err := n.member(abi.BRDGADD, bridge, member); err != nil {
		return fmt.Errorf("add %s to bridge %s: SIOCSDRVSPEC BRDGADD: %w", member, bridge, err)
	}
	return nil
}

// DeleteMember removes an interface from a bridge (BRDGDEL).
func (n *Net) DeleteMember(bridge, member string) error {
	if err := n.member(abi.BRDGDEL, bridge, member); err != nil {
		return fmt.Errorf("remove %s from bridge %s: SIOCSDRVSPEC BRDGDEL: %w", member, bridge, err)
	}
	return nil
}

// member sends a set command about one member (BRDGADD, BRDGDEL).
func (n *Net) member(cmd uint64, bridge, member string) error {
	var req abi.Ifbreq
	if err := setName(&req.IfsName, member); err != nil {
		return err
	}
	return n.drvspec(abi.SIOCSDRVSPEC, bridge, cmd, unsafe.Pointer(&req), unsafe.Sizeof(req))
}

// drvspec sends an if_bridge command. The kernel insists that ifd_len is
// exactly the size of the command's structure, and that commands which
// return data come with SIOCGDRVSPEC and the others with SIOCSDRVSPEC.
func (n *Net) drvspec(req uint32, bridge string, cmd uint64, arg unsafe.Pointer, size uintptr) error {
	d := abi.Ifdrv{Cmd: cmd, Len: uint64(size), Data: arg}
	if err := setName(&d.Name, bridge); err != nil {
		return err
	}
	return n.ioctl(req, unsafe.Pointer(&d))
}

// Members lists a bridge's members with BRDGGIFS, span ports left out. A
// first call with an empty buffer learns the size; the buffer then gets one
// spare entry, so a full buffer means the membership grew in between and
// the call is repeated with a larger one.
func (n *Net) Members(bridge string) ([]string, error) {
	entry := uint32(unsafe.Sizeof(abi.Ifbreq{}))
	var conf abi.Ifbifconf
	if err := n.drvspec(abi.SIOCGDRVSPEC, bridge, abi.BRDGGIFS, unsafe.Pointer(&conf), unsafe.Sizeof(conf)); err != nil {
		return nil, fmt.Errorf("list members of bridge %s: SIOCGDRVSPEC BRDGGIFS: %w", bridge, err)
	}
	for conf.Len != 0 {
		buf := make([]abi.Ifbreq, conf.Len/entry+1)
		size := uint32(len(buf)) * entry
		conf = abi.Ifbifconf{Len: size, Buf: unsafe.Pointer(&buf[0])}
		if err := n.drvspec(abi.SIOCGDRVSPEC, bridge, abi.BRDGGIFS, unsafe.Pointer(&conf), unsafe.Sizeof(conf)); err != nil {
			return nil, fmt.Errorf("list members of bridge %s: SIOCGDRVSPEC BRDGGIFS: %w", bridge, err)
		}
		if conf.Len < size {
			return memberNames(buf[:conf.Len/entry]), nil
		}
	}
	return nil, nil
}

// WaitLinkDown waits at most timeout until the interface's link is not
// up. It watches the routing socket for RTM_IFINFO (a tap's link goes
// down when the process that had /dev/tapN open closes it or exits). A
// link that is down needs no socket; for one that is up, the state is read
// again once the socket is open, so the change cannot be missed. A link
// still up after timeout is EBUSY, with what to do.
func (n *Net) WaitLinkDown(name string, timeout time.Duration) error {
	i, err := n.Interface(name)
	if err != nil || !i.LinkUp {
		return err
	}
	sock, err := rtsock.Open(n.s)
	if err != nil {
		return fmt.Errorf("wait for the link of %s to go down: %w", name, err)
	}
	defer sock.Close()
	if i, err = n.Interface(name); err != nil || !i.LinkUp {
		return err
	}
	timer := time.AfterFunc(timeout, func() { sock.Close() })
	defer timer.Stop()
	for {
		ev, err := sock.Next()
		if errors.Is(err, rtsock.ErrClosed) {
			// A process that died may leave no message behind (the
			// simulated host's): the state decides.
			if i, err := n.Interface(name); err != nil || !i.LinkUp {
				return err
			}
			return fmt.Errorf("the link of %s is still up after %v: another process has it open, a bhyve still running? %w", name, timeout, unix.EBUSY)
		}
		if err != nil {
			return fmt.Errorf("wait for the link of %s to go down: %w", name, err)
		}
		switch {
		case ev.Index != i.Index:
		case ev.Kind == rtsock.Departure:
			return errNoInterface(name)
		case ev.Kind == rtsock.Info && !ev.LinkUp:
			return nil
		}
	}
}

// Watch opens a routing socket that reports every interface's changes
// from now on: RTM_IFINFO when its flags or link state change,
// RTM_IFANNOUNCE when it arrives or leaves.
func (n *Net) Watch() (host.Watch, error) {
	sock, err := rtsock.Open(n.s)
	if err != nil {
		return nil, fmt.Errorf("watch the interfaces: %w", err)
	}
	return watch{sock}, nil
}

type watch struct{ *rtsock.Socket }

func (w watch) Next() (int, error) {
	ev, err := w.Socket.Next()
	return ev.Index, err
}

// memberNames gives the names of the entries that are members, not span
// ports.
func memberNames(entries []abi.Ifbreq) []string {
	var names []string
	for _, e := range entries {
		if e.IfsFlags&abi.IFBIF_SPAN == 0 {
			names = append(names, unix.ByteSliceToString(e.IfsName[:]))
		}
	}
	return names
}

// Interface describes the named interface; ENXIO if there is none.
func (n *Net) Interface(name string) (host.Interface, error) {
	all, err := n.Interfaces()
	if err != nil {
		return host.Interface{}, err
	}
	for _, i := range all {
		if i.Name == name {
			return i, nil
		}
	}
	return host.Interface{}, errNoInterface(name)
}

// errNoInterface is the error for an interface that does not exist.
func errNoInterface(name string) error {
	return fmt.Errorf("interface %s: %w", name, unix.ENXIO)
}

// Interfaces lists every interface from the NET_RT_IFLISTL sysctl: its
// name, index, kind and whether IFF_UP is set. ENOMEM means an interface
// appeared between the call that sized the buffer and the one that filled
// it (sysctl_iflist in sys/net/rtsock.c): the call is repeated.
func (n *Net) Interfaces() ([]host.Interface, error) { return Interfaces(n.s) }

// Interfaces lists every interface as Net.Interfaces does, with the
// sysctl alone: no socket is needed.
func Interfaces(s sys.Sys) ([]host.Interface, error) {
	var b []byte
	var err error
	for {
		b, err = s.Sysctl("net.routetable", 0, 0, abi.NET_RT_IFLISTL, 0)
		if !errors.Is(err, unix.ENOMEM) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list interfaces: sysctl net.routetable NET_RT_IFLISTL: %w", err)
	}
	list, err := parseInterfaceList(b)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: sysctl net.routetable NET_RT_IFLISTL: %w", err)
	}
	return list, nil
}

// parseInterfaceList reads the RTM_IFINFO messages of a NET_RT_IFLISTL
// answer and skips the others (the addresses of each interface).
func parseInterfaceList(b []byte) ([]host.Interface, error) {
	msgs, err := rtsock.Split(b)
	if err != nil {
		return nil, err
	}
	var list []host.Interface
	for _, msg := range msgs {
		if msg[3] != abi.RTM_IFINFO {
			continue
		}
		i, err := parseIfinfo(msg)
		if err != nil {
			return nil, err
		}
		list = append(list, i)
	}
	return list, nil
}

// DefaultGateway gives the gateway of the IPv4 default route out of the
// named interface, from the routing table (rtsock.Routes): the guest's
// address when the host routes through wifibox0, what the shell
// implementation read from netstat -r.
func (n *Net) DefaultGateway(name string) (netip.Addr, error) {
	i, err := n.Interface(name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the default gateway through %s: %w", name, err)
	}
	routes, err := rtsock.Routes(n.s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the default gateway through %s: %w", name, err)
	}
	if gw, ok := rtsock.DefaultGateway(routes, i.Index); ok {
		return gw, nil
	}
	return netip.Addr{}, fmt.Errorf("no default route through %s: set network=IP:NETMASK in uds_passthru.conf, or check that the host's DHCP client set one", name)
}

// parseIfinfo reads one RTM_IFINFO message: an if_msghdrl whose sockaddr_dl
// follows at ifm_len. A layout other than the one pinned fails loudly.
func parseIfinfo(msg []byte) (host.Interface, error) {
	var hdr abi.IfMsghdrl
	if _, err := binary.Decode(msg, binary.NativeEndian, &hdr); err != nil {
		return host.Interface{}, fmt.Errorf("RTM_IFINFO message of %d bytes: %w", len(msg), err)
	}
	if hdr.DataOff != uint16(unsafe.Offsetof(hdr.Data)) || int(hdr.Len) < int(unsafe.Sizeof(hdr)) || int(hdr.Len) > len(msg) {
		return host.Interface{}, fmt.Errorf("RTM_IFINFO message: unexpected layout (ifm_len %d, ifm_data_off %d, %d bytes)", hdr.Len, hdr.DataOff, len(msg))
	}
	if hdr.Addrs&(abi.RTA_IFP<<1-1) != abi.RTA_IFP {
		return host.Interface{}, fmt.Errorf("RTM_IFINFO message: addresses %#x, want the interface's alone first", hdr.Addrs)
	}
	var sdl abi.RawSockaddrDatalink
	addr := msg[hdr.Len:]
	if _, err := binary.Decode(addr, binary.NativeEndian, &sdl); err != nil {
		return host.Interface{}, fmt.Errorf("RTM_IFINFO message: sockaddr_dl: %w", err)
	}
	end := int(unsafe.Sizeof(sdl)) + int(sdl.Nlen)
	if sdl.Family != abi.AF_LINK || end > int(sdl.Len) || end > len(addr) {
		return host.Interface{}, fmt.Errorf("RTM_IFINFO message: sockaddr_dl of family %d, length %d with a name of %d bytes", sdl.Family, sdl.Len, sdl.Nlen)
	}
	name := string(addr[unsafe.Sizeof(sdl):end])
	return host.Interface{
		Name:   name,
		Index:  int(hdr.Index),
		Kind:   kind(hdr.Data.Type, name),
		Up:     hdr.Flags&abi.IFF_UP != 0,
		LinkUp: hdr.Data.Link_state == abi.LINK_STATE_UP,
	}, nil
}

// kind names an interface type the way host.Interface does. A tap is an
// Ethernet interface to the kernel; it is told from a network card by its
// name, which must start with "tap" anyway for bhyve to use it.
func kind(ifType uint8, name string) string {
	switch {
	case ifType == abi.IFT_BRIDGE:
		return KindBridge
	case ifType == abi.IFT_ETHER && strings.HasPrefix(name, KindTap):
		return KindTap
	case ifType == abi.IFT_ETHER:
		return "ether"
	case ifType == abi.IFT_LOOP:
		return "loopback"
	}
	return fmt.Sprintf("type %d", ifType)
}
