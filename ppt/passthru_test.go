package ppt

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
)

// laptop is a machine's device list, as Check and Describe take it.
var laptop = []host.PCIDevice{
	{Selector: host.Selector{Bus: 0, Slot: 0, Function: 0}, Vendor: 0x8086, Device: 0x9a14, Class: 0x06, Driver: "hostb", Attached: true},
	{Selector: host.Selector{Bus: 2, Slot: 0, Function: 0}, Vendor: 0x10ec, Device: 0x8168, Class: 0x02, Driver: "re", Attached: true},
	{Selector: host.Selector{Bus: 0, Slot: 28, Function: 0}, Vendor: 0x8086, Device: 0xa0b8, Class: 0x06, Subclass: 0x04, Driver: "pcib", Attached: true},
	{Selector: host.Selector{Bus: 3, Slot: 0, Function: 0}, Vendor: 0x8086, Device: 0x2723, Class: 0x02, Subclass: 0x80, Driver: "iwlwifi", Attached: true},
}

var (
	wifi     = host.Selector{Bus: 3}
	ethernet = host.Selector{Bus: 2}
)

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
	unnamed[0].Driver, unnamed[0].Attached = "", false
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
	devs[1].Driver, devs[1].Unit, devs[1].Attached = "ppt", 0, false
	got := Describe(devs, []host.Selector{wifi, ethernet, {Bus: 9, Slot: 1, Function: 2}}, sampleIDs(t))
	want := []string{
		"pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver ppt1",
		"pci0:2:0:0 (2/0/0): 10ec:8168 Realtek Semiconductor Co., Ltd. RTL8111/8168/8211/8411 PCI Express Gigabit Ethernet Controller, driver ppt0, not attached",
		"pci0:9:1:2 (9/1/2): not present",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestBound(t *testing.T) {
	card, missing := host.Selector{Bus: 3}, host.Selector{Bus: 9}
	devs := []host.PCIDevice{
		{Selector: host.Selector{Bus: 2}, Driver: "em", Attached: true},
		{Selector: card, Driver: "ppt", Attached: true},
	}
	if diff := cmp.Diff([]host.Selector{card}, Bound(devs, []host.Selector{{Bus: 2}, card, missing})); diff != "" {
		t.Errorf("Bound (-want +got):\n%s", diff)
	}
	if got := Bound(devs, []host.Selector{{Bus: 2}}); got != nil {
		t.Errorf("Bound of a device on em = %v", got)
	}
}
