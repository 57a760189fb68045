package sim

// The model of pci(4)'s /dev/pci and devctl(4)'s /dev/devctl2.
//
// Sources read:
//   - freebsd-src releng/15.0:sys/dev/pci/pci_user.c pci_open, pci_ioctl
//     (with COMPAT_FREEBSD14 and the 128-byte struct pci_conf), and
//     freebsd-src stable/14:sys/dev/pci/pci_user.c pci_open, pci_ioctl:
//     the read-only check before the switch, the PCIOCGETCONF walk and
//     PCIOCATTACHED are the same, with the 48-byte struct up to 14
//     (abi.PCIOCGETCONF_VERSION tells the releases apart).
//   - freebsd-src stable/14:sys/amd64/vmm/io/ppt.c ppt_probe (ENXIO for a
//     non-endpoint header), ppt_detach (EBUSY while assigned to a VM).
//   - freebsd-src stable/13, stable/14 and releng/15.0:
//     sys/kern/subr_bus.c devctl2_ioctl, find_device. They differ in one
//     answer: up to 14, DEV_CLEAR_DRIVER returns device_probe_and_attach()'s
//     result, ENXIO when no driver takes the device; 15 calls
//     device_probe() and turns its ENXIO into 0. The __FreeBSD_version of
//     that change was not found: the model answers as 15 from 1500000 on.
//   - freebsd-src stable/14:sys/dev/pci/pci.c pci_lookup: the "pciD:B:S:F"
//     and "pciB:S:F" names.
//
// Left out: PCIOCGETCONF's match patterns (wifibox passes none; they answer
// ENOSYS here), the other pci(4) and devctl(4) requests but DEV_DETACH, the
// PCI bridge header (no simulated device has one: ppt probes them all),
// file permissions (the model's caller is root: /dev/pci is 0644 and
// /dev/devctl2 0600 on 14, 0644 on 15; priv_check(PRIV_DRIVER) passes).
// pci_generation changes only with the one device that comes and goes
// (pciGeneration).

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/trace"
)

// wifiCard is the Intel Wi-Fi card, the device pci_device_missing and
// wifi_cards=0 remove and whose native driver native_driver_missing keeps
// out; secondCard the Atheros card that wifi_cards=2 adds.
var (
	wifiCard   = host.Selector{Bus: 3}
	secondCard = host.Selector{Bus: 4}
)

