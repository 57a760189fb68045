package ppt

import (
	"path/filepath"
	"testing"
)

func TestIDs(t *testing.T) {
	ids, err := LoadIDs("testdata/pci_vendors")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		vendor, device uint16
		wantV, wantD   string
	}{
		{0x8086, 0x2723, "Intel Corporation", "Wi-Fi 6 AX200"},
		{0x8086, 0x9a14, "Intel Corporation", "11th Gen Core Processor Host Bridge/DRAM Registers"},
		{0x10ec, 0x8168, "Realtek Semiconductor Co., Ltd.", "RTL8111/8168/8211/8411 PCI Express Gigabit Ethernet Controller"},
		// A subsystem line is not a device of its vendor.
		{0x10ec, 0x1043, "Realtek Semiconductor Co., Ltd.", ""},
		{0x8086, 0xa0b8, "Intel Corporation", ""},
		// The class list is not read as vendors and devices.
		{0xffff, 0x0280, "", ""},
		{0x1234, 0x5678, "", ""},
	} {
		v, d := ids.Name(tc.vendor, tc.device)
		if v != tc.wantV || d != tc.wantD {
			t.Errorf("Name(%04x, %04x) = %q, %q; want %q, %q", tc.vendor, tc.device, v, d, tc.wantV, tc.wantD)
		}
	}
}

func TestIDsMissingFile(t *testing.T) {
	ids, err := LoadIDs(filepath.Join(t.TempDir(), "pci_vendors"))
	if err != nil {
		t.Fatal(err)
	}
	if v, d := ids.Name(0x8086, 0x2723); v != "" || d != "" {
		t.Errorf("names %q, %q from no database", v, d)
	}
	var none *IDs
	if v, d := none.Name(0x8086, 0x2723); v != "" || d != "" {
		t.Errorf("names %q, %q from a nil database", v, d)
	}
}

func TestIDsUnreadable(t *testing.T) {
	if _, err := LoadIDs(t.TempDir()); err == nil {
		t.Error("a directory read as a PCI ID database")
	}
}
