package abi

import "unsafe"

// pci(4)'s /dev/pci (sys/sys/pciio.h, sys/dev/pci/pci_user.c) and devctl(4)'s
// /dev/devctl2 (sys/sys/bus.h, sys/kern/subr_bus.c).

// PCIOCGETCONF lists the PCI functions. FreeBSD 15.0 grew struct pci_conf
// from 48 to 128 bytes and gave the request a new number; the old number
// became PCIOCGETCONF_FREEBSD14 (pci_user.c), served only with options
// COMPAT_FREEBSD14 (usual in GENERIC; not confirmed from 15's GENERIC).
const (
	PCIOCGETCONF           = 0xc030700a // _IOWR('p', 10, struct pci_conf_io), 15.0+
	PCIOCGETCONF_FREEBSD14 = 0xc0307005 // _IOWR('p', 5, struct pci_conf_io), 7.0-14.x
	PCIOCATTACHED          = 0xc0147004 // _IOWR('p', 4, struct pci_io)
)

// PCIOCGETCONF_VERSION is the first __FreeBSD_version (sys/sys/param.h)
// whose PCIOCGETCONF is 0xc030700a with a 128-byte struct pci_conf: the
// change that gave struct pci_conf its padding and pc_reported_len
// (freebsd-src releng/15.0:sys/sys/pciio.h). Its sys/sys/param.h bump was
// not read; the number is the one the FreeBSD ports' www/chromium patches
// test (__FreeBSD_version < 1500064). 15.0-RELEASE is 1500068.
const PCIOCGETCONF_VERSION = 1500064

// enum pci_getconf_status.
const (
	PCI_GETCONF_LAST_DEVICE  = 0
	PCI_GETCONF_LIST_CHANGED = 1
	PCI_GETCONF_MORE_DEVS    = 2
	PCI_GETCONF_ERROR        = 3
)

// PCI_MAXNAMELEN bounds pd_name, which has one byte more for the NUL.
const PCI_MAXNAMELEN = 16

// PciConfIo is struct pci_conf_io, 48 bytes on every release.
type PciConfIo struct {
	Pat_buf_len   uint32
	Num_patterns  uint32
	Patterns      unsafe.Pointer // struct pci_match_conf *
	Match_buf_len uint32
	Num_matches   uint32
	Matches       unsafe.Pointer // struct pci_conf *
	Offset        uint32
	Generation    uint32
	Status        uint32
	_             [4]byte
}

// The layouts of struct pci_conf. Its first 48 bytes are the whole struct
// up to 14.x (struct pci_conf_freebsd14 on 15); 15.0 appends
// pd_numa_domain, pc_reported_len (set by the kernel to
// offsetof(struct pci_conf, pc_spare)), pc_secbus, pc_subbus and pc_spare.
// Read from pci_user.c's copy of the layout for 32-bit processes (struct
// pci_conf32, whose fields the native struct has with u_long and size_t
// widths): freebsd-src releng/15.0:sys/dev/pci/pci_user.c struct pci_conf32.
const (
	SizeofPciConf14 = 48
	SizeofPciConf   = 128
	SizeofPcimatch  = 56 // struct pci_match_conf

	PciConf_pc_sel          = 0  // struct pcisel
	Pcisel_pc_domain        = 0  // uint32_t
	Pcisel_pc_bus           = 4  // uint8_t
	Pcisel_pc_dev           = 5  // uint8_t, the slot
	Pcisel_pc_func          = 6  // uint8_t
	PciConf_pc_hdr          = 8  // uint8_t
	PciConf_pc_vendor       = 14 // uint16_t
	PciConf_pc_device       = 16 // uint16_t
	PciConf_pc_class        = 18 // uint8_t
	PciConf_pc_subclass     = 19 // uint8_t
	PciConf_pd_name         = 22 // char[PCI_MAXNAMELEN + 1]
	PciConf_pd_unit         = 40 // u_long
	PciConf_pd_numa_domain  = 48 // int, 15.0+
	PciConf_pc_reported_len = 56 // size_t, 15.0+
	PciConf_pc_secbus       = 64 // uint8_t, 15.0+
	PciConf_pc_subbus       = 65 // uint8_t, 15.0+
	PciConf_pc_spare        = 66 // char[62], 15.0+
)

// PciIo is struct pci_io, PCIOCATTACHED's argument: pi_data comes back as
// device_is_attached() of the function pi_sel names.
type PciIo struct {
	Sel_domain uint32
	Sel_bus    uint8
	Sel_dev    uint8
	Sel_func   uint8
	_          uint8
	Reg        int32
	Width      int32
	Data       uint32
}

// devctl(4) requests on /dev/devctl2, all _IOW('D', n, struct devreq).
const (
	DEV_DETACH       = 0x80984402
	DEV_SET_DRIVER   = 0x80984407
	DEV_CLEAR_DRIVER = 0x80984408

	// DEVF_FORCE_DETACH (DEV_DETACH), DEVF_SET_DRIVER_DETACH and
	// DEVF_CLEAR_DRIVER_DETACH: detach the current driver first.
	DEVF_FORCE_DETACH        = 1
	DEVF_SET_DRIVER_DETACH   = 1
	DEVF_CLEAR_DRIVER_DETACH = 1
)

// Devreq is struct devreq, 152 bytes.
type Devreq struct {
	Name  [128]byte // dr_name: "pciD:B:S:F" or a device's name and unit, "ppt0"
	Flags int32     // dr_flags
	_     [4]byte
	Data  unsafe.Pointer // dr_data (union dr_dru): DEV_SET_DRIVER's driver name
	_     [8]byte        // the rest of the union (dr_buffer.length)
}
