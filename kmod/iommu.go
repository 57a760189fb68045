package kmod

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wifibox/wifibox/host"
)

// IOMMU is what the kernel tells of the DMA remapping (IOMMU) that bhyve's
// PCI pass-through needs, as start and doctor both judge it.
type IOMMU struct {
	// Problem says why pass-through cannot work, and Fix what to do;
	// both "" when nothing tells it cannot.
	Problem, Fix string
	// Detail says what showed the IOMMU.
	Detail string
	// Err is why the kernel cannot tell (the ACPI tables cannot be read:
	// not root); nil when it can.
	Err error
}

// CheckIOMMU judges the IOMMU from what the kernel tells, before vmm is
// loaded and after. hw.vmm.iommu.enable cannot tell: it is a tunable that
// is 1 whatever the hardware (sys/amd64/vmm/io/iommu.c), and iommu_init,
// which finds the hardware, runs only at the first pass-through VM
// (iommu_create_domain from vmm.c vm_assign_pptdev, which then fails with
// ENXIO). So, in turn:
//   - hw.vmm.iommu.enable=0 (vmm loaded): iommu_init does nothing;
//   - hw.vmm.iommu.initialized=1: iommu_init succeeded, the IOMMU works;
//   - on AMD with vmm loaded: hw.vmm.amdvi.count, the AMD-Vi units that
//     ivrs_drv.c found in the ACPI IVRS table, must not be 0 (amdvi_init
//     fails with EIO), and hw.vmm.amdvi.enable must be 1 (EINVAL
//     otherwise; amdvi_hw.c);
//   - otherwise the ACPI tables: Intel's vtd_init (sys/amd64/vmm/intel/
//     vtd.c) fails with ENXIO without a DMAR table, AMD's units are
//     listed in the IVRS table.
//
// loaderConf is the file a tunable is set in, for the fixes.
func CheckIOMMU(k host.Kernel, loaderConf string) IOMMU {
	model, _ := k.SysctlString("hw.model")
	amd, intel := strings.Contains(model, "AMD"), strings.Contains(model, "Intel")
	enable, err := k.SysctlInt("hw.vmm.iommu.enable")
	loaded := err == nil
	if loaded && enable == 0 {
		return IOMMU{Problem: "hw.vmm.iommu.enable=0, so vmm uses no IOMMU",
			Fix: "remove hw.vmm.iommu.enable=0 from " + loaderConf + " (or loader.conf.d) and reboot"}
	}
	if v, err := k.SysctlInt("hw.vmm.iommu.initialized"); loaded && err == nil && v == 1 {
		return IOMMU{Detail: "hw.vmm.iommu.initialized=1: vmm uses the IOMMU"}
	}
	firmware := "enable the IOMMU (AMD-Vi, or VT-d: \"Intel Virtualization Technology for Directed I/O\") in the firmware settings and reboot"
	switch {
	case amd:
		firmware = "enable the IOMMU (AMD-Vi) in the firmware settings and reboot"
	case intel:
		firmware = "enable VT-d (\"Intel Virtualization Technology for Directed I/O\") in the firmware settings and reboot"
	}
	if count, err := k.SysctlInt("hw.vmm.amdvi.count"); loaded && amd && err == nil {
		if count == 0 {
			return IOMMU{Problem: "hw.vmm.amdvi.count=0: vmm found no AMD-Vi unit in the firmware's ACPI IVRS table", Fix: firmware}
		}
		if v, err := k.SysctlInt("hw.vmm.amdvi.enable"); err == nil && v != 1 {
			return IOMMU{Problem: fmt.Sprintf("hw.vmm.amdvi.enable=%d, so vmm does not use AMD-Vi", v),
				Fix: "add hw.vmm.amdvi.enable=1 to " + loaderConf + " and reboot"}
		}
		return IOMMU{Detail: fmt.Sprintf("hw.vmm.amdvi.count=%d, hw.vmm.amdvi.enable=1", count)}
	}
	tables, err := k.ACPITables()
	if err != nil {
		return IOMMU{Err: err}
	}
	want := []string{"DMAR", "IVRS"}
	switch {
	case amd:
		want = []string{"IVRS"}
	case intel:
		want = []string{"DMAR"}
	}
	for _, sig := range want {
		if slices.Contains(tables, sig) {
			return IOMMU{Detail: "the firmware's ACPI " + sig + " table lists the IOMMU"}
		}
	}
	return IOMMU{Problem: "the firmware reports no IOMMU (no ACPI " + strings.Join(want, " or ") +
		" table), so no device can be passed through", Fix: firmware}
}
