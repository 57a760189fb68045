package sim

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// wifiCard is the Intel Wi-Fi card, the device pci_device_missing removes.
var wifiCard = host.Selector{Bus: 3}

// device is a PCI device with its native driver and the one attached now.
type device struct {
	host.PCIDevice
	Native     string `json:"native"`
	NativeUnit uint64 `json:"native_unit"`
	Fixed      bool   `json:"fixed"` // a driver was set with SetDriver
}

func newDevice(sel host.Selector, vendor, dev uint16, class, subclass uint8, driver string) *device {
	return &device{
		PCIDevice: host.PCIDevice{
			Selector: sel, Vendor: vendor, Device: dev, Class: class, Subclass: subclass,
			Driver: driver, Attached: true,
		},
		Native: driver,
	}
}

// devices gives the devices on the bus, without the Wi-Fi card when the
// pci_device_missing fault is set.
func (t *txn) devices() []*device {
	return slices.DeleteFunc(slices.Clone(t.st.Devices), func(d *device) bool {
		return t.faults.pciDeviceMissing && d.Selector == wifiCard
	})
}

func (t *txn) device(sel host.Selector) *device {
	for _, d := range t.devices() {
		if d.Selector == sel {
			return d
		}
	}
	return nil
}

// pptDevices counts the devices attached to ppt.
func (t *txn) pptDevices() int {
	n := 0
	for _, d := range t.st.Devices {
		if d.Driver == "ppt" {
			n++
		}
	}
	return n
}

// Devices lists the PCI devices.
func (s *system) Devices() ([]host.PCIDevice, error) {
	var list []host.PCIDevice
	err := s.run("pciconf", query, func(t *txn) error {
		for _, d := range t.devices() {
			list = append(list, d.PCIDevice)
		}
		return nil
	})
	return list, err
}

// SetDriver attaches a device to a driver: ENOENT when the device or the
// driver does not exist (ppt exists while vmm is loaded), ENXIO when the
// driver does not take the device; the same driver again is a no-op.
func (s *system) SetDriver(sel host.Selector, driver string) error {
	return s.run(fmt.Sprintf("devctl_set_driver %s %s", sel, driver), privileged, func(t *txn) error {
		d := t.device(sel)
		if d == nil {
			return unix.ENOENT
		}
		if driver == "" {
			return unix.EINVAL
		}
		registered := driver == "ppt" && t.present("vmm")
		for _, other := range t.st.Devices {
			registered = registered || other.Native == driver
		}
		if !registered {
			return unix.ENOENT
		}
		if d.Driver == driver {
			return nil
		}
		switch driver {
		case "ppt":
			d.Unit = t.freePPTUnit()
		case d.Native:
			d.Unit = d.NativeUnit
		default:
			return unix.ENXIO
		}
		d.Driver, d.Attached, d.Fixed = driver, true, true
		return nil
	})
}

// freePPTUnit gives the lowest ppt unit no device has.
func (t *txn) freePPTUnit() uint64 {
	for unit := uint64(0); ; unit++ {
		if !slices.ContainsFunc(t.st.Devices, func(d *device) bool { return d.Driver == "ppt" && d.Unit == unit }) {
			return unit
		}
	}
}

// ClearDriver gives a device back to its native driver: ENOENT when the
// device does not exist, a no-op when no driver was set.
func (s *system) ClearDriver(sel host.Selector) error {
	return s.run("devctl_clear_driver "+sel.String(), privileged, func(t *txn) error {
		d := t.device(sel)
		if d == nil {
			return unix.ENOENT
		}
		if d.Fixed {
			d.Driver, d.Unit, d.Attached, d.Fixed = d.Native, d.NativeUnit, true, false
		}
		return nil
	})
}
