package sim

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// The firmware's ACPI tables, as a program finds them the way acpidump(8)
// does (usr.sbin/acpi/acpidump/acpi_user.c acpi_find_rsd_ptr): the RSDP's
// physical address from machdep.acpi_root, then the RSDP, the XSDT and
// each table's header read from /dev/mem. Whether the machine has DMA
// remapping shows there: the DMAR table of Intel's VT-d (vtd.c vtd_init
// returns ENXIO without it) and the IVRS table of AMD-Vi (ivrs_drv.c
// finds its IVHD units there, amdvi_hw.c amdvi_init returns EIO without
// them). The iommu=none knob is a machine whose firmware has neither.

// Where the simulated firmware put its tables, in physical memory.
const (
	rsdpAddr = 0x000f0490
	xsdtAddr = 0x7ff00000
)

// acpiTables are the tables the XSDT lists, by signature, in order: FACP
// and APIC as every ACPI machine has, then the IOMMU's table of the CPU's
// vendor unless the machine has none.
func acpiTables(f faults) []string {
	tables := []string{"FACP", "APIC"}
	switch {
	case f.noIOMMU:
	case f.cpuVendor == "amd":
		tables = append(tables, "IVRS")
	default:
		tables = append(tables, "DMAR")
	}
	return tables
}

// physicalMemory gives the simulated firmware's ACPI structures by the
// physical address they start at: the RSDP (ACPI 2.0: signature,
// checksum, OEM id, revision 2, RSDT address, length, XSDT address), the
// XSDT (a 36-byte header, then the 64-bit addresses of the tables) and
// each table's 36-byte header.
func physicalMemory(f faults) map[int64][]byte {
	mem := map[int64][]byte{}
	rsdp := make([]byte, 36)
	copy(rsdp, "RSD PTR ")
	copy(rsdp[9:], "WIFIBX")
	rsdp[15] = 2
	binary.LittleEndian.PutUint32(rsdp[20:], 36)
	binary.LittleEndian.PutUint64(rsdp[24:], xsdtAddr)
	mem[rsdpAddr] = rsdp
	tables := acpiTables(f)
	xsdt := sdtHeader("XSDT", 36+8*len(tables))
	for i, sig := range tables {
		addr := int64(xsdtAddr + 0x1000*(i+1))
		xsdt = binary.LittleEndian.AppendUint64(xsdt, uint64(addr))
		mem[addr] = sdtHeader(sig, 36)
	}
	mem[xsdtAddr] = xsdt
	return mem
}

// sdtHeader is an ACPI table's header: signature, length, revision 1.
func sdtHeader(sig string, length int) []byte {
	h := make([]byte, 36)
	copy(h, sig)
	binary.LittleEndian.PutUint32(h[4:], uint32(length))
	h[8] = 1
	copy(h[10:], "WIFIBX")
	return h
}

func init() {
	// machdep.acpi_root: sys/x86/acpica/OsdEnvironment.c,
	// SYSCTL_ULONG(_machdep, OID_AUTO, acpi_root, CTLFLAG_RD, ...): the
	// RSDP's physical address, an unsigned long.
	sysctls["machdep.acpi_root"] = func(t *txn, _ []int) ([]byte, error) {
		return binary.LittleEndian.AppendUint64(nil, rsdpAddr), nil
	}
	// /dev/mem: sys/dev/mem/memdev.c memopen refuses FWRITE above
	// securelevel 0 (securelevel_gt; read in a 2012-era copy, 039ea811,
	// not in a 13.5 to 15.0 one); sys/amd64/amd64/mem.c memrw reads
	// physical memory. The model's memory holds the ACPI structures and
	// zeros elsewhere.
	cdevs["/dev/mem"] = &cdev{
		open: func(t *txn, flags int) error {
			if flags&unix.O_ACCMODE != unix.O_RDONLY && t.faults.securelevel > 0 {
				return abi.EPERM
			}
			return nil
		},
		pread: func(t *txn, p []byte, off int64) (int, error) {
			clear(p)
			for addr, b := range physicalMemory(t.faults) {
				lo, hi := max(addr, off), min(addr+int64(len(b)), off+int64(len(p)))
				if lo < hi {
					copy(p[lo-off:hi-off], b[lo-addr:hi-addr])
				}
			}
			return len(p), nil
		},
	}
}
