// Package ppt owns PCI pass-through: host.PCI over the system calls of
// sys.Sys (the device list through PCIOCGETCONF and PCIOCATTACHED on
// /dev/pci, and binding a device to a driver through DEV_SET_DRIVER and
// DEV_CLEAR_DRIVER on /dev/devctl2), which runs on FreeBSD over
// sys.Native() and in the simulator over sim's model of the kernel, and the
// logic that works over any host.PCI: checking that the devices bhyve.conf names are present,
// binding them to ppt(4) and releasing them with the causes of failures
// spelled out, and describing devices for the user with names from the PCI
// ID database.
package ppt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// pptDriver is vmm(4)'s pass-through driver.
const pptDriver = "ppt"

// SubclassNetworkOther is PCIS_NETWORK_OTHER (dev/pci/pcireg.h), the
// subclass of Wi-Fi cards (Ethernet cards are PCIS_NETWORK_ETHERNET, 0).
const SubclassNetworkOther = 0x80

// IsWiFi tells whether a device is a network controller of subclass
// "other", as Wi-Fi cards are.
func IsWiFi(d host.PCIDevice) bool {
	return d.Class == host.ClassNetwork && d.Subclass == SubclassNetworkOther
}

// ErrNotPresent is wrapped by the errors about configured devices the
// machine does not have.
var ErrNotPresent = errors.New("PCI device not present")

// Check makes sure every configured selector names a present device. The
// error lists every missing one, and the network controllers present with
// the form passthru in bhyve.conf takes, so one look fixes the setting.
// ids may be nil.
func Check(devs []host.PCIDevice, sels []host.Selector, ids *IDs) error {
	missing := absent(devs, sels)
	if missing == "" {
		return nil
	}
	var nets []string
	example := ""
	for _, d := range devs {
		if d.Class != host.ClassNetwork {
			continue
		}
		nets = append(nets, "\n  "+Line(d, ids))
		if example == "" && IsWiFi(d) {
			example = fmt.Sprintf("\nset passthru to the Wi-Fi card's bus/slot/function, e.g. passthru=%q", d.Selector.BSF())
		}
	}
	present := "\nno network controller is present"
	if len(nets) > 0 {
		present = "\nnetwork controllers present:" + strings.Join(nets, "") + example
	}
	return fmt.Errorf("check passthru devices in bhyve.conf: %w: %s%s", ErrNotPresent, missing, present)
}

// Describe gives one line per selector: the selector in both forms, the
// vendor and device IDs and names, and the attached driver.
func Describe(devs []host.PCIDevice, sels []host.Selector, ids *IDs) []string {
	lines := make([]string, 0, len(sels))
	for _, sel := range sels {
		d, ok := Find(devs, sel)
		if !ok {
			lines = append(lines, label(sel)+": not present")
			continue
		}
		lines = append(lines, Line(d, ids))
	}
	return lines
}

// Line describes one device:
// "pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver iwlwifi0".
func Line(d host.PCIDevice, ids *IDs) string {
	s := fmt.Sprintf("%s: %04x:%04x", label(d.Selector), d.Vendor, d.Device)
	vendor, device := ids.Name(d.Vendor, d.Device)
	for _, name := range []string{vendor, device} {
		if name != "" {
			s += " " + name
		}
	}
	driver := d.DriverUnit()
	switch {
	case driver != "":
	case d.Driver != "":
		driver = fmt.Sprintf("%s%d, not attached", d.Driver, d.Unit)
	default:
		driver = "none"
	}
	return s + ", driver " + driver
}

// label names a selector in the form of devctl(8) and of bhyve.conf.
func label(sel host.Selector) string {
	return fmt.Sprintf("%s (%s)", sel, sel.BSF())
}

// absent lists the selectors no device has, "" when all are present.
func absent(devs []host.PCIDevice, sels []host.Selector) string {
	var missing []string
	for _, sel := range sels {
		if _, ok := Find(devs, sel); !ok {
			missing = append(missing, label(sel))
		}
	}
	return strings.Join(missing, ", ")
}

// Find gives the device the selector names, if it is present.
func Find(devs []host.PCIDevice, sel host.Selector) (host.PCIDevice, bool) {
	for _, d := range devs {
		if d.Selector == sel {
			return d, true
		}
	}
	return host.PCIDevice{}, false
}

// OnPPT tells whether ppt is attached to the device, not only named its
// driver.
func OnPPT(d host.PCIDevice) bool { return d.Attached && d.Driver == pptDriver }

// Bound gives the selectors whose device is present and on ppt.
func Bound(devs []host.PCIDevice, sels []host.Selector) []host.Selector {
	var bound []host.Selector
	for _, sel := range sels {
		if d, ok := Find(devs, sel); ok && OnPPT(d) {
			bound = append(bound, sel)
		}
	}
	return bound
}

