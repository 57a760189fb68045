package ppt

import (
	"encoding/binary"
	"fmt"
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// model is the FreeBSD kernel as far as this package sees it: pci(4)'s
// PCIOCGETCONF (sys/dev/pci/pci_user.c) and devctl(4)'s DEV_SET_DRIVER and
// DEV_CLEAR_DRIVER (sys/kern/subr_bus.c), answering with FreeBSD errnos.
type model struct {
	t    *testing.T
	devs []*modelDev
	// generation counts changes of the device list (pci_generation).
	generation uint32
	// serves maps each PCIOCGETCONF request the kernel knows to its
	// struct pci_conf size: a 14.x kernel knows only the old request, a
	// 15 one the new and, with COMPAT_FREEBSD14, the old.
	serves map[uint32]int
	// drivers are the drivers registered on the pci bus; "ppt" while
	// vmm.ko is loaded.
	drivers map[string]bool
	// unprivileged makes devctl's priv_check(PRIV_DRIVER) fail: not root.
	unprivileged bool
	// afterGetconf runs after each PCIOCGETCONF, numbered from 1, so a
	// test can change the list between two calls of one walk.
	afterGetconf func(call int)

	fds      map[int]string
	nextFD   int
	requests []uint32 // PCIOCGETCONF requests in the order made
}

// modelDev is one PCI function and its newbus device.
type modelDev struct {
	sel             host.Selector
	vendor, device  uint16
	class, subclass uint8
	bridge          bool   // a bridge: ppt's probe answers ENXIO
	native          string // the driver that claims it when nothing is fixed

	devclass string // current driver name ("" for none)
	unit     uint64
	attached bool
	fixed    bool // DF_FIXEDCLASS: DEV_SET_DRIVER chose devclass

	detachBusy bool // its native driver refuses to detach (EBUSY)
	inVM       bool // assigned to a VM: ppt refuses to detach (EBUSY)
	reclaim    bool // the native driver takes it back right after ppt attaches
}

// FreeBSD 15 with COMPAT_FREEBSD14, 15 without it, and 14.x.
var (
	serves15     = map[uint32]int{pciocGetconf15: 128, pciocGetconf14: 48}
	serves15Only = map[uint32]int{pciocGetconf15: 128}
	serves14     = map[uint32]int{pciocGetconf14: 48}
)

// newModel gives a laptop: a host bridge, an Ethernet card with its
// driver, a PCI bridge, and an Intel Wi-Fi card claimed by iwlwifi. vmm.ko
// (ppt) is loaded.
func newModel(t *testing.T, serves map[uint32]int) *model {
	m := &model{
		t:       t,
		serves:  serves,
		drivers: map[string]bool{"hostb": true, "re": true, "pcib": true, "iwlwifi": true, "ppt": true},
		fds:     map[int]string{},
		nextFD:  3,
	}
	m.add(&modelDev{sel: host.Selector{Bus: 0, Slot: 0, Function: 0}, vendor: 0x8086, device: 0x9a14, class: 0x06, native: "hostb", bridge: true})
	m.add(&modelDev{sel: host.Selector{Bus: 2, Slot: 0, Function: 0}, vendor: 0x10ec, device: 0x8168, class: 0x02, native: "re"})
	m.add(&modelDev{sel: host.Selector{Bus: 0, Slot: 28, Function: 0}, vendor: 0x8086, device: 0xa0b8, class: 0x06, subclass: 0x04, native: "pcib", bridge: true})
	m.add(&modelDev{sel: host.Selector{Bus: 3, Slot: 0, Function: 0}, vendor: 0x8086, device: 0x2723, class: 0x02, subclass: 0x80, native: "iwlwifi"})
	t.Cleanup(func() {
		if len(m.fds) != 0 {
			t.Errorf("file descriptors left open: %v", m.fds)
		}
	})
	return m
}

// add plugs a device in (hot plug), which changes the list's generation.
func (m *model) add(d *modelDev) {
	m.devs = append(m.devs, d)
	m.generation++
	m.probe(d)
}

func (m *model) dev(sel host.Selector) *modelDev {
	for _, d := range m.devs {
		if d.sel == sel {
			return d
		}
	}
	m.t.Fatalf("model: no device %s", sel)
	return nil
}

func (m *model) pci() host.PCI { return &kernel{sys: m, perCall: defaultPerCall} }

func (m *model) Open(path string) (int, error) {
	if path != pciDevice && path != devctlDevice {
		return -1, unix.ENOENT
	}
	fd := m.nextFD
	m.nextFD++
	m.fds[fd] = path
	return fd, nil
}

func (m *model) Close(fd int) error {
	if _, ok := m.fds[fd]; !ok {
		return unix.EBADF
	}
	delete(m.fds, fd)
	return nil
}

func (m *model) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	switch m.fds[fd] {
	case pciDevice:
		size, ok := m.serves[req]
		if !ok {
			return unix.ENOTTY
		}
		m.requests = append(m.requests, req)
		err := m.getconf((*pciConfIO)(arg), size)
		if m.afterGetconf != nil {
			m.afterGetconf(len(m.requests))
		}
		return err
	case devctlDevice:
		if m.unprivileged {
			return unix.EPERM
		}
		switch req {
		case devSetDriver:
			return m.setDriver((*devreq)(arg))
		case devClearDriver:
			return m.clearDriver((*devreq)(arg))
		}
		return unix.ENOTTY
	}
	return unix.EBADF
}