// device is a PCI function and its device_t: Driver is its devclass
// (device_get_name(), "" when it has none) with its unit, Attached its
// state (DS_ATTACHED), Fixed its DF_FIXEDCLASS flag (set by DEV_SET_DRIVER),
// and Native the driver that probes it when its class is free. The VM a
// device on ppt is assigned to keeps it (vm.PPT).
type device struct {
	host.PCIDevice
	Native string `json:"native"`
	Fixed  bool   `json:"fixed"`
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

// devices gives the devices on the bus (pci_devq): without the Intel
// Wi-Fi card when the pci_device_missing fault is set or wifi_cards is 0,
// with the Atheros card only when wifi_cards is 2.
func (t *txn) devices() []*device {
	return slices.DeleteFunc(slices.Clone(t.st.Devices), func(d *device) bool {
		switch d.Selector {
		case wifiCard:
			return t.faults.pciDeviceMissing || t.faults.wifiCards == 0
		case secondCard:
			return t.faults.wifiCards < 2
		}
		return false
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

// pptDevices counts the devices ppt is attached to.
func (t *txn) pptDevices() int {
	n := 0
	for _, d := range t.st.Devices {
		if d.Driver == "ppt" && d.Attached {
			n++
		}
	}
	return n
}

// pciGeneration is pci_generation, which changes as devices come and go:
// here only the Wi-Fi card, with pci_device_missing.
func (t *txn) pciGeneration() uint32 {
	if t.faults.pciDeviceMissing {
		return 2
	}
	return 1
}

const (
	pciDevice    = "/dev/pci"
	devctlDevice = "/dev/devctl2"
)

func init() {
	cdevs[pciDevice] = &cdev{
		open: pciOpen,
		ioctls: map[uint32]ioctl{
			abi.PCIOCGETCONF:           {query, pciIoctl(abi.PCIOCGETCONF)},
			abi.PCIOCGETCONF_FREEBSD14: {query, pciIoctl(abi.PCIOCGETCONF_FREEBSD14)},
			abi.PCIOCATTACHED:          {query, pciIoctl(abi.PCIOCATTACHED)},
		},
	}
	// devctl2 has no d_open: any open mode will do.
	cdevs[devctlDevice] = &cdev{
		ioctls: map[uint32]ioctl{
			abi.DEV_SET_DRIVER:   {changing, devctl2(trace.OpSetDriver, devSetDriver)},
			abi.DEV_CLEAR_DRIVER: {changing, devctl2(trace.OpClearDriver, devClearDriver)},
			abi.DEV_DETACH:       {changing, devctl2("devctl_detach", devDetach)},
		},
	}
}

// writable tells whether a descriptor has FWRITE.
func (f *file) writable() bool { return f.flags&unix.O_ACCMODE != unix.O_RDONLY }

// pciOpen is pci_open: opening for writing needs securelevel 0 or lower
// (securelevel_gt() answers EPERM).
func pciOpen(t *txn, flags int) error {
	if flags&unix.O_ACCMODE != unix.O_RDONLY && t.faults.securelevel > 0 {
		return abi.EPERM
	}
	return nil
}

// pciConfSize is pci_conf_size(): the size of struct pci_conf a request
// fills in on the running release, 0 for a request it does not know.
func pciConfSize(osreldate int, req uint32) int {
	v15 := osreldate >= abi.PCIOCGETCONF_VERSION
	switch {
	case req == abi.PCIOCGETCONF && v15:
		return abi.SizeofPciConf
	case req == abi.PCIOCGETCONF_FREEBSD14:
		// PCIOCGETCONF up to 14.x; PCIOCGETCONF_FREEBSD14 on 15,
		// with options COMPAT_FREEBSD14, which GENERIC carries for
		// the previous release (not confirmed from 15's GENERIC;
		// conformance tells).
		return abi.SizeofPciConf14
	}
	return 0
}

// pciIoctl is pci_ioctl for one request. A descriptor opened read-only
// gets EPERM, before the request is looked at, for every request but
// PCIOCGETCONF (each variant the release knows), PCIOCGETBAR and
// PCIOCLISTVPD; then a request the release does not know is ENOTTY.
func pciIoctl(req uint32) func(t *txn, f *file, arg unsafe.Pointer) error {
	return func(t *txn, f *file, arg unsafe.Pointer) error {
		confsz := pciConfSize(t.faults.osreldate, req)
		if !f.writable() && confsz == 0 {
			return abi.EPERM
		}
		switch {
		case req == abi.PCIOCATTACHED:
			return pciAttached(t, (*abi.PciIo)(arg))
		case confsz == 0:
			return abi.ENOTTY
		}
		return pciGetconf(t, (*abi.PciConfIo)(arg), confsz)
	}
}

// pciAttached is PCIOCATTACHED: pi_data is device_is_attached() of the
// function; ENODEV when there is none (pci_find_dbsf).
func pciAttached(t *txn, io *abi.PciIo) error {
	d := t.device(host.Selector{Domain: io.Sel_domain, Bus: io.Sel_bus, Slot: io.Sel_dev, Function: io.Sel_func})
	if d == nil {
		return abi.ENODEV
	}
	io.Data = 0
	if d.Attached {
		io.Data = 1
	}
	return nil
}

// pciGetconf is PCIOCGETCONF: it fills the caller's buffer with struct
// pci_conf entries of confsz bytes from cio.offset on, and says whether
// more are left, or that the list changed since the generation the caller
// read at a non-zero offset.
func pciGetconf(t *txn, cio *abi.PciConfIo, confsz int) error {
	devs := t.devices()
	numdevs := uint32(len(devs))
	cio.Num_matches = 0
	if cio.Offset != 0 && cio.Generation != t.pciGeneration() {
		cio.Status = abi.PCI_GETCONF_LIST_CHANGED
		return nil
	}
	if cio.Offset >= numdevs {
		cio.Status = abi.PCI_GETCONF_LAST_DEVICE
		return nil
	}
	iolen := min(cio.Match_buf_len-cio.Match_buf_len%uint32(confsz), numdevs*uint32(confsz))
	ionum := iolen / uint32(confsz)
	switch {
	case cio.Num_patterns > 0 && cio.Num_patterns < numdevs && cio.Pat_buf_len > 0:
		if cio.Num_patterns*abi.SizeofPcimatch != cio.Pat_buf_len {
			cio.Status = abi.PCI_GETCONF_ERROR
			return abi.EINVAL
		}
		return abi.ENOSYS // matching is not modelled
	case cio.Num_patterns > 0 || cio.Pat_buf_len > 0:
		cio.Status = abi.PCI_GETCONF_ERROR
		return abi.EINVAL
	}
	var err error
	i := uint32(0)
	for ; i < numdevs; i++ {
		if i < cio.Offset {
			continue
		}
		if cio.Num_matches >= ionum {
			break
		}
		if cio.Matches == nil {
			err = abi.EFAULT // copyout to NULL
			break
		}
		dst := unsafe.Slice((*byte)(unsafe.Add(cio.Matches, uintptr(confsz)*uintptr(cio.Num_matches))), confsz)
		copy(dst, pciConf(devs[i])[:confsz])
		cio.Num_matches++
	}
	cio.Offset = i
	cio.Generation = t.pciGeneration()
	cio.Status = abi.PCI_GETCONF_MORE_DEVS
	if i == numdevs {
		cio.Status = abi.PCI_GETCONF_LAST_DEVICE
	}
	return err
}

// pciConf gives the 128-byte struct pci_conf of a device, as the loop in
// pci_ioctl fills it: pd_name and pd_unit from its devclass (both zero
// without one), pc_reported_len = offsetof(struct pci_conf, pc_spare). The
// 48-byte struct is its beginning (pci_conf_for_copyout's memcpy for
// PCIOCGETCONF_FREEBSD14; the whole struct up to 14.x).
func pciConf(d *device) []byte {
	b := make([]byte, abi.SizeofPciConf)
	ne := binary.NativeEndian
	ne.PutUint32(b[abi.PciConf_pc_sel+abi.Pcisel_pc_domain:], d.Selector.Domain)
	b[abi.PciConf_pc_sel+abi.Pcisel_pc_bus] = d.Selector.Bus
	b[abi.PciConf_pc_sel+abi.Pcisel_pc_dev] = d.Selector.Slot
	b[abi.PciConf_pc_sel+abi.Pcisel_pc_func] = d.Selector.Function
	ne.PutUint16(b[abi.PciConf_pc_vendor:], d.Vendor)
	ne.PutUint16(b[abi.PciConf_pc_device:], d.Device)
	b[abi.PciConf_pc_class] = d.Class
	b[abi.PciConf_pc_subclass] = d.Subclass
	if d.Driver != "" {
		copy(b[abi.PciConf_pd_name:abi.PciConf_pd_name+abi.PCI_MAXNAMELEN], d.Driver)
		ne.PutUint64(b[abi.PciConf_pd_unit:], d.Unit)
	}
	ne.PutUint64(b[abi.PciConf_pc_reported_len:], abi.PciConf_pc_spare)
	return b
}

// devctl2 is devctl2_ioctl for one request: priv_check (the caller is
// root), find_device, then the request. The trace line is the request's
// name and the device's as the caller gave it.
func devctl2(name string, do func(t *txn, d *device, req *abi.Devreq) error) func(t *txn, f *file, arg unsafe.Pointer) error {
	return func(t *txn, f *file, arg unsafe.Pointer) error {
		req := (*abi.Devreq)(arg)
		t.line = name + " " + unix.ByteSliceToString(req.Name[:])
		d, err := findDevice(t, req)
		if err != nil {
			return err
		}
		return do(t, d, req)
	}
}

// findDevice is find_device: dr_name must hold a NUL (EINVAL); a device's
// name and unit ("ppt0") names it, or, through pci_lookup, its selector
// ("pci0:3:0:0" or "pci3:0:0"); ENOENT otherwise.
func findDevice(t *txn, req *abi.Devreq) (*device, error) {
	n := slices.Index(req.Name[:], 0)
	if n < 0 {
		return nil, abi.EINVAL
	}
	name := string(req.Name[:n])
	for _, d := range t.devices() {
		if d.Driver != "" && d.nameunit() == name {
			return d, nil
		}
	}
	if sel, ok := pciLookup(name); ok {
		if d := t.device(sel); d != nil {
			return d, nil
		}
	}
	return nil, abi.ENOENT
}

// nameunit is dev->nameunit: the class and unit, whether attached or not.
func (d *device) nameunit() string { return d.Driver + strconv.FormatUint(d.Unit, 10) }

// pciLookup parses pci_lookup's names: pciD:B:S:F, or pciB:S:F in domain 0.
func pciLookup(name string) (host.Selector, bool) {
	rest, ok := strings.CutPrefix(name, "pci")
	if !ok {
		return host.Selector{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) == 3 {
		parts = append([]string{"0"}, parts...)
	}
	if len(parts) != 4 {
		return host.Selector{}, false
	}
	var n [4]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil || (i > 0 && v > 255) {
			return host.Selector{}, false
		}
		n[i] = v
	}
	return host.Selector{Domain: uint32(n[0]), Bus: uint8(n[1]), Slot: uint8(n[2]), Function: uint8(n[3])}, true
}

// driverExists is driver_exists(): whether a driver of that name is
// registered on the PCI bus. ppt is while vmm is loaded; the native
// drivers of the simulated devices are, but the Wi-Fi card's with
// native_driver_missing.
func driverExists(t *txn, driver string) bool {
	if driver == "ppt" {
		return t.present("vmm")
	}
	for _, d := range t.st.Devices {
		if d.Native == driver && t.nativeAvailable(d) {
			return true
		}
	}
	return false
}

// nativeAvailable tells whether the device's native driver is in the
// kernel.
func (t *txn) nativeAvailable(d *device) bool {
	return !(t.faults.nativeDriverMissing && d.Selector == wifiCard)
}

// freeUnit is devclass_alloc_unit() without hints: the lowest unit of the
// class no device has.
func (t *txn) freeUnit(class string) uint64 {
	for unit := uint64(0); ; unit++ {
		if !slices.ContainsFunc(t.st.Devices, func(d *device) bool { return d.Driver == class && d.Unit == unit }) {
			return unit
		}
	}
}

// probeAndAttach is device_probe_and_attach() of a device not attached:
// with a fixed class only that driver bids (ppt takes any endpoint device,
// a native driver only its own device); without one the native driver
// does, if it is in the kernel. ENXIO when none attaches: the device keeps
// a fixed class, and has none otherwise.
func (t *txn) probeAndAttach(d *device) error {
	if d.Fixed {
		if d.Driver == "ppt" || d.Driver == d.Native && t.nativeAvailable(d) {
			d.Attached = true
			return nil
		}
		return abi.ENXIO
	}
	if !t.nativeAvailable(d) {
		d.Driver, d.Unit = "", 0
		return abi.ENXIO
	}
	d.Driver, d.Unit, d.Attached = d.Native, t.freeUnit(d.Native), true
	return nil
}

// detach is device_detach(): ppt refuses while its device is assigned to a
// VM (ppt_detach: EBUSY while ppt->vm is set); a device without
// a fixed class loses its class and unit.
func (t *txn) detach(d *device) error {
	if d.Driver == "ppt" && t.assigned(d.Selector) {
		return abi.EBUSY
	}
	d.Attached = false
	if !d.Fixed {
		d.Driver, d.Unit = "", 0
	}
	return nil
}

// devSetDriver is DEV_SET_DRIVER: the driver's name from dr_data (EFAULT
// for NULL, ENAMETOOLONG past 128 bytes), EINVAL when empty, 0 with no
// change when the device's class already is that driver (attached or
// not), ENOENT when no such driver is on the bus, EBUSY when attached
// without DEVF_SET_DRIVER_DETACH or when the driver refuses to detach;
// then the class is fixed to the driver with a new unit and the device
// probed and attached: that error (ENXIO) leaves the class fixed.
func devSetDriver(t *txn, d *device, req *abi.Devreq) error {
	driver, err := copyinstr(req.Data, 128)
	t.line += " " + driver
	switch {
	case err != nil:
		return err
	case driver == "":
		return abi.EINVAL
	case d.Driver == driver:
		return nil
	case !driverExists(t, driver):
		return abi.ENOENT
	}
	if d.Attached {
		if req.Flags&abi.DEVF_SET_DRIVER_DETACH == 0 {
			return abi.EBUSY
		}
		if err := t.detach(d); err != nil {
			return err
		}
	}
	// Any fixed class goes, and the device joins the driver's with a new
	// unit (devclass_delete_device, devclass_add_device).
	d.Driver, d.Unit = "", 0
	d.Driver, d.Unit, d.Fixed = driver, t.freeUnit(driver), true
	return t.probeAndAttach(d)
}

// devClearDriver is DEV_CLEAR_DRIVER: 0 when no class is fixed; EBUSY when
// attached without DEVF_CLEAR_DRIVER_DETACH or when the driver refuses to
// detach; then the class is freed and the device probed again: ENXIO when
// no driver attaches, up to 14.x, and 0 on 15.
func devClearDriver(t *txn, d *device, req *abi.Devreq) error {
	if !d.Fixed {
		return nil
	}
	if d.Attached {
		if req.Flags&abi.DEVF_CLEAR_DRIVER_DETACH == 0 {
			return abi.EBUSY
		}
		if err := t.detach(d); err != nil {
			return err
		}
	}
	d.Fixed = false
	d.Driver, d.Unit = "", 0
	err := t.probeAndAttach(d)
	if err == abi.ENXIO && t.faults.osreldate >= 1500000 {
		return nil
	}
	return err
}

// devDetach is DEV_DETACH: ENXIO when no driver is attached, otherwise
// device_detach() (device_quiesce() first without DEVF_FORCE_DETACH, which
// no simulated driver refuses). A fixed class stays: the device keeps its
// name, ppt0, unattached.
func devDetach(t *txn, d *device, req *abi.Devreq) error {
	if !d.Attached {
		return abi.ENXIO
	}
	return t.detach(d)
}

// assigned tells whether a VM has the device (ppt->vm is set).
func (t *txn) assigned(sel host.Selector) bool {
	for name := range t.st.VMs {
		if v := t.vm(name); v != nil && slices.Contains(v.PPT, sel) {
			return true
		}
	}
	return false
}

// copyinstr reads a NUL-terminated string of at most max bytes, NUL
// included, from the caller's memory: EFAULT for NULL, ENAMETOOLONG when
// there is no NUL within max bytes.
func copyinstr(p unsafe.Pointer, max int) (string, error) {
	if p == nil {
		return "", abi.EFAULT
	}
	var b []byte
	for i := range max {
		c := *(*byte)(unsafe.Add(p, i))
		if c == 0 {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", abi.ENAMETOOLONG
}
