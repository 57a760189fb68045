package ppt

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/abitest"
	"golang.org/x/sys/unix"
)

func TestABI(t *testing.T) {
	var cio pciConfIO
	var req devreq
	abitest.Check(t, map[string]int64{
		"ioctl.PCIOCGETCONF_15":    pciocGetconf15,
		"ioctl.PCIOCGETCONF_14":    pciocGetconf14,
		"PCI_GETCONF_LAST_DEVICE":  pciGetconfLastDevice,
		"PCI_GETCONF_LIST_CHANGED": pciGetconfListChanged,
		"PCI_GETCONF_MORE_DEVS":    pciGetconfMoreDevs,
		"PCI_GETCONF_ERROR":        pciGetconfError,
		"PCI_MAXNAMELEN":           pciMaxNameLen,

		"sizeof.pci_conf_io":                 int64(unsafe.Sizeof(cio)),
		"offsetof.pci_conf_io.pat_buf_len":   int64(unsafe.Offsetof(cio.PatBufLen)),
		"offsetof.pci_conf_io.num_patterns":  int64(unsafe.Offsetof(cio.NumPatterns)),
		"offsetof.pci_conf_io.patterns":      int64(unsafe.Offsetof(cio.Patterns)),
		"offsetof.pci_conf_io.match_buf_len": int64(unsafe.Offsetof(cio.MatchBufLen)),
		"offsetof.pci_conf_io.num_matches":   int64(unsafe.Offsetof(cio.NumMatches)),
		"offsetof.pci_conf_io.matches":       int64(unsafe.Offsetof(cio.Matches)),
		"offsetof.pci_conf_io.offset":        int64(unsafe.Offsetof(cio.Offset)),
		"offsetof.pci_conf_io.generation":    int64(unsafe.Offsetof(cio.Generation)),
		"offsetof.pci_conf_io.status":        int64(unsafe.Offsetof(cio.Status)),
		"sizeof.pci_conf_14":                 sizeofPCIConf14,
		"sizeof.pci_conf":                    sizeofPCIConf15,
		"offsetof.pci_conf_14.pc_sel":        pcselDomain,
		"offsetof.pcisel.pc_domain":          pcselDomain,
		"offsetof.pcisel.pc_bus":             pcselBus,
		"offsetof.pcisel.pc_dev":             pcselDev,
		"offsetof.pcisel.pc_func":            pcselFunc,
		"offsetof.pci_conf_14.pc_vendor":     confVendor,
		"offsetof.pci_conf_14.pc_device":     confDevice,
		"offsetof.pci_conf_14.pc_class":      confClass,
		"offsetof.pci_conf_14.pc_subclass":   confSubclass,
		"offsetof.pci_conf_14.pd_name":       confName,
		"offsetof.pci_conf_14.pd_unit":       confUnit,
		"offsetof.pci_conf.pc_sel":           pcselDomain,
		"offsetof.pci_conf.pc_vendor":        confVendor,
		"offsetof.pci_conf.pc_device":        confDevice,
		"offsetof.pci_conf.pc_class":         confClass,
		"offsetof.pci_conf.pc_subclass":      confSubclass,
		"offsetof.pci_conf.pd_name":          confName,
		"offsetof.pci_conf.pd_unit":          confUnit,
		"ioctl.DEV_SET_DRIVER":               devSetDriver,
		"ioctl.DEV_CLEAR_DRIVER":             devClearDriver,
		"DEVF_SET_DRIVER_DETACH":             devfSetDriverDetach,
		"DEVF_CLEAR_DRIVER_DETACH":           devfClearDriverDetach,
		"sizeof.devreq":                      int64(unsafe.Sizeof(req)),
		"offsetof.devreq.dr_name":            int64(unsafe.Offsetof(req.Name)),
		"offsetof.devreq.dr_flags":           int64(unsafe.Offsetof(req.Flags)),
		"offsetof.devreq.dr_data":            int64(unsafe.Offsetof(req.Data)),
		"errno.ENOENT":                       int64(unix.ENOENT),
		"errno.ENXIO":                        int64(unix.ENXIO),
		"errno.EBUSY":                        int64(unix.EBUSY),
		"errno.EINVAL":                       int64(unix.EINVAL),
		"errno.EPERM":                        int64(unix.EPERM),
		"errno.ENOTTY":                       int64(unix.ENOTTY),
	})
	// The ioctl argument sizes are encoded in the requests.
	for name, req := range map[string]uint32{"PCIOCGETCONF_15": pciocGetconf15, "PCIOCGETCONF_14": pciocGetconf14} {
		if got := uintptr(req>>16) & 0x1fff; got != unsafe.Sizeof(cio) {
			t.Errorf("%s encodes %d bytes, struct pci_conf_io has %d", name, got, unsafe.Sizeof(cio))
		}
	}
	for name, op := range map[string]uint32{"DEV_SET_DRIVER": devSetDriver, "DEV_CLEAR_DRIVER": devClearDriver} {
		if got := uintptr(op>>16) & 0x1fff; got != unsafe.Sizeof(req) {
			t.Errorf("%s encodes %d bytes, struct devreq has %d", name, got, unsafe.Sizeof(req))
		}
	}
}

