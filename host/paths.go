package host

import "path/filepath"

// Installation directories, set at build time by the Makefile
// (-ldflags -X) the way the FreeBSD port sets PREFIX, LOCALBASE and
// GUEST_ROOT.
var (
	prefix    = "/usr/local"
	localBase = "/usr/local"
	guestRoot = "" // LOCALBASE/share/wifibox when empty
)

// Paths are the files and directories wifibox uses on one host. Every path
// is absolute; on a simulated host they all lie below its directory.
type Paths struct {
	Root string // "/" on a real host, the simulated host's directory otherwise

	ConfDir   string // PREFIX/etc/wifibox
	LocalBase string // LOCALBASE, where packages live
	GuestRoot string // GUEST_ROOT
	Firmware  string // LOCALBASE/share/uefi-firmware/BHYVE_UEFI.fd
	Log       string // /var/log/wifibox.log
	RunDir    string // /var/run/wifibox
	DBDir     string // /var/db/wifibox: what outlives a reboot (setup's record)
	Dev       string // /dev
	Bhyve     string // /usr/sbin/bhyve
	PCIIDs    string // /usr/share/misc/pci_vendors: PCI IDs' names, as pciconf -lv reads them
}

// DefaultPaths gives the paths of an installation below root ("/" for the
// real host).
func DefaultPaths(root string) Paths {
	gr := guestRoot
	if gr == "" {
		gr = filepath.Join(localBase, guestRootIn)
	}
	at := func(p string) string { return filepath.Join(root, p) }
	return Paths{
		Root:      root,
		ConfDir:   at(filepath.Join(prefix, confDirIn)),
		LocalBase: at(localBase),
		GuestRoot: at(gr),
		Firmware:  at(filepath.Join(localBase, "share/uefi-firmware/BHYVE_UEFI.fd")),
		Log:       at(logPath),
		RunDir:    at(runDirPath),
		DBDir:     at(dbDirPath),
		Dev:       at("/dev"),
		Bhyve:     at("/usr/sbin/bhyve"),
		PCIIDs:    at("/usr/share/misc/pci_vendors"),
	}
}

// CoreConf is core.conf.
func (p Paths) CoreConf() string { return filepath.Join(p.ConfDir, "core.conf") }

// BhyveConf is bhyve.conf.
func (p Paths) BhyveConf() string { return filepath.Join(p.ConfDir, "bhyve.conf") }

// Appliance is the guest's generic configuration, shared read-only.
func (p Paths) Appliance() string { return filepath.Join(p.ConfDir, "appliance") }

// AppConfig is the symbolic link to the guest application's configuration.
func (p Paths) AppConfig() string { return filepath.Join(p.ConfDir, "app_config") }

// UDSPassthruConf is the control-socket pass-through configuration.
func (p Paths) UDSPassthruConf() string {
	return filepath.Join(p.Appliance(), "uds_passthru.conf")
}

// ESPImage is the guest's EFI system partition image.
func (p Paths) ESPImage() string { return filepath.Join(p.GuestRoot, "esp.img") }

// RootImage is the guest's root file system image.
func (p Paths) RootImage() string { return filepath.Join(p.GuestRoot, "root.img") }

// RunAppliance is the run-time directory shared read-write with the guest.
func (p Paths) RunAppliance() string { return filepath.Join(p.RunDir, RunApplianceIn) }

// ConsoleHost is bhyve's end of the console's nmdm(4) pair.
func (p Paths) ConsoleHost() string { return filepath.Join(p.Dev, ConsoleHostName) }

// ConsoleUser is the user's end of the console's nmdm(4) pair.
func (p Paths) ConsoleUser() string { return filepath.Join(p.Dev, ConsoleUserName) }

// VMDevice is the device node of the named VM.
func (p Paths) VMDevice(name string) string { return filepath.Join(p.Dev, "vmm", name) }