// Bind attaches each device to ppt, then reads the device list back to
// make sure ppt holds them all. On failure it releases the devices this call
// bound (not those that were on ppt already) and says what went wrong.
func Bind(p host.PCI, sels []host.Selector) error {
	before, err := p.Devices()
	if err != nil {
		return fmt.Errorf("bind PCI devices to ppt: %w", err)
	}
	if missing := absent(before, sels); missing != "" {
		return fmt.Errorf("bind PCI devices to ppt: %w: %s: check passthru in bhyve.conf", ErrNotPresent, missing)
	}

	var bound []host.Selector
	undo := func(err error) error {
		for i := len(bound) - 1; i >= 0; i-- {
			if uerr := p.ClearDriver(bound[i]); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo binding: %w", uerr))
			}
		}
		return err
	}
	for _, sel := range sels {
		d, _ := Find(before, sel)
		err := p.SetDriver(sel, pptDriver)
		if !OnPPT(d) && (err == nil || !unchanged(err)) {
			// A device ppt failed to probe or attach keeps ppt as
			// its fixed driver: it needs clearing too.
			bound = append(bound, sel)
		}
		if err != nil {
			return undo(withHint(err, bindHint(err, d)))
		}
	}

	after, err := p.Devices()
	if err != nil {
		return undo(fmt.Errorf("bind PCI devices to ppt: check the drivers: %w", err))
	}
	for _, sel := range sels {
		d, ok := Find(after, sel)
		switch {
		case !ok:
			return undo(fmt.Errorf("bind %s to ppt: the device disappeared", label(sel)))
		case OnPPT(d):
		case d.Attached:
			module := d.Driver
			if d.Class == host.ClassNetwork {
				module = NativeModule(d.Driver)
			}
			return undo(fmt.Errorf("bind %s to ppt: its native driver took it back (%s): "+
				"keep the driver from loading with devmatch_blocklist=%q in rc.conf, then kldunload %s",
				label(sel), d.DriverUnit(), module, module))
		case d.Driver == pptDriver:
			// DEV_SET_DRIVER answers 0 without probing a device
			// whose class is ppt already, as after a detach.
			return undo(fmt.Errorf("bind %s to ppt: ppt is the device's driver but is not attached to it "+
				"(detached, or its attach failed); wifibox has cleared it: start again", label(sel)))
		default:
			return undo(fmt.Errorf("bind %s to ppt: the device has no driver after setting ppt", label(sel)))
		}
	}
	return nil
}

// Release gives each device back to its native driver. It goes through all
// of them whatever fails, then makes sure ppt holds none of them.
func Release(p host.PCI, sels []host.Selector) error {
	var errs []error
	var cleared []host.Selector
	for _, sel := range sels {
		if err := p.ClearDriver(sel); err != nil {
			errs = append(errs, withHint(err, releaseHint(err)))
			continue
		}
		cleared = append(cleared, sel)
	}
	devs, err := p.Devices()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("release PCI devices from ppt: check the drivers: %w", err))...)
	}
	for _, sel := range cleared {
		if d, ok := Find(devs, sel); ok && OnPPT(d) {
			errs = append(errs, fmt.Errorf("release %s from ppt: still attached to %s", label(sel), d.DriverUnit()))
		}
	}
	return errors.Join(errs...)
}

// withHint adds what the user can do to an error.
func withHint(err error, hint string) error {
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

// unchanged tells whether a failed SetDriver left the device as it was:
// the kernel refuses these before it fixes the new driver (then it probes
// and attaches, and their errors leave the driver fixed).
func unchanged(err error) bool {
	for _, errno := range []error{unix.EPERM, unix.ENOENT, unix.EINVAL, unix.EBUSY} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// bindHint tells the likely cause of a failed SetDriver(sel, "ppt") of a
// device that is present.
func bindHint(err error, d host.PCIDevice) string {
	switch {
	case errors.Is(err, unix.ENOENT):
		return "the ppt driver does not exist: is vmm.ko loaded?"
	case errors.Is(err, unix.EBUSY):
		return fmt.Sprintf("the device is busy: its driver %s refused to detach", d.DriverUnit())
	case errors.Is(err, unix.ENXIO):
		return "ppt cannot take the device: it is not an endpoint device, or the IOMMU does not cover it"
	case errors.Is(err, unix.EPERM):
		return "wifibox must run as root"
	}
	return ""
}

// releaseHint tells the likely cause of a failed ClearDriver.
func releaseHint(err error) string {
	switch {
	case errors.Is(err, unix.EBUSY):
		return "ppt refused to let the device go: is a bhyve guest still using it?"
	case errors.Is(err, unix.EPERM):
		return "wifibox must run as root"
	}
	return ""
}

// NativeModule gives the kernel module (the .ko file's name, which
// devmatch(8) loads and devmatch_blocklist names) of a PCI network driver:
// if_ and the driver's name, with the PCI attachment's own module for the
// drivers that have one.
func NativeModule(driver string) string {
	switch driver {
	case "ath", "rtwn":
		return "if_" + driver + "_pci"
	}
	return "if_" + driver
}

// List gives the PCI devices and the names of their IDs from the database
// at idsPath. The names are a courtesy: a database that cannot be read
// gives none, not an error.
func List(p host.PCI, idsPath string) ([]host.PCIDevice, *IDs, error) {
	devs, err := p.Devices()
	if err != nil {
		return nil, nil, err
	}
	ids, err := LoadIDs(idsPath)
	if err != nil {
		ids = nil
	}
	return devs, ids, nil
}
