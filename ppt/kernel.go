package ppt

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// The device files, both opened read-only as pciconf(8) and devctl(8) do.
const (
	pciDevice    = "/dev/pci"
	devctlDevice = "/dev/devctl2"
)

// sys is the seam to the kernel: open, close and ioctl(2). The FreeBSD
// implementation makes the system calls; tests replace it with a model of
// the kernel's pci(4) and devctl code.
type sys interface {
	// Open opens a device file read-only.
	Open(path string) (int, error)
	Close(fd int) error
	// Ioctl performs ioctl(2). arg points to the request's argument,
	// which may hold pointers to further memory the kernel reads or
	// fills in; the caller keeps all of it alive and in place.
	Ioctl(fd int, req uint32, arg unsafe.Pointer) error
}

// kernel implements host.PCI over a sys.
type kernel struct {
	sys sys
	// perCall is how many struct pci_conf one PCIOCGETCONF call may fill.
	perCall int

	mu sync.Mutex
	// abi is the PCIOCGETCONF variant the kernel answered, once known.
	abi *getconfABI
}

var _ host.PCI = (*kernel)(nil)

// defaultPerCall lists a typical machine's PCI functions in one call or two.
const defaultPerCall = 64

// maxRestarts bounds how often listing starts over because the device list
// changed under it (hot plug, drivers attaching at boot).
const maxRestarts = 10

// Devices lists every PCI function (PCIOCGETCONF on /dev/pci).
func (k *kernel) Devices() ([]host.PCIDevice, error) {
	fd, err := k.sys.Open(pciDevice)
	if err != nil {
		return nil, fmt.Errorf("list PCI devices: open %s: %w", pciDevice, err)
	}
	defer k.sys.Close(fd)

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.abi != nil {
		return k.list(fd, *k.abi)
	}
	for i := range getconfABIs {
		abi := &getconfABIs[i]
		devs, err := k.list(fd, *abi)
		if errors.Is(err, unix.ENOTTY) {
			continue
		}
		if err == nil {
			k.abi = abi
		}
		return devs, err
	}
	return nil, fmt.Errorf("list PCI devices: %s answers neither the FreeBSD 15 nor the FreeBSD 14 PCIOCGETCONF: %w "+
		"(a FreeBSD release newer than this wifibox?)", pciDevice, unix.ENOTTY)
}

// list walks the device list with one PCIOCGETCONF variant, a buffer of
// entries at a time, and starts over when the kernel says the list changed.
func (k *kernel) list(fd int, abi getconfABI) ([]host.PCIDevice, error) {
	buf := make([]byte, k.perCall*abi.entrySize)
	var devs []host.PCIDevice
	cio := &pciConfIO{
		MatchBufLen: uint32(len(buf)),
		Matches:     unsafe.Pointer(&buf[0]),
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	restarts := 0
	for {
		cio.NumMatches = 0
		if err := k.sys.Ioctl(fd, abi.req, unsafe.Pointer(cio)); err != nil {
			return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s, %#x): %w", abi.name, abi.req, err)
		}
		switch cio.Status {
		case pciGetconfListChanged:
			restarts++
			if restarts > maxRestarts {
				return nil, fmt.Errorf("list PCI devices: the device list changed %d times while it was read: %w",
					restarts, unix.EAGAIN)
			}
			devs = devs[:0]
			cio.Offset, cio.Generation = 0, 0
			continue
		case pciGetconfLastDevice, pciGetconfMoreDevs:
			for i := range int(cio.NumMatches) {
				devs = append(devs, decodeConf(buf[i*abi.entrySize:(i+1)*abi.entrySize]))
			}
			if cio.Status == pciGetconfLastDevice {
				return devs, nil
			}
			if cio.NumMatches == 0 {
				// The kernel's entries are larger than this
				// variant's: not one fits the buffer.
				return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s): no entry fits a buffer of %d bytes "+
					"(struct pci_conf larger than %d bytes?): %w", abi.name, len(buf), abi.entrySize, unix.EOVERFLOW)
			}
		default:
			return nil, fmt.Errorf("list PCI devices: PCIOCGETCONF (%s): status %d: %w", abi.name, cio.Status, unix.EIO)
		}
	}
}

// SetDriver detaches the device from its driver and attaches it to the
// named one (DEV_SET_DRIVER with DEVF_SET_DRIVER_DETACH, devctl set driver -f).
func (k *kernel) SetDriver(sel host.Selector, driver string) error {
	name, err := unix.ByteSliceFromString(driver)
	if err != nil {
		return fmt.Errorf("set driver of %s to %q: %w", sel, driver, unix.EINVAL)
	}
	req, err := newDevreq(sel, devfSetDriverDetach)
	if err != nil {
		return fmt.Errorf("set driver of %s to %s: %w", sel, driver, err)
	}
	req.Data = unsafe.Pointer(&name[0])
	var pin runtime.Pinner
	pin.Pin(&name[0])
	defer pin.Unpin()
	if err := k.devctl(devSetDriver, req); err != nil {
		return fmt.Errorf("set driver of %s to %s: DEV_SET_DRIVER: %w", sel, driver, err)
	}
	return nil
}

// ClearDriver undoes SetDriver and lets the native driver probe the device
// again (DEV_CLEAR_DRIVER with DEVF_CLEAR_DRIVER_DETACH).
func (k *kernel) ClearDriver(sel host.Selector) error {
	req, err := newDevreq(sel, devfClearDriverDetach)
	if err != nil {
		return fmt.Errorf("clear driver of %s: %w", sel, err)
	}
	if err := k.devctl(devClearDriver, req); err != nil {
		return fmt.Errorf("clear driver of %s: DEV_CLEAR_DRIVER: %w", sel, err)
	}
	return nil
}

// devctl performs one request on /dev/devctl2.
func (k *kernel) devctl(op uint32, req *devreq) error {
	fd, err := k.sys.Open(devctlDevice)
	if err != nil {
		return fmt.Errorf("open %s: %w", devctlDevice, err)
	}
	defer k.sys.Close(fd)
	return k.sys.Ioctl(fd, op, unsafe.Pointer(req))
}
