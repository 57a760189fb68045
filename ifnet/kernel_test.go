package ifnet

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeKernel models FreeBSD's interface table as the interface ioctls and
// the NET_RT_IFLISTL sysctl see it (sys/net/if.c, if_clone.c, if_bridge.c,
// rtsock.c): cloners that hand out the lowest free unit (a unit stays taken
// by a renamed interface), EEXIST and ENXIO on names, and if_bridge's
// insistence on the request direction and ifd_len of each command.
type fakeKernel struct {
	ifs     []*fakeIf // in if_index order
	index   uint16    // the last if_index handed out
	cloners map[string]map[int]bool
	calls   int // kernel calls so far
	// fail, when set, decides whether the numbered call fails and how.
	fail func(call int, req uint32) error
	// afterGIFS, when set, runs after each BRDGGIFS answer: it changes
	// the table between two calls of the size negotiation.
	afterGIFS func()
}

type fakeIf struct {
	name   string
	cloner string // "" for an interface that was not cloned
	unit   int
	ifType uint8
	flags  uint32
	index  uint16
	bridge *fakeIf   // the bridge this is a member or span port of
	ports  []*fakeIf // a bridge's members
	spans  []*fakeIf // a bridge's span ports
}

// Interface flags a new interface has (IFF_BROADCAST|IFF_SIMPLEX|
// IFF_MULTICAST) and one of the high 16 bits (IFF_PPROMISC), to check
// that SetUp keeps them.
const (
	fakeEtherFlags = 0x8802
	fakeHighFlag   = 0x20000
)

// newFakeKernel gives a host with lo0 (cloned, up) and em0 (a network
// card, down), with the bridge and tap cloners present.
func newFakeKernel() *fakeKernel {
	k := &fakeKernel{cloners: map[string]map[int]bool{"lo": {}, "bridge": {}, "tap": {}}}
	lo := k.attach("lo0", _IFT_LOOP, 0x8049)
	lo.cloner, lo.unit = "lo", 0
	k.cloners["lo"][0] = true
	k.attach("em0", _IFT_ETHER, fakeEtherFlags)
	return k
}

func (k *fakeKernel) attach(name string, ifType uint8, flags uint32) *fakeIf {
	k.index++
	i := &fakeIf{name: name, ifType: ifType, flags: flags, index: k.index}
	k.ifs = append(k.ifs, i)
	return i
}

func (k *fakeKernel) lookup(name string) *fakeIf {
	for _, i := range k.ifs {
		if i.name == name {
			return i
		}
	}
	return nil
}

// names lists the interfaces, sorted.
func (k *fakeKernel) names() []string {
	var names []string
	for _, i := range k.ifs {
		names = append(names, i.name)
	}
	slices.Sort(names)
	return names
}

// portNames lists a bridge's members, or nil when it does not exist.
func (k *fakeKernel) portNames(bridge string) []string {
	b := k.lookup(bridge)
	if b == nil {
		return nil
	}
	var names []string
	for _, p := range b.ports {
		names = append(names, p.name)
	}
	return names
}

func (k *fakeKernel) call(req uint32) error {
	k.calls++
	if k.fail != nil {
		return k.fail(k.calls, req)
	}
	return nil
}

func (k *fakeKernel) ioctl(req uint32, arg unsafe.Pointer) error {
	if err := k.call(req); err != nil {
		return err
	}
	switch req {
	case _SIOCIFCREATE2:
		return k.create((*ifreqData)(arg))
	case _SIOCIFDESTROY:
		return k.destroy(unix.ByteSliceToString((*ifreqData)(arg).Name[:]))
	case _SIOCSIFNAME:
		r := (*ifreqData)(arg)
		return k.rename(unix.ByteSliceToString(r.Name[:]), unix.ByteSliceToString((*[ifNameSize]byte)(r.Data)[:]))
	case _SIOCGIFFLAGS, _SIOCSIFFLAGS:
		r := (*ifreqFlags)(arg)
		i := k.lookup(unix.ByteSliceToString(r.Name[:]))
		if i == nil {
			return unix.ENXIO
		}
		if req == _SIOCGIFFLAGS {
			r.Flags, r.FlagsHigh = uint16(i.flags), uint16(i.flags>>16)
		} else {
			i.flags = uint32(r.Flags) | uint32(r.FlagsHigh)<<16
		}
		return nil
	case _SIOCGDRVSPEC, _SIOCSDRVSPEC:
		return k.drvspec(req, (*ifdrv)(arg))
	}
	return unix.ENOTTY
}

func (k *fakeKernel) create(r *ifreqData) error {
	name := unix.ByteSliceToString(r.Name[:])
	prefix := strings.TrimRight(name, "0123456789")
	units, ok := k.cloners[prefix]
	if !ok {
		return unix.EINVAL // no cloner matches
	}
	unit := 0
	if prefix != name {
		unit, _ = strconv.Atoi(name[len(prefix):])
		if units[unit] || k.lookup(name) != nil {
			return unix.EEXIST
		}
	} else {
		for units[unit] || k.lookup(prefix+strconv.Itoa(unit)) != nil {
			unit++
		}
	}
	units[unit] = true
	ifType := uint8(_IFT_ETHER)
	if prefix == "bridge" {
		ifType = _IFT_BRIDGE
	}
	i := k.attach(prefix+strconv.Itoa(unit), ifType, fakeEtherFlags)
	i.cloner, i.unit = prefix, unit
	copy(r.Name[:], i.name+"\x00")
	return nil
}

