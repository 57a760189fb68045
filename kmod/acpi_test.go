package kmod

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// memory is physical memory for acpiTables: bytes by address.
type memory map[uint64][]byte

func (m memory) read(p []byte, addr uint64) error {
	b, ok := m[addr]
	if !ok || len(b) < len(p) {
		return errors.New("unmapped")
	}
	copy(p, b)
	return nil
}

func header(sig string, length int) []byte {
	h := make([]byte, 36)
	copy(h, sig)
	binary.LittleEndian.PutUint32(h[4:], uint32(length))
	return h
}

// TestACPITablesRSDT: an ACPI 1.0 RSDP (revision 0) leads to the RSDT and
// its 32-bit entries; a revision 2 one with an XSDT address to the XSDT.
func TestACPITablesRSDT(t *testing.T) {
	rsdp := make([]byte, 36)
	copy(rsdp, "RSD PTR ")
	binary.LittleEndian.PutUint32(rsdp[16:], 0x1000)
	rsdt := append(header("RSDT", 36+8), 0, 0x20, 0, 0, 0, 0x30, 0, 0)
	m := memory{0xe0000: rsdp, 0x1000: rsdt, 0x1000 + 36: rsdt[36:], 0x2000: []byte("FACP"), 0x3000: []byte("DMAR")}
	got, err := acpiTables(m.read, 0xe0000)
	if diff := cmp.Diff([]string{"FACP", "DMAR"}, got); err != nil || diff != "" {
		t.Errorf("tables (-want +got):\n%s%v", diff, err)
	}
	for _, c := range []struct {
		name string
		m    memory
		root uint64
		want string
	}{
		{"no RSDP", memory{0xe0000: make([]byte, 36)}, 0xe0000, "no RSDP"},
		{"no root", m, 0, "machdep.acpi_root is 0"},
		{"too many entries", memory{0xe0000: rsdp, 0x1000: header("RSDT", 36+4*1000)}, 0xe0000, "lists 1000 tables"},
	} {
		if _, err := acpiTables(c.m.read, c.root); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
