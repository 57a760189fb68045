package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// The files of a fresh simulated host, relative to its directory, for a
// program built with the default directories (hostPath moves them to the
// ones it was built with).
var initFiles = []struct {
	path, content string
}{
	{"usr/local/etc/wifibox/core.conf", "loglevel=info\n"},
	{"usr/local/etc/wifibox/bhyve.conf", `cpus=1
memory=128M
console=yes
passthru="3/0/0"
priority=50
stop_wait_max=10
`},
	{"usr/local/etc/wifibox/wpa_supplicant/wpa_supplicant.conf", `ctrl_interface=/var/run/wpa_supplicant
ctrl_interface_group=0
update_config=1

network={
	ssid="wifibox-sim"
	psk="simulated-passphrase"
}
`},
	{"usr/local/share/wifibox/esp.img", "simulated EFI system partition\n"},
	{"usr/local/share/wifibox/root.img", "simulated root file system\n"},
	{"usr/local/share/uefi-firmware/BHYVE_UEFI.fd", "simulated UEFI firmware\n"},
	{"usr/share/misc/pci_vendors", "# the names of the simulated PCI devices\n" +
		"8086  Intel Corporation\n" +
		"\t2723  Wi-Fi 6 AX200\n" +
		"\t3e30  8th Gen Core 8+2 Host Bridge/DRAM Registers\n" +
		"\ta36d  Cannon Lake PCH USB 3.1 xHCI Host Controller\n" +
		"144d  Samsung Electronics Co Ltd\n" +
		"\ta808  NVMe SSD Controller SM981/PM981/PM983\n" +
		"168c  Qualcomm Atheros\n" +
		"\t0034  AR9462 Wireless Network Adapter\n"},
	{"boot/kernel/if_iwlwifi.ko", "simulated if_iwlwifi.ko\n"},
	{"boot/kernel/if_ath_pci.ko", "simulated if_ath_pci.ko\n"},
	{"boot/kernel/vmm.ko", "simulated vmm.ko\n"},
	{"boot/kernel/nmdm.ko", "simulated nmdm.ko\n"},
	{"boot/kernel/if_bridge.ko", "simulated if_bridge.ko\n"},
}

// The directories of a fresh simulated host besides those of its files.
var initDirs = []string{
	"sim",
	"etc",
	"usr/local/etc/wifibox/appliance",
	"var/log",
	"var/db",
	"var/run/wifibox/appliance/log",
	"dev/vmm",
	"boot/modules",
}

// initState is the kernel of a fresh simulated host: no module of
// wifibox's loaded, the native drivers of the Wi-Fi cards loaded (as
// devmatch(8) loads them at boot, with kldload), no VM, five PCI devices
// (the Atheros card shows with wifi_cards=2 only) and two interfaces.
func initState() *state {
	l := newLinker()
	for _, file := range []string{"if_iwlwifi.ko", "if_ath_pci.ko"} {
		f := &linkerFile{ID: l.NextFile, Path: "/boot/kernel/" + file, UserRefs: 1}
		l.NextFile++
		for _, n := range moduleFiles[file] {
			f.Modules = append(f.Modules, kmodule{ID: l.NextMod, Name: n})
			l.NextMod++
		}
		l.Files = append(l.Files, f)
	}
	return &state{
		Linker: l,
		VMs:    map[string]*vm{},
		Devices: []*device{
			newDevice(host.Selector{}, 0x8086, 0x3e30, 0x06, 0x00, "hostb"),
			newDevice(host.Selector{Slot: 20}, 0x8086, 0xa36d, 0x0c, 0x03, "xhci"),
			newDevice(host.Selector{Bus: 1}, 0x144d, 0xa808, 0x01, 0x08, "nvme"),
			newDevice(wifiCard, 0x8086, 0x2723, 0x02, 0x80, "iwlwifi"),
			newDevice(secondCard, 0x168c, 0x0034, 0x02, 0x80, "ath"),
		},
		Interfaces: []*iface{
			{Name: "lo0", Kind: "loopback", Index: 1, Up: true},
			{Name: "em0", Kind: "ether", Index: 2, Up: true},
		},
	}
}

// Init creates a simulated host under dir, which may exist if it holds no
// simulated host yet.
func Init(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("create simulated host %s: %w", dir, err)
	}
	s := &system{dir: abs}
	if _, err := os.Stat(s.statePath()); err == nil {
		return fmt.Errorf("create simulated host %s: %w: it already holds one; remove it first", abs, unix.EEXIST)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create simulated host %s: %w", abs, err)
	}
	paths := s.paths()
	for _, d := range initDirs {
		if err := os.MkdirAll(hostPath(paths, d), 0o755); err != nil {
			return fmt.Errorf("create simulated host %s: %w", abs, err)
		}
	}
	for _, f := range initFiles {
		p := hostPath(paths, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create simulated host %s: %w", abs, err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("create simulated host %s: %w", abs, err)
		}
	}
	if err := os.Symlink("wpa_supplicant", paths.AppConfig()); err != nil {
		return fmt.Errorf("create simulated host %s: %w", abs, err)
	}
	if err := s.save(initState()); err != nil {
		return fmt.Errorf("create simulated host %s: %w", abs, err)
	}
	return nil
}

// hostPath gives where a file of initFiles or initDirs lies on the host of
// p: below PREFIX/etc/wifibox, GUEST_ROOT and LOCALBASE as the program was
// built with them, so that a program built for PREFIX=/opt/wb finds its
// configuration in /opt/wb/etc/wifibox.
func hostPath(p host.Paths, rel string) string {
	for _, d := range []struct{ from, to string }{
		{"usr/local/etc/wifibox", p.ConfDir},
		{"usr/local/share/wifibox", p.GuestRoot},
		{"usr/local", p.LocalBase},
	} {
		if rest, ok := strings.CutPrefix(rel, d.from+"/"); ok || rel == d.from {
			return filepath.Join(d.to, rest)
		}
	}
	return filepath.Join(p.Root, rel)
}