func (k *fakeKernel) destroy(name string) error {
	i := k.lookup(name)
	switch {
	case i == nil:
		return unix.ENXIO
	case i.cloner == "":
		return unix.EINVAL
	}
	if i.bridge != nil {
		i.bridge.ports = slices.DeleteFunc(i.bridge.ports, func(p *fakeIf) bool { return p == i })
		i.bridge.spans = slices.DeleteFunc(i.bridge.spans, func(p *fakeIf) bool { return p == i })
	}
	for _, p := range append(i.ports, i.spans...) {
		p.bridge = nil
	}
	delete(k.cloners[i.cloner], i.unit)
	k.ifs = slices.DeleteFunc(k.ifs, func(p *fakeIf) bool { return p == i })
	return nil
}

func (k *fakeKernel) rename(old, new string) error {
	i := k.lookup(old)
	switch {
	case i == nil:
		return unix.ENXIO
	case new == "":
		return unix.EINVAL
	case new == old:
		return nil
	case k.lookup(new) != nil:
		return unix.EEXIST
	}
	i.name = new
	return nil
}

// bridgeCmd is one row of if_bridge's command table: whether the command
// copies data out (and so must come with SIOCGDRVSPEC) and its argument's
// size, which ifd_len must equal.
type bridgeCmd struct {
	get  bool
	size uintptr
}

var bridgeCmds = map[uint64]bridgeCmd{
	_BRDGADD:  {false, unsafe.Sizeof(ifbreq{})},
	_BRDGDEL:  {false, unsafe.Sizeof(ifbreq{})},
	_BRDGGIFS: {true, unsafe.Sizeof(ifbifconf{})},
}

func (k *fakeKernel) drvspec(req uint32, d *ifdrv) error {
	b := k.lookup(unix.ByteSliceToString(d.Name[:]))
	if b == nil {
		return unix.ENXIO
	}
	if b.ifType != _IFT_BRIDGE {
		return unix.EINVAL // ether_ioctl knows no driver commands
	}
	cmd, ok := bridgeCmds[d.Cmd]
	if !ok || cmd.get != (req == _SIOCGDRVSPEC) || d.Len != uint64(cmd.size) {
		return unix.EINVAL
	}
	switch d.Cmd {
	case _BRDGADD:
		return k.addPort(b, unix.ByteSliceToString((*ifbreq)(d.Data).IfsName[:]))
	case _BRDGDEL:
		m := k.lookup(unix.ByteSliceToString((*ifbreq)(d.Data).IfsName[:]))
		if m == nil || m.bridge != b || !slices.Contains(b.ports, m) {
			return unix.ENOENT
		}
		b.ports = slices.DeleteFunc(b.ports, func(p *fakeIf) bool { return p == m })
		m.bridge = nil
		return nil
	}
	k.listPorts(b, (*ifbifconf)(d.Data))
	if k.afterGIFS != nil {
		k.afterGIFS()
	}
	return nil
}

func (k *fakeKernel) addPort(b *fakeIf, name string) error {
	m := k.lookup(name)
	switch {
	case m == nil:
		return unix.ENOENT
	case m == b || m.ifType != _IFT_ETHER:
		return unix.EINVAL
	case m.bridge == b:
		return unix.EEXIST
	case m.bridge != nil:
		return unix.EBUSY
	}
	b.ports = append(b.ports, m)
	m.bridge = b
	return nil
}

// listPorts answers BRDGGIFS: the size needed when ifbic_len is 0,
// otherwise as many entries (members, then span ports) as fit, with
// ifbic_len set to the bytes written.
func (k *fakeKernel) listPorts(b *fakeIf, conf *ifbifconf) {
	entry := uint32(unsafe.Sizeof(ifbreq{}))
	ports := append(slices.Clone(b.ports), b.spans...)
	if conf.Len == 0 {
		conf.Len = uint32(len(ports)) * entry
		return
	}
	n := min(int(conf.Len/entry), len(ports))
	out := unsafe.Slice((*ifbreq)(conf.Buf), n)
	for j, p := range ports[:n] {
		out[j] = ifbreq{PortNo: uint8(p.index)}
		copy(out[j].IfsName[:], p.name)
		if slices.Contains(b.spans, p) {
			out[j].IfsFlags = _IFBIF_SPAN
		}
	}
	conf.Len = uint32(n) * entry
}

// interfaceList answers NET_RT_IFLISTL: for each interface an RTM_IFINFO
// message with its sockaddr_dl (padded to the struct's 54 bytes, as the
// kernel allocates it), followed by a message about an address that the
// reader must skip.
func (k *fakeKernel) interfaceList() ([]byte, error) {
	if err := k.call(0); err != nil {
		return nil, err
	}
	const sdlSize = 54
	var b []byte
	for _, i := range k.ifs {
		hdr := ifMsghdrl{
			MsgLen:  uint16(unsafe.Sizeof(ifMsghdrl{})) + sdlSize,
			Version: 5,
			Type:    _RTM_IFINFO,
			Addrs:   _RTA_IFP,
			Flags:   int32(i.flags),
			Index:   i.index,
			Len:     uint16(unsafe.Sizeof(ifMsghdrl{})),
			DataOff: uint16(unsafe.Offsetof(ifMsghdrl{}.Data)),
			Data:    ifData{Type: i.ifType},
		}
		b, _ = binary.Append(b, binary.NativeEndian, hdr)
		sdl := sockaddrDl{Len: sdlSize, Family: _AF_LINK, Index: i.index, Type: i.ifType, NLen: uint8(len(i.name))}
		b, _ = binary.Append(b, binary.NativeEndian, sdl)
		b = append(b, i.name...)
		b = append(b, make([]byte, sdlSize-int(unsafe.Sizeof(sdl))-len(i.name))...)
		// An RTM_NEWADDR (0xc) message of 20 bytes.
		b = binary.NativeEndian.AppendUint16(b, 20)
		b = append(b, 5, 0xc)
		b = append(b, make([]byte, 16)...)
	}
	return b, nil
}
