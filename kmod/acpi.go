package kmod

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ACPITables gives the signatures of the firmware's ACPI tables ("FACP",
// "DMAR", ...), found as acpidump(8) finds them
// (usr.sbin/acpi/acpidump/acpi_user.c acpi_find_rsd_ptr): the RSDP's
// physical address from machdep.acpi_root (sys/x86/acpica/
// OsdEnvironment.c), then the RSDP, the XSDT (or the RSDT before ACPI
// 2.0) and each table's header, read from /dev/mem, which root can read.
func (k *Kernel) ACPITables() ([]string, error) {
	root, err := k.SysctlInt("machdep.acpi_root")
	if err != nil {
		return nil, fmt.Errorf("find the ACPI tables: %w", err)
	}
	fd, err := k.sys.Open("/dev/mem", unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("find the ACPI tables: open /dev/mem: %w", err)
	}
	defer k.sys.Close(fd)
	read := func(p []byte, addr uint64) error {
		n, err := k.sys.Pread(fd, p, int64(addr))
		if err == nil && n < len(p) {
			err = errors.New("short read")
		}
		if err != nil {
			return fmt.Errorf("read /dev/mem at %#x: %w", addr, err)
		}
		return nil
	}
	tables, err := acpiTables(read, uint64(root))
	if err != nil {
		return nil, fmt.Errorf("find the ACPI tables: %w", err)
	}
	return tables, nil
}

// maxACPITables bounds the entries of the XSDT read: machines have a few
// dozen tables.
const maxACPITables = 256

// acpiTables walks the RSDP at rsdp and the XSDT or RSDT it points to,
// reading physical memory with read, and gives each listed table's
// signature (ACPI 6.5, sections 5.2.5 to 5.2.8: the RSDP's signature
// "RSD PTR ", revision at byte 15, RSDT address at 16, XSDT address at 24;
// a table's header: signature, then its length at byte 4, 36 bytes in
// all; the XSDT's entries are 64-bit addresses, the RSDT's 32-bit).
func acpiTables(read func(p []byte, addr uint64) error, rsdp uint64) ([]string, error) {
	if rsdp == 0 {
		return nil, errors.New("machdep.acpi_root is 0: the kernel found no ACPI tables")
	}
	r := make([]byte, 36)
	if err := read(r, rsdp); err != nil {
		return nil, err
	}
	if string(r[:8]) != "RSD PTR " {
		return nil, fmt.Errorf("no RSDP at %#x", rsdp)
	}
	table, entry := uint64(binary.LittleEndian.Uint32(r[16:])), 4
	if xsdt := binary.LittleEndian.Uint64(r[24:]); r[15] >= 2 && xsdt != 0 {
		table, entry = xsdt, 8
	}
	h := make([]byte, 36)
	if err := read(h, table); err != nil {
		return nil, err
	}
	n := (int(binary.LittleEndian.Uint32(h[4:])) - len(h)) / entry
	if n < 0 || n > maxACPITables {
		return nil, fmt.Errorf("the %.4s table at %#x lists %d tables", h[:4], table, n)
	}
	entries := make([]byte, n*entry)
	if err := read(entries, table+uint64(len(h))); err != nil {
		return nil, err
	}
	var sigs []string
	for i := 0; i < n; i++ {
		var addr uint64
		if entry == 8 {
			addr = binary.LittleEndian.Uint64(entries[i*8:])
		} else {
			addr = uint64(binary.LittleEndian.Uint32(entries[i*4:]))
		}
		sig := make([]byte, 4)
		if err := read(sig, addr); err != nil {
			return nil, err
		}
		sigs = append(sigs, string(sig))
	}
	return sigs, nil
}
