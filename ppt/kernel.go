package ppt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// The device files.
const (
	pciDevice    = "/dev/pci"
	devctlDevice = "/dev/devctl2"
)

// kernel implements host.PCI over the system calls.
type kernel struct {
	sys sys.Sys
	// perCall is how many struct pci_conf one PCIOCGETCONF call may fill.
	perCall int

	mu sync.Mutex
	// order is the PCIOCGETCONF variants in the order to try them,
	// once chosen from kern.osreldate.
	order []getconfABI
}

var _ host.PCI = (*kernel)(nil)

// New gives the PCI devices of the kernel s answers for, through /dev/pci
// and /dev/devctl2: sys.Native() on FreeBSD, the model in the simulator.
func New(s sys.Sys) host.PCI { return &kernel{sys: s, perCall: defaultPerCall} }

// defaultPerCall lists a typical machine's PCI functions in one call or two.
const defaultPerCall = 64

// maxRestarts bounds how often listing starts over because the device list
// changed under it (hot plug, drivers attaching at boot).
const maxRestarts = 10

// getconfABI is one variant of PCIOCGETCONF: its request number and the
// size of each struct pci_conf it fills in.
type getconfABI struct {
	name      string
	req       uint32
	entrySize int
}

var (
	getconf15 = getconfABI{"FreeBSD 15", abi.PCIOCGETCONF, abi.SizeofPciConf}
	getconf14 = getconfABI{"FreeBSD 14", abi.PCIOCGETCONF_FREEBSD14, abi.SizeofPciConf14}
)

// getconfOrder gives the variants in the order to try them: the one of the
// running release (kern.osreldate) first. A release that lacks a request
// answers it with EPERM on a read-only descriptor (pci_ioctl refuses every
// request but PCIOCGETCONF, PCIOCGETBAR and PCIOCLISTVPD before it looks
// at it) and ENOTTY otherwise, so the other variant is tried on either.
func (k *kernel) getconfOrder() []getconfABI {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.order == nil {
		k.order = []getconfABI{getconf15, getconf14}
		if b, err := k.sys.Sysctl("kern.osreldate"); err == nil && len(b) == 4 &&
			binary.NativeEndian.Uint32(b) < abi.PCIOCGETCONF_VERSION {
			k.order = []getconfABI{getconf14, getconf15}
		}
	}
	return k.order
}

// Devices lists every PCI function (PCIOCGETCONF on /dev/pci), and whether
// ppt is attached to those it names (PCIOCATTACHED): pd_name is the
// device's class, which a driver fixed with DEV_SET_DRIVER keeps whether or
// not it attached, and after a detach. Any other name counts as attached:
// a class without a fixed driver goes with its driver (device_detach), and
// wifibox fixes no driver but ppt. /dev/pci is opened for writing, as bhyve
// does, because pci_ioctl answers PCIOCATTACHED only on such a descriptor;
// where that is refused (not root, or securelevel above 0), it is opened
// read-only, as pciconf(8) does, and ppt counts as attached too.
func (k *kernel) Devices() ([]host.PCIDevice, error) {
	fd, err := k.sys.Open(pciDevice, unix.O_RDWR)
	writable := err == nil
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		fd, err = k.sys.Open(pciDevice, unix.O_RDONLY)
	}
	if err != nil {
		return nil, fmt.Errorf("list PCI devices: open %s: %w", pciDevice, err)
	}
	defer k.sys.Close(fd)

	devs, err := k.listAny(fd)
	if err != nil || !writable {
		return devs, err
	}
	for i := range devs {
		if devs[i].Driver != pptDriver {
			continue
		}
		if devs[i].Attached, err = k.attached(fd, devs[i].Selector); err != nil {
			return nil, fmt.Errorf("list PCI devices: PCIOCATTACHED %s: %w", devs[i].Selector, err)
		}
	}
	return devs, nil
}

