package sim

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/internal/trace"
)

// The model of FreeBSD's network interfaces at the interface ioctls on a
// socket (sys/net/if.c ifioctl and ifhwioctl, sys/net/if_clone.c,
// sys/net/if_bridge.c bridge_ioctl, sys/net/if_tuntap.c) and the
// NET_RT_IFLISTL sysctl (sys/net/rtsock.c sysctl_iflist). Read: if.c at
// freebsd-src d87a5f2a (14-era), sockio.h at 039ea811, if_bridge.c of
// 13/14 (bridge_ioctl, bridge_ioctl_add, bridge_ioctl_gifs); 15.0's
// refusal of members with addresses from the 15.0 release notes and
// bridge(4) of 15.0 (commit b61850c4e6f6: EINVAL unless
// net.link.bridge.member_ifaddrs=1), whose if_bridge.c was not read.
// Left out: addresses other than the IPv6 link-local a tap gets when it
// comes up, MTU, capabilities, span ports, STP, and the BRDG* commands
// wifibox does not send (unmodelled: ENOSYS).

// iface is a network interface (the kernel's struct ifnet).
type iface struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`  // "tap", "bridge", "ether", "loopback"
	Index int    `json:"index"` // if_index
	Up    bool   `json:"up"`    // IFF_UP
	// Cloner and Unit tell the cloner that created the interface and the
	// unit it holds until the interface is destroyed, renamed or not;
	// Cloner is empty for an interface that is not cloned.
	Cloner  string   `json:"cloner,omitempty"`
	Unit    int      `json:"unit,omitempty"`
	Members []string `json:"members,omitempty"` // of a bridge, in the order added
	Descr   string   `json:"descr,omitempty"`   // if_description
	// Inet6 says the interface has an IPv6 link-local address: in6_if_up
	// (sys/netinet6/in6_ifattach.c) gives one to an Ethernet interface
	// that comes up, net.inet6.ip6.auto_linklocal being 1 by default.
	Inet6 bool `json:"inet6,omitempty"`
	// Opener is the process holding a tap's /dev/tapN open; its link is
	// up meanwhile (tunopen and tunclose in if_tuntap.c).
	Opener int `json:"opener,omitempty"`
	// Dying is the process destroying a tap that is open, which waits in
	// tun_destroy for the close (TUN_DYING); 0 for none.
	Dying int `json:"dying,omitempty"`
	// Promisc: IFF_PROMISC, set while the interface is a bridge member
	// (bridge_ioctl_add: ifpromisc(ifs, 1); bridge_delete_member: 0).
	Promisc bool `json:"promisc,omitempty"`
}

// ifType gives the interface's IFT_* type.
func (i *iface) ifType() uint8 {
	switch i.Kind {
	case "bridge":
		return abi.IFT_BRIDGE
	case "loopback":
		return abi.IFT_LOOP
	}
	return abi.IFT_ETHER
}

// flags gives if_flags | if_drv_flags: what the driver sets at attach,
// IFF_UP, and IFF_DRV_RUNNING: a tap's while its device is open (tunopen,
// tundtor in if_tuntap.c), the others' while up (their if_init).
func (i *iface) flags() uint32 {
	f := uint32(abi.IFF_BROADCAST | abi.IFF_SIMPLEX | abi.IFF_MULTICAST)
	if i.Kind == "loopback" {
		f = abi.IFF_LOOPBACK | abi.IFF_MULTICAST
	}
	if i.Up {
		f |= abi.IFF_UP
	}
	if i.Promisc {
		f |= abi.IFF_PROMISC
	}
	if (i.Kind == "tap" && i.Opener != 0) || (i.Kind != "tap" && i.Up) {
		f |= abi.IFF_DRV_RUNNING
	}
	return f
}

// linkState gives ifi_link_state: a tap's link is up while its device is
// open; a bridge's is up when a member's is, down when none is, and
// unknown while it has no member (bridge_linkcheck sets
// LINK_STATE_UNKNOWN for an empty member list, which is also the state a
// new interface starts in); a network card's is up; the loopback's is
// unknown.
func (t *txn) linkState(i *iface) uint8 {
	switch i.Kind {
	case "tap":
		if i.Opener != 0 && processAlive(i.Opener) {
			return abi.LINK_STATE_UP
		}
		return abi.LINK_STATE_DOWN
	case "bridge":
		if len(i.Members) == 0 {
			return abi.LINK_STATE_UNKNOWN
		}
		for _, m := range i.Members {
			if mi := t.iface(m); mi != nil && t.linkState(mi) == abi.LINK_STATE_UP {
				return abi.LINK_STATE_UP
			}
		}
		return abi.LINK_STATE_DOWN
	case "ether":
		return abi.LINK_STATE_UP
	}
	return abi.LINK_STATE_UNKNOWN
}

func (t *txn) iface(name string) *iface {
	for _, i := range t.st.Interfaces {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// bridgeOf gives the bridge the interface is a member of, or nil.
func (t *txn) bridgeOf(name string) *iface {
	for _, b := range t.st.Interfaces {
		if slices.Contains(b.Members, name) {
			return b
		}
	}
	return nil
}

// cstring reads a NUL-terminated name field.
func cstring(b []byte) string { return unix.ByteSliceToString(b) }

// ifreqName reads ifr_name, as ifunit_ref does: the interface of that name,
// or ENXIO (ifioctl).
func (t *txn) ifreqName(arg unsafe.Pointer) (*iface, error) {
	req := (*abi.Ifreq)(arg)
	i := t.iface(cstring(req.Name[:]))
	if i == nil {
		return nil, abi.ENXIO
	}
	return i, nil
}

// cloners are the interface cloners of the model and whether each is there:
// if_tuntap is in GENERIC (tap), if_bridge is a module.
var cloners = map[string]func(t *txn) bool{
	"tap":    func(*txn) bool { return true },
	"bridge": func(t *txn) bool { return t.present("if_bridge") },
}

func init() {
	socketIoctls[abi.SIOCIFCREATE2] = ioctl{mode: privileged, do: ifCreate}
	socketIoctls[abi.SIOCIFDESTROY] = ioctl{mode: privileged, do: ifDestroy}
	socketIoctls[abi.SIOCSIFNAME] = ioctl{mode: privileged, do: ifRename}
	socketIoctls[abi.SIOCGIFFLAGS] = ioctl{mode: query, do: ifGetFlags}
	socketIoctls[abi.SIOCSIFFLAGS] = ioctl{mode: privileged, do: ifSetFlags}
	socketIoctls[abi.SIOCSIFDESCR] = ioctl{mode: privileged, do: ifSetDescr}
	socketIoctls[abi.SIOCGIFDESCR] = ioctl{mode: query, do: ifGetDescr}
	socketIoctls[abi.SIOCSDRVSPEC] = ioctl{mode: privileged, do: func(t *txn, f *file, arg unsafe.Pointer) error {
		return ifDrvSpec(t, arg, false)
	}}
	socketIoctls[abi.SIOCGDRVSPEC] = ioctl{mode: query, do: func(t *txn, f *file, arg unsafe.Pointer) error {
		return ifDrvSpec(t, arg, true)
	}}
	sysctls["net.routetable"] = sysctlRoutetable
}

// ifCreate is SIOCIFCREATE2 (if.c ifioctl -> if_clone.c if_clone_create):
// the cloner whose name starts ifr_name (EINVAL when none), then the unit:
// the digits after it, EEXIST when taken, or the lowest free one when
// there are none (ifc_alloc_unit, which skips a unit whose name another,
// renamed, interface holds). The chosen name is written back. The new
// interface is announced on the routing sockets (if_attach_internal ->
// rt_ifannouncemsg IFAN_ARRIVAL).
func ifCreate(t *txn, f *file, arg unsafe.Pointer) error {
	req := (*abi.Ifreq)(arg)
	name := cstring(req.Name[:])
	t.line = trace.IfCreate(name, "")
	var kind string
	for c := range cloners {
		if strings.HasPrefix(name, c) {
			kind = c
		}
	}
	if kind == "" || !cloners[kind](t) {
		return abi.EINVAL
	}
	t.line = trace.IfCreate(kind, "")
	unit, wildcard := -1, name == kind
	if !wildcard {
		n, err := strconv.Atoi(name[len(kind):])
		if err != nil || n < 0 {
			return abi.EINVAL
		}
		unit = n
	}
	held := func(u int) bool {
		return slices.ContainsFunc(t.st.Interfaces, func(i *iface) bool { return i.Cloner == kind && i.Unit == u }) ||
			t.iface(fmt.Sprintf("%s%d", kind, u)) != nil
	}
	if wildcard {
		for unit = 0; held(unit); unit++ {
		}
	} else if held(unit) {
		return abi.EEXIST
	}
	name = fmt.Sprintf("%s%d", kind, unit)
	i := &iface{Name: name, Kind: kind, Index: t.freeIndex(), Cloner: kind, Unit: unit}
	t.st.Interfaces = append(t.st.Interfaces, i)
	req.Name = [abi.IFNAMSIZ]byte{}
	copy(req.Name[:], name)
	t.line = trace.IfCreate(kind, name)
	t.announce(i, abi.IFAN_ARRIVAL)
	return nil
}

// freeIndex gives the lowest if_index no interface holds (ifindex_alloc
// in if.c).
func (t *txn) freeIndex() int {
	for index := 1; ; index++ {
		if !slices.ContainsFunc(t.st.Interfaces, func(i *iface) bool { return i.Index == index }) {
			return index
		}
	}
}

// ifDestroy is SIOCIFDESTROY (if_clone_destroy): ENXIO when there is no
// such interface, EINVAL when no cloner made it. A member leaves its
// bridge and a bridge releases its members (bridge_ifdetach,
// bridge_clone_destroy); the departure is announced (if_detach_internal).
//
// A tap whose device is open is not destroyed while it is: tun_destroy
// (if_tuntap.c, freebsd-src 002829ea, as on stable/13 and stable/14) sets
// TUN_DYING and, while tun_busy is not 0 (tunopen busies the tap until
// tundtor, the last close), sleeps on tun_cv with cv_wait_unlock, which
// no signal ends; newer main sleeps with cv_wait_sig, which a signal ends
// with TUN_DYING cleared. The call returns only once the opener has
// closed the device or exited: a bhyve that runs holds it until it exits.
// Meanwhile the tap is still listed, and tunopen refuses it (EBUSY).
func ifDestroy(t *txn, f *file, arg unsafe.Pointer) error {
	req := (*abi.Ifreq)(arg)
	name := cstring(req.Name[:])
	t.line = trace.IfDestroy(name)
	i := t.iface(name)
	if i == nil {
		return abi.ENXIO
	}
	if i.Cloner == "" {
		return abi.EINVAL
	}
	t.reapTap(i)
	if i.Kind == "tap" && i.Opener != 0 {
		i.Dying = os.Getpid()
		t.sleep = i.Opener
		t.line += fmt.Sprintf(" (sleeps until process %d closes /dev/%s)", i.Opener, i.Name)
		return nil
	}
	t.destroy(i)
	return nil
}

// destroy detaches an interface: a member leaves its bridge; a bridge's
// members leave it, and drop out of promiscuous mode (announced).
func (t *txn) destroy(i *iface) {
	if b := t.bridgeOf(i.Name); b != nil {
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == i.Name })
	}
	for _, name := range i.Members {
		if m := t.iface(name); m != nil {
			t.promisc(m, false)
		}
	}
	t.st.Interfaces = slices.DeleteFunc(t.st.Interfaces, func(other *iface) bool { return other == i })
	t.announce(i, abi.IFAN_DEPARTURE)
}

// promisc is ifpromisc (if.c if_setflag): a change of IFF_PROMISC goes
// through the driver's SIOCSIFFLAGS and is announced with RTM_IFINFO
// (rt_ifmsg), the message a tap joining or leaving a bridge sends.
func (t *txn) promisc(i *iface, on bool) {
	if i.Promisc != on {
		i.Promisc = on
		t.ifinfo(i)
	}
}

// ifRename is SIOCSIFNAME (ifhwioctl: copyinstr of the new name from
// ifr_data, ENAMETOOLONG without a NUL in IFNAMSIZ bytes; if_rename:
// EINVAL for an empty name, nothing for the same name, EEXIST when taken).
// The interface keeps its cloner's unit.
func ifRename(t *txn, f *file, arg unsafe.Pointer) error {
	i, err := t.ifreqName(arg)
	req := (*abi.IfreqData)(arg)
	t.line = "if_rename " + cstring(req.Name[:])
	if err != nil {
		return err
	}
	raw := unsafe.Slice((*byte)(req.Data), abi.IFNAMSIZ)
	end := slices.Index(raw, 0)
	if end < 0 {
		return abi.ENAMETOOLONG
	}
	newName := string(raw[:end])
	t.line = trace.IfRename(cstring(req.Name[:]), newName)
	switch {
	case newName == "":
		return abi.EINVAL
	case newName == i.Name:
		return nil
	case t.iface(newName) != nil:
		return abi.EEXIST
	}
	if b := t.bridgeOf(i.Name); b != nil {
		b.Members[slices.Index(b.Members, i.Name)] = newName
	}
	i.Name = newName
	return nil
}

// ifGetFlags is SIOCGIFFLAGS (ifhwioctl): if_flags | if_drv_flags, low
// and high halves.
func ifGetFlags(t *txn, f *file, arg unsafe.Pointer) error {
	i, err := t.ifreqName(arg)
	if err != nil {
		return err
	}
	req := (*abi.IfreqFlags)(arg)
	flags := i.flags()
	req.Flags, req.FlagsHigh = uint16(flags), uint16(flags>>16)
	return nil
}

// ifSetFlags is SIOCSIFFLAGS (ifhwioctl): IFF_UP is the flag the model
// keeps (the others it sets are the driver's, IFF_CANTCHANGE, or left
// out). A change of IFF_UP calls if_up or if_down, which send RTM_IFINFO
// (if_route/if_unroute -> rt_ifmsg); an Ethernet interface that comes up
// gets its IPv6 link-local address (in6_if_up).
func ifSetFlags(t *txn, f *file, arg unsafe.Pointer) error {
	i, err := t.ifreqName(arg)
	req := (*abi.IfreqFlags)(arg)
	flags := uint32(req.Flags) | uint32(req.FlagsHigh)<<16
	up := flags&abi.IFF_UP != 0
	t.line = trace.IfDown(cstring(req.Name[:]))
	if up {
		t.line = trace.IfUp(cstring(req.Name[:]))
	}
	if err != nil {
		return err
	}
	t.reapTap(i)
	if up == i.Up {
		return nil
	}
	i.Up = up
	if up && i.ifType() == abi.IFT_ETHER {
		i.Inet6 = true
	}
	t.ifinfo(i)
	return nil
}

// ifSetDescr is SIOCSIFDESCR (ifhwioctl): ifr_buffer.length counts the
// NUL; longer than net.ifdescr_maxlen is ENAMETOOLONG, 0 removes the
// description, and length-1 bytes are copied in.
func ifSetDescr(t *txn, f *file, arg unsafe.Pointer) error {
	i, err := t.ifreqName(arg)
	req := (*abi.IfreqBuffer)(arg)
	t.line = "if_descr " + cstring(req.Name[:])
	if err != nil {
		return err
	}
	switch {
	case req.Length > abi.IFDESCRSIZE:
		return abi.ENAMETOOLONG
	case req.Length == 0:
		i.Descr = ""
	default:
		i.Descr = cstring(unsafe.Slice((*byte)(req.Buffer), req.Length-1))
	}
	t.line = trace.IfDescr(i.Name, i.Descr)
	return nil
}

// ifGetDescr is SIOCGIFDESCR (ifhwioctl): ENOMSG without a description;
// a buffer too short for it and its NUL is not written and comes back
// NULL; the length is set to the description's with its NUL.
func ifGetDescr(t *txn, f *file, arg unsafe.Pointer) error {
	i, err := t.ifreqName(arg)
	if err != nil {
		return err
	}
	if i.Descr == "" {
		return abi.ENOMSG
	}
	req := (*abi.IfreqBuffer)(arg)
	size := uint64(len(i.Descr) + 1)
	if req.Length < size {
		req.Buffer = nil
	} else {
		buf := unsafe.Slice((*byte)(req.Buffer), size)
		copy(buf, i.Descr)
		buf[size-1] = 0
	}
	req.Length = size
	return nil
}

// bridgeCommand is an entry of if_bridge's bridge_control_table.
type bridgeCommand struct {
	name    string
	copyout bool    // BC_F_COPYOUT: sent with SIOCGDRVSPEC
	size    uintptr // bc_argsize
	do      func(t *txn, b *iface, arg unsafe.Pointer) error
}

// bridgeCommands are the commands wifibox sends; the table has 31 entries
// on 13 and 14 (BRDGADD 0 to BRDGSIFAMAX 30).
var bridgeCommands = map[uint64]bridgeCommand{
	abi.BRDGADD:  {"bridge_add", false, unsafe.Sizeof(abi.Ifbreq{}), bridgeAdd},
	abi.BRDGDEL:  {"bridge_del", false, unsafe.Sizeof(abi.Ifbreq{}), bridgeDel},
	abi.BRDGGIFS: {"bridge_members", true, unsafe.Sizeof(abi.Ifbifconf{}), bridgeGifs},
}

const bridgeTableSize = 31

// ifDrvSpec is SIOCSDRVSPEC and SIOCGDRVSPEC: ENXIO without the interface
// (ifioctl); an interface other than a bridge answers EINVAL from
// ether_ioctl's default. bridge_ioctl then checks, in order: ifd_cmd
// within the table (EINVAL), the direction (SIOCGDRVSPEC for a command
// that copies out, SIOCSDRVSPEC for the others, else EINVAL), ifd_len
// equal to the command's argument size (EINVAL).
func ifDrvSpec(t *txn, arg unsafe.Pointer, get bool) error {
	d := (*abi.Ifdrv)(arg)
	bridge := cstring(d.Name[:])
	c, known := bridgeCommands[d.Cmd]
	t.line = fmt.Sprintf("drvspec %s %d", bridge, d.Cmd)
	if known {
		t.line = c.name + " " + bridge
	}
	b := t.iface(bridge)
	switch {
	case b == nil:
		return abi.ENXIO
	case b.Kind != "bridge", d.Cmd >= bridgeTableSize:
		return abi.EINVAL
	case !known:
		t.line = "unmodelled " + t.line
		return abi.ENOSYS
	case get != c.copyout, d.Len != uint64(c.size):
		return abi.EINVAL
	}
	return c.do(t, b, d.Data)
}

// bridgeAdd is BRDGADD (bridge_ioctl_add): ENOENT without the member;
// EEXIST when it is a member already, EBUSY when of another bridge; EINVAL
// for a type other than Ethernet (a bridge, the loopback). On 15.0 a
// member that has an address is refused with EINVAL (member_ifaddrs,
// net.link.bridge.member_ifaddrs=0 by default).
func bridgeAdd(t *txn, b *iface, arg unsafe.Pointer) error {
	req := (*abi.Ifbreq)(arg)
	name := cstring(req.IfsName[:])
	t.line += " " + name
	m := t.iface(name)
	if m == nil {
		return abi.ENOENT
	}
	if other := t.bridgeOf(name); other != nil {
		if other == b {
			return abi.EEXIST
		}
		return abi.EBUSY
	}
	if m.ifType() != abi.IFT_ETHER {
		return abi.EINVAL
	}
	if t.faults.osreldate >= 1500000 && m.Inet6 {
		return abi.EINVAL
	}
	b.Members = append(b.Members, name)
	t.promisc(m, true)
	return nil
}

// bridgeDel is BRDGDEL (bridge_ioctl_del): ENOENT when it is not a member.
func bridgeDel(t *txn, b *iface, arg unsafe.Pointer) error {
	req := (*abi.Ifbreq)(arg)
	name := cstring(req.IfsName[:])
	t.line += " " + name
	n := slices.Index(b.Members, name)
	if n < 0 {
		return abi.ENOENT
	}
	b.Members = slices.Delete(b.Members, n, n+1)
	if m := t.iface(name); m != nil {
		t.promisc(m, false)
	}
	return nil
}

// bridgeGifs is BRDGGIFS (bridge_ioctl_gifs): with ifbic_len 0 it only
// sets the size all entries need; otherwise it fills as many entries as
// fit and sets ifbic_len to the bytes written.
func bridgeGifs(t *txn, b *iface, arg unsafe.Pointer) error {
	conf := (*abi.Ifbifconf)(arg)
	entry := uint32(unsafe.Sizeof(abi.Ifbreq{}))
	need := uint32(len(b.Members)) * entry
	if conf.Len == 0 {
		conf.Len = need
		return nil
	}
	fit := min(len(b.Members), int(conf.Len/entry))
	out := unsafe.Slice((*abi.Ifbreq)(conf.Buf), fit)
	for n, name := range b.Members[:fit] {
		e := abi.Ifbreq{IfsFlags: abi.IFBIF_LEARNING | abi.IFBIF_DISCOVER}
		copy(e.IfsName[:], name)
		if m := t.iface(name); m != nil {
			e.PortNo = uint8(m.Index)
		}
		out[n] = e
	}
	conf.Len = uint32(fit) * entry
	return nil
}

// sysctlRoutetable is net.routetable (rtsock.c sysctl_rtsock, 14-era
// d87a5f2a): the components after the name are the protocol (0), then
// the family, the operation and its argument; NET_RT_DUMP alone takes a
// fib after them. Fewer components are EISDIR, more ENOTDIR, so
// NET_RT_IFLISTL takes exactly 4. NET_RT_IFLISTL with argument 0 lists
// every interface (sysctl_iflist): an if_msghdrl with the interface's
// sockaddr_dl per interface (its addresses' RTM_NEWADDR messages are
// left out). NET_RT_DUMP of AF_INET in the default fib gives the IPv4
// routes (routeDump). Other operations are unmodelled.
func sysctlRoutetable(t *txn, args []int) ([]byte, error) {
	max := 4
	if len(args) > 2 && args[2] == abi.NET_RT_DUMP {
		max = 5
	}
	switch {
	case len(args) < 4:
		return nil, abi.EISDIR
	case len(args) > max:
		return nil, abi.ENOTDIR
	}
	if args[2] == abi.NET_RT_DUMP && args[1] == abi.AF_INET && args[3] == 0 && len(args) == 4 {
		return t.routeDump(), nil
	}
	if args[2] != abi.NET_RT_IFLISTL || args[3] != 0 || args[1] != 0 {
		return nil, abi.ENOSYS
	}
	var out []byte
	list := slices.Clone(t.st.Interfaces)
	slices.SortFunc(list, func(a, b *iface) int { return a.Index - b.Index })
	for _, i := range list {
		out = append(out, t.iflistMsg(i)...)
	}
	return out, nil
}

// ifdata fills struct if_data for an interface.
func (t *txn) ifdata(i *iface) abi.IfData {
	d := abi.IfData{Type: i.ifType(), Link_state: t.linkState(i), Mtu: 1500}
	d.Datalen = uint16(unsafe.Sizeof(d))
	if i.Kind != "loopback" {
		d.Addrlen = 6
		d.Hdrlen = 14
	}
	return d
}

// iflistMsg is one interface's RTM_IFINFO message of NET_RT_IFLISTL.
func (t *txn) iflistMsg(i *iface) []byte {
	d := t.ifdata(i)
	hdr := abi.IfMsghdrl{Version: abi.RTM_VERSION, Type: abi.RTM_IFINFO, Addrs: abi.RTA_IFP,
		Flags: int32(i.flags()), Index: uint16(i.Index), Data: d}
	hdr.Len = uint16(unsafe.Sizeof(hdr))
	hdr.DataOff = uint16(unsafe.Offsetof(hdr.Data))
	sdl := sockaddrDl(i, d.Addrlen)
	hdr.Msglen = hdr.Len + uint16(len(sdl))
	b, _ := binary.Append(nil, binary.NativeEndian, &hdr)
	return append(b, sdl...)
}

// sockaddrDl is the interface's link-level address as if_attach makes it:
// at least sizeof(struct sockaddr_dl) (54 bytes), in a message rounded up
// to a long (SA_SIZE).
func sockaddrDl(i *iface, alen uint8) []byte {
	const fixed = int(unsafe.Sizeof(abi.RawSockaddrDatalink{}))
	size := max(54, (fixed+len(i.Name)+int(alen)+7)&^7)
	sdl := abi.RawSockaddrDatalink{Len: uint8(size), Family: abi.AF_LINK, Index: uint16(i.Index),
		Type: i.ifType(), Nlen: uint8(len(i.Name)), Alen: alen}
	b, _ := binary.Append(nil, binary.NativeEndian, &sdl)
	b = append(b, i.Name...)
	if alen == 6 {
		// A locally administered address, told apart by the index.
		b = append(b, 0x58, 0x9c, 0xfc, 0, 0, byte(i.Index))
	}
	return append(b, make([]byte, (size+7)&^7-len(b))...)
}

// dynamicCdev gives the device of a path that exists while an object
// does: /dev/tapN, the character device of a tap (if_tuntap.c), and
// /dev/vmm/NAME, a VM's (vmCdev).
func dynamicCdev(path string) (*cdev, bool) {
	if d, ok := vmCdev(path); ok {
		return d, true
	}
	name, ok := strings.CutPrefix(path, "/dev/")
	if !ok || !strings.HasPrefix(name, "tap") {
		return nil, false
	}
	return &cdev{
		openMode: internal,
		open:     func(t *txn, flags int) error { return tapOpen(t, name) },
		close:    func(t *txn) error { return tapClose(t, name) },
	}, true
}

// tapOpen is tunopen (if_tuntap.c, freebsd-src 002829ea): ENOENT without
// the interface (devfs has no such node; the model serves the tap's
// current name, which tunrename makes an alias of), EBUSY while it is
// open (TUN_OPEN; a process that died has closed it) or being destroyed
// (TUN_DYING, while the destroying process waits); then
// IFF_DRV_RUNNING and the link up (if_link_state_change, which rt_ifmsg
// announces). IFF_UP is left as it is: net.link.tap.up_on_open is 0 by
// default.
func tapOpen(t *txn, name string) error {
	i := t.iface(name)
	if i == nil || i.Kind != "tap" {
		return abi.ENOENT
	}
	t.reapTap(i)
	if i.Opener != 0 || (i.Dying != 0 && processAlive(i.Dying)) {
		return abi.EBUSY
	}
	i.Opener = os.Getpid()
	t.ifinfo(i)
	return nil
}

// tapClose is tundtor, the last close: a tap that is up goes down
// (if_down, announced), its addresses are purged (if_purgeaddrs), and its
// link goes down (announced).
func tapClose(t *txn, name string) error {
	i := t.iface(name)
	if i == nil || i.Opener == 0 {
		return nil
	}
	t.closeTap(i)
	return nil
}

// reapTap closes the device of a tap whose opener has exited, as exit(2)
// did: the model learns of the exit late (at the next call about the tap,
// or in a read of the routing socket), and the close takes effect then.
func (t *txn) reapTap(i *iface) {
	if i.Kind == "tap" && i.Opener != 0 && !processAlive(i.Opener) {
		t.closeTap(i)
	}
}

// closeTap closes a tap's device, by its close or its opener's exit.
func (t *txn) closeTap(i *iface) {
	if i.Up {
		i.Up = false
		t.ifinfo(i)
	}
	i.Inet6 = false
	i.Opener = 0
	t.ifinfo(i)
}

// routeDump is NET_RT_DUMP of AF_INET (sysctl_dumpentry in rtsock.c): an
// RTM_GET message per route, its sockaddrs (destination, gateway,
// netmask, as rtm_addrs says) each rounded up to a long. The model's table
// has the loopback's host route (127.0.0.1 through lo0, its gateway
// lo0's link address) and, with the default_gateway knob, the default
// route out of wifibox0 while it exists. Left out: every other route
// (the networks of the host's addresses, which the model does not keep).
func (t *txn) routeDump() []byte {
	var out []byte
	inet := func(a [4]byte) []byte {
		b, _ := binary.Append(nil, binary.NativeEndian, &abi.RawSockaddrInet4{Len: 16, Family: abi.AF_INET, Addr: a})
		return b
	}
	route := func(index int, flags int32, sockaddrs ...[]byte) {
		hdr := abi.RtMsghdr{Version: abi.RTM_VERSION, Type: abi.RTM_GET, Index: uint16(index), Flags: flags,
			Addrs: abi.RTA_DST | abi.RTA_GATEWAY}
		if len(sockaddrs) > 2 {
			hdr.Addrs |= abi.RTA_NETMASK
		}
		body := []byte{}
		for _, sa := range sockaddrs {
			body = append(body, sa...)
			body = append(body, make([]byte, (len(sa)+7)&^7-len(sa))...)
		}
		hdr.Msglen = uint16(int(unsafe.Sizeof(hdr)) + len(body))
		b, _ := binary.Append(nil, binary.NativeEndian, &hdr)
		out = append(append(out, b...), body...)
	}
	if lo := t.iface("lo0"); lo != nil {
		route(lo.Index, abi.RTF_UP|abi.RTF_HOST, inet([4]byte{127, 0, 0, 1}), sockaddrDl(lo, 0))
	}
	if b := t.iface("wifibox0"); b != nil && t.faults.defaultGateway.IsValid() {
		route(b.Index, abi.RTF_UP|abi.RTF_GATEWAY, inet([4]byte{}), inet(t.faults.defaultGateway.As4()), inet([4]byte{}))
	}
	return out
}
