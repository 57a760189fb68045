package abi

import (
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/internal/abitest"
)

func TestPCIValues(t *testing.T) {
	var cio PciConfIo
	var io PciIo
	var req Devreq
	abitest.Check(t, map[string]int64{
		"ioctl.PCIOCGETCONF_15":              PCIOCGETCONF,
		"ioctl.PCIOCGETCONF_14":              PCIOCGETCONF_FREEBSD14,
		"ioctl.PCIOCATTACHED":                PCIOCATTACHED,
		"__FreeBSD_version.PCIOCGETCONF":     PCIOCGETCONF_VERSION,
		"PCI_GETCONF_LAST_DEVICE":            PCI_GETCONF_LAST_DEVICE,
		"PCI_GETCONF_LIST_CHANGED":           PCI_GETCONF_LIST_CHANGED,
		"PCI_GETCONF_MORE_DEVS":              PCI_GETCONF_MORE_DEVS,
		"PCI_GETCONF_ERROR":                  PCI_GETCONF_ERROR,
		"PCI_MAXNAMELEN":                     PCI_MAXNAMELEN,
		"sizeof.pci_conf_io":                 int64(unsafe.Sizeof(cio)),
		"offsetof.pci_conf_io.pat_buf_len":   int64(unsafe.Offsetof(cio.Pat_buf_len)),
		"offsetof.pci_conf_io.num_patterns":  int64(unsafe.Offsetof(cio.Num_patterns)),
		"offsetof.pci_conf_io.patterns":      int64(unsafe.Offsetof(cio.Patterns)),
		"offsetof.pci_conf_io.match_buf_len": int64(unsafe.Offsetof(cio.Match_buf_len)),
		"offsetof.pci_conf_io.num_matches":   int64(unsafe.Offsetof(cio.Num_matches)),
		"offsetof.pci_conf_io.matches":       int64(unsafe.Offsetof(cio.Matches)),
		"offsetof.pci_conf_io.offset":        int64(unsafe.Offsetof(cio.Offset)),
		"offsetof.pci_conf_io.generation":    int64(unsafe.Offsetof(cio.Generation)),
		"offsetof.pci_conf_io.status":        int64(unsafe.Offsetof(cio.Status)),
		"sizeof.pci_conf_14":                 SizeofPciConf14,
		"sizeof.pci_conf":                    SizeofPciConf,
		"sizeof.pci_match_conf":              SizeofPcimatch,
		"offsetof.pcisel.pc_domain":          Pcisel_pc_domain,
		"offsetof.pcisel.pc_bus":             Pcisel_pc_bus,
		"offsetof.pcisel.pc_dev":             Pcisel_pc_dev,
		"offsetof.pcisel.pc_func":            Pcisel_pc_func,
		"offsetof.pci_conf_14.pc_sel":        PciConf_pc_sel,
		"offsetof.pci_conf_14.pc_hdr":        PciConf_pc_hdr,
		"offsetof.pci_conf_14.pc_vendor":     PciConf_pc_vendor,
		"offsetof.pci_conf_14.pc_device":     PciConf_pc_device,
		"offsetof.pci_conf_14.pc_class":      PciConf_pc_class,
		"offsetof.pci_conf_14.pc_subclass":   PciConf_pc_subclass,
		"offsetof.pci_conf_14.pd_name":       PciConf_pd_name,
		"offsetof.pci_conf_14.pd_unit":       PciConf_pd_unit,
		"offsetof.pci_conf.pc_sel":           PciConf_pc_sel,
		"offsetof.pci_conf.pc_vendor":        PciConf_pc_vendor,
		"offsetof.pci_conf.pc_device":        PciConf_pc_device,
		"offsetof.pci_conf.pc_class":         PciConf_pc_class,
		"offsetof.pci_conf.pc_subclass":      PciConf_pc_subclass,
		"offsetof.pci_conf.pd_name":          PciConf_pd_name,
		"offsetof.pci_conf.pd_unit":          PciConf_pd_unit,
		"offsetof.pci_conf.pd_numa_domain":   PciConf_pd_numa_domain,
		"offsetof.pci_conf.pc_reported_len":  PciConf_pc_reported_len,
		"offsetof.pci_conf.pc_secbus":        PciConf_pc_secbus,
		"offsetof.pci_conf.pc_subbus":        PciConf_pc_subbus,
		"offsetof.pci_conf.pc_spare":         PciConf_pc_spare,
		"sizeof.pci_io":                      int64(unsafe.Sizeof(io)),
		"offsetof.pci_io.pi_sel":             int64(unsafe.Offsetof(io.Sel_domain)),
		"offsetof.pci_io.pi_reg":             int64(unsafe.Offsetof(io.Reg)),
		"offsetof.pci_io.pi_width":           int64(unsafe.Offsetof(io.Width)),
		"offsetof.pci_io.pi_data":            int64(unsafe.Offsetof(io.Data)),
		"ioctl.DEV_DETACH":                   DEV_DETACH,
		"ioctl.DEV_SET_DRIVER":               DEV_SET_DRIVER,
		"ioctl.DEV_CLEAR_DRIVER":             DEV_CLEAR_DRIVER,
		"DEVF_FORCE_DETACH":                  DEVF_FORCE_DETACH,
		"DEVF_SET_DRIVER_DETACH":             DEVF_SET_DRIVER_DETACH,
		"DEVF_CLEAR_DRIVER_DETACH":           DEVF_CLEAR_DRIVER_DETACH,
		"sizeof.devreq":                      int64(unsafe.Sizeof(req)),
		"offsetof.devreq.dr_name":            int64(unsafe.Offsetof(req.Name)),
		"offsetof.devreq.dr_flags":           int64(unsafe.Offsetof(req.Flags)),
		"offsetof.devreq.dr_data":            int64(unsafe.Offsetof(req.Data)),
	})
	// The argument sizes are encoded in the requests.
	for name, c := range map[string]struct {
		req  uint32
		size uintptr
	}{
		"PCIOCGETCONF":           {PCIOCGETCONF, unsafe.Sizeof(cio)},
		"PCIOCGETCONF_FREEBSD14": {PCIOCGETCONF_FREEBSD14, unsafe.Sizeof(cio)},
		"PCIOCATTACHED":          {PCIOCATTACHED, unsafe.Sizeof(io)},
		"DEV_DETACH":             {DEV_DETACH, unsafe.Sizeof(req)},
		"DEV_SET_DRIVER":         {DEV_SET_DRIVER, unsafe.Sizeof(req)},
		"DEV_CLEAR_DRIVER":       {DEV_CLEAR_DRIVER, unsafe.Sizeof(req)},
	} {
		if got := uintptr(c.req>>16) & 0x1fff; got != c.size {
			t.Errorf("%s encodes %d bytes, its argument has %d", name, got, c.size)
		}
	}
}