// listAny lists with the variant of the running release, or the other one
// if the kernel does not know that one.
func (k *kernel) listAny(fd int) ([]host.PCIDevice, error) {
	order := k.getconfOrder()
	var first error
	for i, v := range order {
		devs, err := k.list(fd, v)
		if err == nil {
			if i > 0 {
				// Guessed wrong: the one that answered goes first.
				k.mu.Lock()
				k.order = []getconfABI{v, order[0]}
				k.mu.Unlock()
			}
			return devs, nil
		}
		if !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EPERM) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("%w (%s answers neither the FreeBSD 15 nor the FreeBSD 14 PCIOCGETCONF: "+
		"a FreeBSD release newer than this wifibox?)", first, pciDevice)
}

// list walks the device list with one PCIOCGETCONF variant, a buffer of
// entries at a time, and starts over when the kernel says the list changed.
func (k *kernel) list(fd int, v getconfABI) ([]host.PCIDevice, error) {
	buf := make([]byte, k.perCall*v.entrySize)
	var devs []host.PCIDevice
	cio := &abi.PciConfIo{
		Match_buf_len: uint32(len(buf)),
		Matches:       unsafe.Pointer(&buf[0]),
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	restarts := 0
	for {
		cio.Num_matches = 0
		if err := k.sys.Ioctl(fd, v.req, unsafe.Pointer(cio)); err != nil {
			return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s, %#x): %w", v.name, v.req, err)
		}
		switch cio.Status {
		case abi.PCI_GETCONF_LIST_CHANGED:
			restarts++
			if restarts > maxRestarts {
				return nil, fmt.Errorf("list PCI devices: the device list changed %d times while it was read: %w",
					restarts, unix.EAGAIN)
			}
			devs = devs[:0]
			cio.Offset, cio.Generation = 0, 0
			continue
		case abi.PCI_GETCONF_LAST_DEVICE, abi.PCI_GETCONF_MORE_DEVS:
			for i := range int(cio.Num_matches) {
				d, err := decodeConf(buf[i*v.entrySize : (i+1)*v.entrySize])
				if err != nil {
					return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s): entry %d: %w", v.name, len(devs), err)
				}
				devs = append(devs, d)
			}
			if cio.Status == abi.PCI_GETCONF_LAST_DEVICE {
				return devs, nil
			}
			if cio.Num_matches == 0 {
				// The kernel's entries are larger than this
				// variant's: not one fits the buffer.
				return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s): no entry fits a buffer of %d bytes "+
					"(struct pci_conf larger than %d bytes?): %w", v.name, len(buf), v.entrySize, unix.EOVERFLOW)
			}
		default:
			return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s): status %d: %w", v.name, cio.Status, unix.EIO)
		}
	}
}

// decodeConf reads one struct pci_conf (either size) as the kernel filled
// it in. A 128-byte entry carries its own length of valid data
// (pc_reported_len): one outside the 15.0 layout means this wifibox reads
// the entries at the wrong stride, and is an error, not garbage.
func decodeConf(b []byte) (host.PCIDevice, error) {
	ne := binary.NativeEndian
	if len(b) == abi.SizeofPciConf {
		n := ne.Uint64(b[abi.PciConf_pc_reported_len:])
		if n < abi.PciConf_pc_reported_len+8 || n > abi.SizeofPciConf {
			return host.PCIDevice{}, fmt.Errorf("pc_reported_len %d is not within %d..%d bytes "+
				"(struct pci_conf is not the one of FreeBSD 15.0): %w",
				n, abi.PciConf_pc_reported_len+8, abi.SizeofPciConf, unix.EPROTO)
		}
	}
	name := unix.ByteSliceToString(b[abi.PciConf_pd_name : abi.PciConf_pd_name+abi.PCI_MAXNAMELEN+1])
	return host.PCIDevice{
		Selector: host.Selector{
			Domain:   ne.Uint32(b[abi.PciConf_pc_sel+abi.Pcisel_pc_domain:]),
			Bus:      b[abi.PciConf_pc_sel+abi.Pcisel_pc_bus],
			Slot:     b[abi.PciConf_pc_sel+abi.Pcisel_pc_dev],
			Function: b[abi.PciConf_pc_sel+abi.Pcisel_pc_func],
		},
		Vendor:   ne.Uint16(b[abi.PciConf_pc_vendor:]),
		Device:   ne.Uint16(b[abi.PciConf_pc_device:]),
		Class:    b[abi.PciConf_pc_class],
		Subclass: b[abi.PciConf_pc_subclass],
		Driver:   name,
		Unit:     ne.Uint64(b[abi.PciConf_pd_unit:]),
		Attached: name != "",
	}, nil
}