// getconf is pci_user.c's PCIOCGETCONF without patterns.
func (m *model) getconf(cio *pciConfIO, size int) error {
	cio.NumMatches = 0
	if cio.Offset != 0 && cio.Generation != m.generation {
		cio.Status = pciGetconfListChanged
		return nil
	}
	if int(cio.Offset) >= len(m.devs) {
		cio.Status = pciGetconfLastDevice
		return nil
	}
	if cio.NumPatterns != 0 || cio.PatBufLen != 0 || cio.Patterns != nil {
		cio.Status = pciGetconfError
		return unix.EINVAL
	}
	room := int(cio.MatchBufLen) / size
	out := unsafe.Slice((*byte)(cio.Matches), cio.MatchBufLen)
	i := int(cio.Offset)
	for ; i < len(m.devs) && int(cio.NumMatches) < room; i++ {
		encodeConf(out[int(cio.NumMatches)*size:][:size], m.devs[i])
		cio.NumMatches++
	}
	cio.Offset = uint32(i)
	cio.Generation = m.generation
	cio.Status = pciGetconfMoreDevs
	if i == len(m.devs) {
		cio.Status = pciGetconfLastDevice
	}
	return nil
}

// encodeConf fills in a struct pci_conf of len(b) bytes the way the kernel
// does; the bytes of the 15-only fields are set to garbage so that reading
// entries with the wrong stride shows.
func encodeConf(b []byte, d *modelDev) {
	for i := range b {
		b[i] = 0xa5
	}
	clear(b[:sizeofPCIConf14])
	ne := binary.NativeEndian
	ne.PutUint32(b[pcselDomain:], d.sel.Domain)
	b[pcselBus], b[pcselDev], b[pcselFunc] = d.sel.Bus, d.sel.Slot, d.sel.Function
	ne.PutUint16(b[confVendor:], d.vendor)
	ne.PutUint16(b[confDevice:], d.device)
	b[confClass], b[confSubclass] = d.class, d.subclass
	if d.devclass != "" {
		copy(b[confName:confName+pciMaxNameLen], d.devclass)
		ne.PutUint64(b[confUnit:], d.unit)
	}
}

// lookup is subr_bus.c's find_device: a device name ("iwlwifi0") or
// pci_lookup's "pciD:B:S:F" / "pciB:S:F".
func (m *model) lookup(req *devreq) (*modelDev, error) {
	n := 0
	for n < len(req.Name) && req.Name[n] != 0 {
		n++
	}
	if n == len(req.Name) {
		return nil, unix.EINVAL
	}
	name := string(req.Name[:n])
	for _, d := range m.devs {
		if d.devclass != "" && fmt.Sprintf("%s%d", d.devclass, d.unit) == name {
			return d, nil
		}
	}
	var dom, bus, slot, fn uint32
	if k, _ := fmt.Sscanf(name, "pci%d:%d:%d:%d", &dom, &bus, &slot, &fn); k != 4 {
		dom = 0
		if k, _ := fmt.Sscanf(name, "pci%d:%d:%d", &bus, &slot, &fn); k != 3 {
			return nil, unix.ENOENT
		}
	}
	for _, d := range m.devs {
		if d.sel == (host.Selector{Domain: dom, Bus: uint8(bus), Slot: uint8(slot), Function: uint8(fn)}) {
			return d, nil
		}
	}
	return nil, unix.ENOENT
}

// copyinstr reads the NUL-terminated string the kernel is pointed at.
func copyinstr(p unsafe.Pointer, max int) (string, error) {
	if p == nil {
		return "", unix.EFAULT
	}
	// Byte by byte, as the kernel does: the string ends where its
	// memory may end.
	var b []byte
	for i := range max {
		c := *(*byte)(unsafe.Add(p, i))
		if c == 0 {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", unix.ENAMETOOLONG
}

func (m *model) setDriver(req *devreq) error {
	d, err := m.lookup(req)
	if err != nil {
		return err
	}
	driver, err := copyinstr(req.Data, 128)
	if err != nil {
		return err
	}
	if driver == "" {
		return unix.EINVAL
	}
	if d.devclass == driver {
		return nil
	}
	if !m.drivers[driver] {
		return unix.ENOENT
	}
	if d.attached {
		if req.Flags&devfSetDriverDetach == 0 {
			return unix.EBUSY
		}
		if err := m.detach(d); err != nil {
			return err
		}
	}
	d.devclass, d.fixed = driver, true
	d.unit = m.allocUnit(d)
	if driver == pptDriver && d.bridge {
		return unix.ENXIO // ppt_probe: not a normal-header device
	}
	d.attached = true
	if d.reclaim {
		d.devclass, d.fixed = d.native, false
		d.unit = m.allocUnit(d)
	}
	return nil
}

func (m *model) clearDriver(req *devreq) error {
	d, err := m.lookup(req)
	if err != nil {
		return err
	}
	if !d.fixed {
		return nil
	}
	if d.attached {
		if req.Flags&devfClearDriverDetach == 0 {
			return unix.EBUSY
		}
		if err := m.detach(d); err != nil {
			return err
		}
	}
	d.fixed, d.devclass = false, ""
	m.probe(d)
	return nil
}

func (m *model) detach(d *modelDev) error {
	if d.detachBusy || (d.devclass == pptDriver && d.inVM) {
		return unix.EBUSY
	}
	d.attached = false
	if !d.fixed {
		d.devclass = ""
	}
	return nil
}

// probe attaches the native driver when it is loaded.
func (m *model) probe(d *modelDev) {
	if m.drivers[d.native] {
		d.devclass, d.attached = d.native, true
		d.unit = m.allocUnit(d)
	}
}

// allocUnit is devclass_alloc_unit: the lowest unit free in the class.
func (m *model) allocUnit(d *modelDev) uint64 {
	for unit := uint64(0); ; unit++ {
		taken := false
		for _, o := range m.devs {
			if o != d && o.devclass == d.devclass && o.unit == unit {
				taken = true
			}
		}
		if !taken {
			return unit
		}
	}
}
