package ppt

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

var ethernet = host.Selector{Bus: 2}

func sampleIDs(t *testing.T) *IDs {
	t.Helper()
	ids, err := LoadIDs("testdata/pci_vendors")
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCheck(t *testing.T) {
	ids := sampleIDs(t)
	if err := Check(laptop, []host.Selector{wifi, ethernet}, ids); err != nil {
		t.Errorf("all present: %v", err)
	}
	if err := Check(laptop, nil, ids); err != nil {
		t.Errorf("none configured: %v", err)
	}

	err := Check(laptop, []host.Selector{{Bus: 9}, wifi}, ids)
	if !errors.Is(err, ErrNotPresent) {
		t.Fatalf("err = %v, want ErrNotPresent", err)
	}
	const want = `check passthru devices in bhyve.conf: PCI device not present: pci0:9:0:0 (9/0/0)
network controllers present:
  pci0:2:0:0 (2/0/0): 10ec:8168 Realtek Semiconductor Co., Ltd. RTL8111/8168/8211/8411 PCI Express Gigabit Ethernet Controller, driver re0
  pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver iwlwifi0
set passthru to the Wi-Fi card's bus/slot/function, e.g. passthru="3/0/0"`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestCheckWithoutNamesOrNetworkCards(t *testing.T) {
	err := Check(laptop[:1], []host.Selector{{Bus: 9}, wifi}, nil)
	const want = `check passthru devices in bhyve.conf: PCI device not present: pci0:9:0:0 (9/0/0), pci0:3:0:0 (3/0/0)
no network controller is present`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	unnamed := []host.PCIDevice{laptop[1]}
	unnamed[0].Attached = false
	err = Check(unnamed, []host.Selector{wifi}, nil)
	const want2 = `check passthru devices in bhyve.conf: PCI device not present: pci0:3:0:0 (3/0/0)
network controllers present:
  pci0:2:0:0 (2/0/0): 10ec:8168, driver none`
	if err == nil || err.Error() != want2 {
		t.Errorf("err = %v\nwant  %s", err, want2)
	}
}

func TestDescribe(t *testing.T) {
	devs := append([]host.PCIDevice(nil), laptop...)
	devs[3].Driver, devs[3].Unit = "ppt", 1
	got := Describe(devs, []host.Selector{wifi, {Bus: 9, Slot: 1, Function: 2}}, sampleIDs(t))
	want := []string{
		"pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver ppt1",
		"pci0:9:1:2 (9/1/2): not present",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// checkDrivers compares each device's driver, as the kernel lists it, with want.
func checkDrivers(t *testing.T, p host.PCI, sels []host.Selector, want ...string) {
	t.Helper()
	devs, err := p.Devices()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sel := range sels {
		d, _ := Find(devs, sel)
		got = append(got, d.DriverUnit())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drivers (-want +got):\n%s", diff)
	}
}

// bound gives the laptop with the devices bound to ppt.
func bound(t *testing.T, sels ...host.Selector) (*model, host.PCI) {
	t.Helper()
	m := newModel(t, serves15)
	p := m.pci()
	if err := Bind(p, sels); err != nil {
		t.Fatal(err)
	}
	return m, p
}

func TestBindAndRelease(t *testing.T) {
	sels := []host.Selector{wifi, ethernet}
	_, p := bound(t, sels...)
	checkDrivers(t, p, sels, "ppt0", "ppt1")
	if err := Release(p, sels); err != nil {
		t.Fatal(err)
	}
	checkDrivers(t, p, sels, "iwlwifi0", "re0")
}

func TestBindFailures(t *testing.T) {
	bridge := host.Selector{Slot: 28}
	for _, tc := range []struct {
		name  string
		setup func(m *model, p host.PCI)
		sels  []host.Selector
		errno error
		text  string
		after []string // drivers of sels afterwards
		// ignore makes SetDriver's ENOENT look like success, so that
		// what Bind finds afterwards decides.
		ignore bool
	}{
		{
			name:  "ppt refuses the second device",
			sels:  []host.Selector{wifi, bridge},
			errno: unix.ENXIO,
			text: "set driver of pci0:0:28:0 to ppt: DEV_SET_DRIVER: no such device or address " +
				"(ppt cannot take the device: it is not an endpoint device, or the IOMMU does not cover it)",
			after: []string{"iwlwifi0", "pcib0"},
		},
		{
			name:  "vmm not loaded",
			setup: func(m *model, _ host.PCI) { delete(m.drivers, "ppt") },
			sels:  []host.Selector{wifi},
			errno: unix.ENOENT,
			text: "set driver of pci0:3:0:0 to ppt: DEV_SET_DRIVER: no such file or directory " +
				"(the ppt driver does not exist: is vmm.ko loaded?)",
			after: []string{"iwlwifi0"},
		},
		{
			name: "busy device after one already on ppt",
			setup: func(m *model, p host.PCI) {
				if err := p.SetDriver(wifi, "ppt"); err != nil {
					t.Fatal(err)
				}
				m.dev(ethernet).detachBusy = true
			},
			sels:  []host.Selector{wifi, ethernet},
			errno: unix.EBUSY,
			text: "set driver of pci0:2:0:0 to ppt: DEV_SET_DRIVER: device or resource busy " +
				"(the device is busy: its driver re0 refused to detach)",
			after: []string{"ppt0", "re0"},
		},
		{
			name:  "native driver takes the card back",
			setup: func(m *model, _ host.PCI) { m.dev(wifi).reclaim = true },
			sels:  []host.Selector{ethernet, wifi},
			text: "bind pci0:3:0:0 (3/0/0) to ppt: its native driver took it back (iwlwifi0): " +
				`keep the driver from loading with devmatch_blocklist="if_iwlwifi" in rc.conf, then kldunload if_iwlwifi`,
			after: []string{"re0", "iwlwifi0"},
		},
		{
			name:  "not root",
			setup: func(m *model, _ host.PCI) { m.unprivileged = true },
			sels:  []host.Selector{wifi},
			errno: unix.EPERM,
			text: "set driver of pci0:3:0:0 to ppt: DEV_SET_DRIVER: operation not permitted " +
				"(wifibox must run as root)",
			after: []string{"iwlwifi0"},
		},
		{
			name: "no driver afterwards",
			setup: func(m *model, _ host.PCI) {
				d := m.dev(wifi)
				d.devclass, d.attached = "", false
				m.drivers = nil // SetDriver answers ENOENT, ignored below
			},
			sels:   []host.Selector{wifi},
			text:   "bind pci0:3:0:0 (3/0/0) to ppt: the device has no driver after setting ppt",
			after:  []string{""},
			ignore: true,
		},
		{
			name:  "device gone afterwards",
			setup: func(m *model, _ host.PCI) { m.drivers = nil; m.afterGetconf = func(int) { m.devs = m.devs[:3] } },
			sels:  []host.Selector{wifi},
			text: "bind pci0:3:0:0 (3/0/0) to ppt: the device disappeared\n" +
				"undo binding: clear driver of pci0:3:0:0: DEV_CLEAR_DRIVER: no such file or directory",
			after:  []string{""},
			ignore: true,
		},
		{
			name:  "device not present",
			sels:  []host.Selector{wifi, {Bus: 9}},
			errno: ErrNotPresent,
			text:  "bind PCI devices to ppt: PCI device not present: pci0:9:0:0 (9/0/0): check passthru in bhyve.conf",
			after: []string{"iwlwifi0", ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, serves15)
			p := m.pci()
			if tc.setup != nil {
				tc.setup(m, p)
			}
			if tc.ignore {
				p = ignoring{p}
			}
			err := Bind(p, tc.sels)
			if err == nil {
				t.Fatal("Bind succeeded")
			}
			if tc.errno != nil && !errors.Is(err, tc.errno) {
				t.Errorf("err = %v, want %v", err, tc.errno)
			}
			if err.Error() != tc.text {
				t.Errorf("err = %q\nwant  %q", err, tc.text)
			}
			checkDrivers(t, p, tc.sels, tc.after...)
		})
	}
}

// ignoring is a host where setting an unknown driver (ENOENT) seems to
// succeed.
type ignoring struct{ host.PCI }

func (p ignoring) SetDriver(sel host.Selector, driver string) error {
	if err := p.PCI.SetDriver(sel, driver); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

func TestBindCannotList(t *testing.T) {
	p := &kernel{sys: failingOpen{newModel(t, serves15)}, perCall: 1}
	err := Bind(p, []host.Selector{wifi})
	if !errors.Is(err, unix.EACCES) {
		t.Errorf("err = %v, want EACCES", err)
	}
}

func TestReleaseGoesThroughAll(t *testing.T) {
	sels := []host.Selector{wifi, ethernet}
	m, p := bound(t, sels...)
	m.dev(wifi).inVM = true
	err := Release(p, append(sels, host.Selector{Bus: 9}))
	if !errors.Is(err, unix.EBUSY) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("err = %v, want EBUSY and ENOENT", err)
	}
	const want = "clear driver of pci0:3:0:0: DEV_CLEAR_DRIVER: device or resource busy " +
		"(ppt refused to let the device go: is a bhyve guest still using it?)\n" +
		"clear driver of pci0:9:0:0: DEV_CLEAR_DRIVER: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	checkDrivers(t, p, sels, "ppt0", "re0")

	m.unprivileged = true
	err = Release(p, sels[1:])
	const want2 = "clear driver of pci0:2:0:0: DEV_CLEAR_DRIVER: operation not permitted (wifibox must run as root)"
	if err == nil || err.Error() != want2 {
		t.Errorf("err = %v\nwant  %s", err, want2)
	}
}

// stuck is a host where clearing a driver succeeds but changes nothing.
type stuck struct{ host.PCI }

func (stuck) ClearDriver(host.Selector) error { return nil }

func TestReleaseChecksTheDrivers(t *testing.T) {
	_, p := bound(t, wifi)
	err := Release(stuck{p}, []host.Selector{wifi})
	const want = "release pci0:3:0:0 (3/0/0) from ppt: still attached to ppt0"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