// attached tells whether a driver is attached to the device
// (PCIOCATTACHED: device_is_attached()).
func (k *kernel) attached(fd int, sel host.Selector) (bool, error) {
	io := &abi.PciIo{Sel_domain: sel.Domain, Sel_bus: sel.Bus, Sel_dev: sel.Slot, Sel_func: sel.Function}
	if err := k.sys.Ioctl(fd, abi.PCIOCATTACHED, unsafe.Pointer(io)); err != nil {
		return false, err
	}
	return io.Data != 0, nil
}

// SetDriver detaches the device from its driver and attaches it to the
// named one (DEV_SET_DRIVER with DEVF_SET_DRIVER_DETACH, devctl set driver -f).
// The kernel answers 0 without probing when the device's class already is
// that driver, attached or not: Devices tells which.
func (k *kernel) SetDriver(sel host.Selector, driver string) error {
	name, err := unix.ByteSliceFromString(driver)
	if err != nil {
		return fmt.Errorf("set driver of %s to %q: %w", sel, driver, unix.EINVAL)
	}
	req, err := newDevreq(sel, abi.DEVF_SET_DRIVER_DETACH)
	if err != nil {
		return fmt.Errorf("set driver of %s to %s: %w", sel, driver, err)
	}
	req.Data = unsafe.Pointer(&name[0])
	var pin runtime.Pinner
	pin.Pin(&name[0])
	defer pin.Unpin()
	if err := k.devctl(abi.DEV_SET_DRIVER, req); err != nil {
		return fmt.Errorf("set driver of %s to %s: DEV_SET_DRIVER: %w", sel, driver, err)
	}
	return nil
}

// ClearDriver undoes SetDriver and lets the native driver probe the device
// again (DEV_CLEAR_DRIVER with DEVF_CLEAR_DRIVER_DETACH). Up to 14.x the
// kernel then answers what device_probe_and_attach() does: ENXIO when no
// driver takes the device, the usual case once the native driver is kept
// from loading (devmatch_blocklist), as wifibox advises. The device is
// released all the same, so that is no error; the listing tells.
func (k *kernel) ClearDriver(sel host.Selector) error {
	req, err := newDevreq(sel, abi.DEVF_CLEAR_DRIVER_DETACH)
	if err != nil {
		return fmt.Errorf("clear driver of %s: %w", sel, err)
	}
	err = k.devctl(abi.DEV_CLEAR_DRIVER, req)
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("clear driver of %s: DEV_CLEAR_DRIVER: %w", sel, err)
	}
	return nil
}

// newDevreq addresses a PCI function by its selector, what devctl(8) does
// for a device without a driver.
func newDevreq(sel host.Selector, flags int32) (*abi.Devreq, error) {
	name := sel.String()
	req := &abi.Devreq{Flags: flags}
	if len(name) >= len(req.Name) {
		return nil, fmt.Errorf("device name %q: %w", name, unix.EINVAL)
	}
	copy(req.Name[:], name)
	return req, nil
}

// devctl performs one request on /dev/devctl2, opened read-only as
// devctl(8) does: the device checks privilege, not the open mode.
func (k *kernel) devctl(op uint32, req *abi.Devreq) error {
	fd, err := k.sys.Open(devctlDevice, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open %s: %w", devctlDevice, err)
	}
	defer k.sys.Close(fd)
	return k.sys.Ioctl(fd, op, unsafe.Pointer(req))
}