// laptop is what newModel's kernel lists before anything changes.
var laptop = []host.PCIDevice{
	{Selector: host.Selector{Bus: 0, Slot: 0, Function: 0}, Vendor: 0x8086, Device: 0x9a14, Class: 0x06, Driver: "hostb", Attached: true},
	{Selector: host.Selector{Bus: 2, Slot: 0, Function: 0}, Vendor: 0x10ec, Device: 0x8168, Class: 0x02, Driver: "re", Attached: true},
	{Selector: host.Selector{Bus: 0, Slot: 28, Function: 0}, Vendor: 0x8086, Device: 0xa0b8, Class: 0x06, Subclass: 0x04, Driver: "pcib", Attached: true},
	{Selector: host.Selector{Bus: 3, Slot: 0, Function: 0}, Vendor: 0x8086, Device: 0x2723, Class: 0x02, Subclass: 0x80, Driver: "iwlwifi", Attached: true},
}

var wifi = host.Selector{Bus: 3}

func TestDevicesInPages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		serves  map[uint32]int
		perCall int
		want    []uint32 // PCIOCGETCONF requests the kernel answers
	}{
		{"15, one call", serves15, defaultPerCall, []uint32{pciocGetconf15}},
		{"15, pages of 3", serves15, 3, []uint32{pciocGetconf15, pciocGetconf15}},
		{"15, pages of 1", serves15, 1, []uint32{pciocGetconf15, pciocGetconf15, pciocGetconf15, pciocGetconf15}},
		{"15 without COMPAT_FREEBSD14", serves15Only, 2, []uint32{pciocGetconf15, pciocGetconf15}},
		{"14, pages of 2", serves14, 2, []uint32{pciocGetconf14, pciocGetconf14}},
		{"14, pages of 4", serves14, 4, []uint32{pciocGetconf14}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, tc.serves)
			m.dev(wifi).unit = 7
			m.devs[0].sel.Domain = 1
			want := append([]host.PCIDevice(nil), laptop...)
			want[3].Unit = 7
			want[0].Selector.Domain = 1
			got, err := (&kernel{sys: m, perCall: tc.perCall}).Devices()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, m.requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDevicesRemembersTheRequestThatWorked(t *testing.T) {
	m := newModel(t, serves14)
	k := &kernel{sys: m, perCall: 2}
	for range 2 {
		if _, err := k.Devices(); err != nil {
			t.Fatal(err)
		}
	}
	// The first listing tried the 15 request (ENOTTY, not counted by the
	// model) and then used the 14 one twice; the second went straight to 14.
	want := []uint32{pciocGetconf14, pciocGetconf14, pciocGetconf14, pciocGetconf14}
	if diff := cmp.Diff(want, m.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestDevicesNeitherRequest(t *testing.T) {
	m := newModel(t, map[uint32]int{})
	_, err := m.pci().Devices()
	if !errors.Is(err, unix.ENOTTY) {
		t.Fatalf("err = %v, want ENOTTY", err)
	}
	const want = "list PCI devices: /dev/pci answers neither the FreeBSD 15 nor the FreeBSD 14 PCIOCGETCONF: " +
		"inappropriate ioctl for device (a FreeBSD release newer than this wifibox?)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestDevicesRestartsWhenTheListChanges(t *testing.T) {
	m := newModel(t, serves15)
	usb := &modelDev{sel: host.Selector{Bus: 4}, vendor: 0x8086, device: 0x15e9, class: 0x0c, subclass: 0x03, native: "xhci"}
	m.drivers["xhci"] = true
	m.afterGetconf = func(call int) {
		if call == 1 {
			m.add(usb)
		}
	}
	got, err := (&kernel{sys: m, perCall: 3}).Devices()
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]host.PCIDevice(nil), laptop...),
		host.PCIDevice{Selector: usb.sel, Vendor: 0x8086, Device: 0x15e9, Class: 0x0c, Subclass: 0x03, Driver: "xhci", Attached: true})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	// Page one, LIST_CHANGED, then pages one and two again.
	if len(m.requests) != 4 {
		t.Errorf("%d PCIOCGETCONF calls, want 4", len(m.requests))
	}
}

