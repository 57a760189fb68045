package ppt

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// PCIOCGETCONF on /dev/pci (sys/sys/pciio.h). FreeBSD 15.0 grew struct
// pci_conf from 48 to 128 bytes and gave the request a new number; the old
// number is served on 15 only with options COMPAT_FREEBSD14.
const (
	pciocGetconf15 = 0xc030700a // _IOWR('p', 10, struct pci_conf_io), 15.0+
	pciocGetconf14 = 0xc0307005 // _IOWR('p', 5, struct pci_conf_io), 7.0-14.x
)

// enum pci_getconf_status.
const (
	pciGetconfLastDevice  = 0
	pciGetconfListChanged = 1
	pciGetconfMoreDevs    = 2
	pciGetconfError       = 3
)

// struct pci_conf_io, 48 bytes, the same on every release.
type pciConfIO struct {
	PatBufLen   uint32
	NumPatterns uint32
	Patterns    unsafe.Pointer // struct pci_match_conf *; unused (nil)
	MatchBufLen uint32
	NumMatches  uint32
	Matches     unsafe.Pointer // struct pci_conf *
	Offset      uint32
	Generation  uint32
	Status      uint32
	_           [4]byte
}

// struct pci_conf: the fields wifibox reads lie in the first 48 bytes,
// which the 48-byte (7.0-14.x) and the 128-byte (15.0+) layouts share.
const (
	sizeofPCIConf14 = 48
	sizeofPCIConf15 = 128

	pcselDomain = 0 // struct pcisel pc_sel at offset 0: uint32_t pc_domain
	pcselBus    = 4 // uint8_t pc_bus
	pcselDev    = 5 // uint8_t pc_dev (the slot)
	pcselFunc   = 6 // uint8_t pc_func

	confVendor   = 14 // uint16_t pc_vendor
	confDevice   = 16 // uint16_t pc_device
	confClass    = 18 // uint8_t pc_class
	confSubclass = 19 // uint8_t pc_subclass
	confName     = 22 // char pd_name[PCI_MAXNAMELEN + 1]
	confUnit     = 40 // u_long pd_unit

	pciMaxNameLen = 16
)

// getconfABI is one variant of PCIOCGETCONF: its request number and the
// size of each struct pci_conf it fills in.
type getconfABI struct {
	name      string
	req       uint32
	entrySize int
}

// The variants in the order they are tried.
var getconfABIs = []getconfABI{
	{"FreeBSD 15", pciocGetconf15, sizeofPCIConf15},
	{"FreeBSD 14", pciocGetconf14, sizeofPCIConf14},
}

// decodeConf reads one struct pci_conf (either size) as the kernel filled
// it in.
func decodeConf(b []byte) host.PCIDevice {
	ne := binary.NativeEndian
	name := b[confName : confName+pciMaxNameLen+1]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return host.PCIDevice{
		Selector: host.Selector{
			Domain:   ne.Uint32(b[pcselDomain:]),
			Bus:      b[pcselBus],
			Slot:     b[pcselDev],
			Function: b[pcselFunc],
		},
		Vendor:   ne.Uint16(b[confVendor:]),
		Device:   ne.Uint16(b[confDevice:]),
		Class:    b[confClass],
		Subclass: b[confSubclass],
		Driver:   string(name),
		Unit:     ne.Uint64(b[confUnit:]),
		Attached: len(name) > 0,
	}
}

// devctl(4) requests on /dev/devctl2 (sys/sys/bus.h), all
// _IOW('D', n, struct devreq).
const (
	devSetDriver   = 0x80984407
	devClearDriver = 0x80984408

	// DEVF_SET_DRIVER_DETACH and DEVF_CLEAR_DRIVER_DETACH: detach the
	// current driver first (devctl set/clear driver -f).
	devfSetDriverDetach   = 1
	devfClearDriverDetach = 1
)

// struct devreq, 152 bytes.
type devreq struct {
	Name  [128]byte // dr_name: "pciD:B:S:F" or a device name like "ppt0"
	Flags int32     // dr_flags
	_     [4]byte
	Data  unsafe.Pointer // dr_data (union dr_dru): DEV_SET_DRIVER's driver name
	_     [8]byte        // rest of the union (dr_buffer.length)
}

// newDevreq addresses a PCI function by its selector, what devctl(8) does
// for a device without a driver.
func newDevreq(sel host.Selector, flags int32) (*devreq, error) {
	name := sel.String()
	req := &devreq{Flags: flags}
	if len(name) >= len(req.Name) {
		return nil, fmt.Errorf("device name %q: %w", name, unix.EINVAL)
	}
	copy(req.Name[:], name)
	return req, nil
}