func TestDevicesListNeverSettles(t *testing.T) {
	m := newModel(t, serves15)
	m.afterGetconf = func(int) { m.generation++ }
	_, err := (&kernel{sys: m, perCall: 1}).Devices()
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("err = %v, want EAGAIN", err)
	}
}

func TestDevicesEntriesLargerThanExpected(t *testing.T) {
	// A kernel whose struct pci_conf grew without a new request number.
	m := newModel(t, map[uint32]int{pciocGetconf15: 2 * sizeofPCIConf15})
	_, err := (&kernel{sys: m, perCall: 1}).Devices()
	if !errors.Is(err, unix.EOVERFLOW) {
		t.Fatalf("err = %v, want EOVERFLOW", err)
	}
}

func TestDevicesErrno(t *testing.T) {
	k := &kernel{sys: failingOpen{newModel(t, serves15)}, perCall: 1}
	_, err := k.Devices()
	if !errors.Is(err, unix.EACCES) || err.Error() != "list PCI devices: open /dev/pci: permission denied" {
		t.Errorf("err = %v", err)
	}
}

// failingOpen is a kernel where /dev/pci and /dev/devctl2 cannot be opened.
type failingOpen struct{ *model }

func (failingOpen) Open(string) (int, error) { return -1, unix.EACCES }

func TestSetDriver(t *testing.T) {
	m := newModel(t, serves15)
	p := m.pci()
	if err := p.SetDriver(wifi, "ppt"); err != nil {
		t.Fatal(err)
	}
	d := m.dev(wifi)
	if d.devclass != "ppt" || !d.attached || !d.fixed || d.unit != 0 {
		t.Errorf("after SetDriver: %+v, want attached ppt0 with a fixed class", d)
	}
	// Setting the driver it has is no change.
	if err := p.SetDriver(wifi, "ppt"); err != nil {
		t.Errorf("SetDriver again: %v", err)
	}
	devs, err := p.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Find(devs, wifi); got.DriverUnit() != "ppt0" {
		t.Errorf("listed as %q, want ppt0", got.DriverUnit())
	}

	if err := p.ClearDriver(wifi); err != nil {
		t.Fatal(err)
	}
	if d.devclass != "iwlwifi" || !d.attached || d.fixed {
		t.Errorf("after ClearDriver: %+v, want iwlwifi attached again", d)
	}
	// Clearing a device whose driver was never set is no change.
	if err := p.ClearDriver(wifi); err != nil {
		t.Errorf("ClearDriver again: %v", err)
	}
}

func TestSetDriverErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(m *model)
		sel    host.Selector
		driver string
		want   error
		text   string
	}{
		{"no ppt driver", func(m *model) { delete(m.drivers, "ppt") }, wifi, "ppt", unix.ENOENT,
			"set driver of pci0:3:0:0 to ppt: DEV_SET_DRIVER: no such file or directory"},
		{"no device", nil, host.Selector{Bus: 9}, "ppt", unix.ENOENT,
			"set driver of pci0:9:0:0 to ppt: DEV_SET_DRIVER: no such file or directory"},
		{"driver refuses to detach", func(m *model) { m.dev(wifi).detachBusy = true }, wifi, "ppt", unix.EBUSY,
			"set driver of pci0:3:0:0 to ppt: DEV_SET_DRIVER: device or resource busy"},
		{"bridge", nil, host.Selector{Slot: 28}, "ppt", unix.ENXIO,
			"set driver of pci0:0:28:0 to ppt: DEV_SET_DRIVER: no such device or address"},
		{"empty driver name", nil, wifi, "", unix.EINVAL,
			"set driver of pci0:3:0:0 to : DEV_SET_DRIVER: invalid argument"},
		{"NUL in driver name", nil, wifi, "p\x00pt", unix.EINVAL,
			"set driver of pci0:3:0:0 to \"p\\x00pt\": invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, serves15)
			if tc.setup != nil {
				tc.setup(m)
			}
			err := m.pci().SetDriver(tc.sel, tc.driver)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err.Error() != tc.text {
				t.Errorf("err = %q\nwant  %q", err, tc.text)
			}
		})
	}
}

func TestClearDriverOfDeviceInVM(t *testing.T) {
	m := newModel(t, serves15)
	p := m.pci()
	if err := p.SetDriver(wifi, "ppt"); err != nil {
		t.Fatal(err)
	}
	m.dev(wifi).inVM = true
	err := p.ClearDriver(wifi)
	if !errors.Is(err, unix.EBUSY) || err.Error() != "clear driver of pci0:3:0:0: DEV_CLEAR_DRIVER: device or resource busy" {
		t.Errorf("err = %v, want EBUSY", err)
	}
	if d := m.dev(wifi); d.devclass != "ppt" || !d.attached {
		t.Errorf("device %+v, want still on ppt", d)
	}
}
