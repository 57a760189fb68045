package doctor

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
)

// newHost gives a fresh simulated host in a short directory.
func newHost(t *testing.T) (string, *host.Host) {
	t.Helper()
	return simtest.Host(t)
}

// runDoctor runs doctor on the host and gives its output, with the host's
// directory shown as /H.
func runDoctor(t *testing.T, dir string, h *host.Host) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	ok := Run(h, &out, All)
	return strings.ReplaceAll(out.String(), dir, "/H"), ok
}

// wantLines fails unless the output has the lines, consecutive and whole.
func wantLines(t *testing.T, out, lines string) {
	t.Helper()
	if !strings.Contains("\n"+out, "\n"+lines+"\n") {
		t.Errorf("output lacks\n%s\ngot:\n%s", lines, out)
	}
}

var write = simtest.WriteFile

func loadVMM(t *testing.T, h *host.Host) {
	t.Helper()
	file, err := kmod.ModuleFile(h.Kernel, "vmm")
	if err == nil {
		err = h.Kernel.Load(file)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func setFault(t *testing.T, dir, key string) {
	t.Helper()
	if err := sim.SetFault(dir, key, "yes"); err != nil {
		t.Fatal(err)
	}
}

const (
	espSum  = "8e9fdebaeccb68e4ea4b89b9690bf72e7e5b83437224edfd16ca477239c874e9"
	rootSum = "bd044ec577ec3eff0268ff50c64d1ddc6fceb5cd0387985b0508c555d31c9347"
)

// A fresh simulated host is fit: vmm is loadable, the card is on its
// native driver; the only findings are the advice to blocklist the driver
// and to give wifibox0 an address. Doctor changes nothing.
func TestFreshHost(t *testing.T) {
	dir, h := newHost(t)
	state := filepath.Join(dir, "sim/state.json")
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	out, ok := runDoctor(t, dir, h)
	want := `OK   securelevel: kern.securelevel=-1
OK   CPU virtualization: vmm is not loaded, wifibox start loads /H/boot/kernel/vmm.ko
OK   IOMMU: the firmware's ACPI DMAR table lists the IOMMU
OK   bhyve: /H/usr/sbin/bhyve
OK   bhyve virtio-9p
OK   UEFI firmware: /H/usr/local/share/uefi-firmware/BHYVE_UEFI.fd
OK   guest image esp.img: sha256 ` + espSum + `
OK   guest image root.img: sha256 ` + rootSum + `
OK   core.conf
OK   recovery: restart_vmm (the default built into this wifibox: core.conf has no recovery line)
OK   bhyve.conf: cpus is checked against hw.vmm.maxcpu once vmm is loaded
OK   uds_passthru.conf: not present, no control socket is relayed
OK   passthru device: pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver iwlwifi0
WARN native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device and if_iwlwifi is not blocklisted, so it takes the card back whenever wifibox lets it go (stop, resume, boot)
     fix: add to /H/etc/rc.conf:
          devmatch_enable="YES"
          devmatch_blocklist="if_iwlwifi"
WARN rc.conf: ifconfig_wifibox0 is not set, so the host gets no address on wifibox0
     fix: add ifconfig_wifibox0="SYNCDHCP" to /H/etc/rc.conf (or a static inet address in the guest's network)
OK   other VMs: none
OK   suspend hook: FreeBSD runs wifibox's suspend and resume itself
OK   log file: /H/var/log/wifibox.log (created at the first command)
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if !ok {
		t.Error("a fresh host is not fit")
	}
	after, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	trace, err := sim.ReadTrace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || len(trace) > 0 {
		t.Errorf("doctor changed the host: trace %q, state\n%s", trace, after)
	}
	if _, err := os.Stat(h.Paths.Log); !os.IsNotExist(err) {
		t.Errorf("doctor created the log file: %v", err)
	}
}

// A configured host with vmm loaded has nothing but OK lines.
func TestHealthyHost(t *testing.T) {
	dir, h := newHost(t)
	loadVMM(t, h)
	write(t, filepath.Join(dir, "etc/rc.conf"), `hostname="laptop"
ifconfig_em0="DHCP"
devmatch_enable="YES"
devmatch_blocklist="if_iwm if_iwlwifi"
ifconfig_wifibox0="inet 10.0.0.2/24"
`, 0o644)
	write(t, h.Paths.UDSPassthruConf(), "network=10.0.0.1:255.255.255.0\n", 0o644)
	write(t, h.Paths.Log, "", 0o644)
	out, ok := runDoctor(t, dir, h)
	want := `OK   securelevel: kern.securelevel=-1
OK   CPU virtualization: vmm is loaded, hw.vmm.maxcpu=16
OK   IOMMU: the firmware's ACPI DMAR table lists the IOMMU
OK   bhyve: /H/usr/sbin/bhyve
OK   bhyve virtio-9p
OK   UEFI firmware: /H/usr/local/share/uefi-firmware/BHYVE_UEFI.fd
OK   guest image esp.img: sha256 ` + espSum + `
OK   guest image root.img: sha256 ` + rootSum + `
OK   core.conf
OK   recovery: restart_vmm (the default built into this wifibox: core.conf has no recovery line)
OK   bhyve.conf
OK   uds_passthru.conf
OK   passthru device: pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver iwlwifi0
OK   native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device until wifibox starts; if_iwlwifi is blocklisted in /H/etc/rc.conf
OK   rc.conf: nothing conflicts with wifibox0
OK   other VMs: none
OK   suspend hook: FreeBSD runs wifibox's suspend and resume itself
OK   log file: /H/var/log/wifibox.log
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if !ok {
		t.Error("a healthy host is not fit")
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// findings are the checks' findings on hosts with one thing wrong, each
// with the lines doctor prints about it and whether the host stays fit.
var findings = []struct {
	name  string
	setup func(t *testing.T, dir string, h *host.Host)
	want  string
	fit   bool
}{{
	// The IOMMU sysctl exists once vmm is loaded; iommu_disabled makes it 0.
	name: "iommu_disabled",
	setup: func(t *testing.T, dir string, h *host.Host) {
		loadVMM(t, h)
		setFault(t, dir, "iommu_disabled")
	},
	want: `FAIL IOMMU: hw.vmm.iommu.enable=0, so vmm uses no IOMMU, PCI pass-through cannot work
     fix: remove hw.vmm.iommu.enable=0 from /H/boot/loader.conf (or loader.conf.d) and reboot`,
}, {
	// Above securelevel 0 start fails with EPERM (kldload, /dev/pci).
	name: "securelevel",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "securelevel", "1"); err != nil {
			t.Fatal(err)
		}
	},
	want: `FAIL securelevel: kern.securelevel=1: above 0 the kernel refuses loading modules, binding the card to ppt and PCI pass-through (EPERM)
     fix: set kern_securelevel_enable="NO" in /H/etc/rc.conf and reboot (a securelevel cannot be lowered while the system runs)`,
}, {
	// A machine without an IOMMU, before vmm is loaded: no ACPI DMAR
	// table, while hw.vmm.iommu.enable would say 1.
	name: "no IOMMU",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "iommu", "none"); err != nil {
			t.Fatal(err)
		}
	},
	want: `FAIL IOMMU: the firmware reports no IOMMU (no ACPI DMAR table), so no device can be passed through, PCI pass-through cannot work
     fix: enable VT-d ("Intel Virtualization Technology for Directed I/O") in the firmware settings and reboot`,
}, {
	// The same once vmm is loaded: hw.vmm.iommu.enable=1 does not pass.
	name: "no IOMMU, vmm loaded",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "iommu", "none"); err != nil {
			t.Fatal(err)
		}
		loadVMM(t, h)
	},
	want: `FAIL IOMMU: the firmware reports no IOMMU (no ACPI DMAR table), so no device can be passed through, PCI pass-through cannot work
     fix: enable VT-d ("Intel Virtualization Technology for Directed I/O") in the firmware settings and reboot`,
}, {
	// An AMD machine without AMD-Vi, vmm loaded: ivrs_drv.c found no
	// unit, whatever the tunables say.
	name: "AMD without AMD-Vi, vmm loaded",
	setup: func(t *testing.T, dir string, h *host.Host) {
		for _, kv := range [][2]string{{"iommu", "none"}, {"cpu", "amd"}, {"amdvi_enable", "yes"}} {
			if err := sim.SetFault(dir, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		loadVMM(t, h)
	},
	want: `FAIL IOMMU: hw.vmm.amdvi.count=0: vmm found no AMD-Vi unit in the firmware's ACPI IVRS table, PCI pass-through cannot work
     fix: enable the IOMMU (AMD-Vi) in the firmware settings and reboot`,
}, {
	name: "AMD with AMD-Vi, vmm loaded",
	setup: func(t *testing.T, dir string, h *host.Host) {
		for _, kv := range [][2]string{{"cpu", "amd"}, {"amdvi_enable", "yes"}} {
			if err := sim.SetFault(dir, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		loadVMM(t, h)
	},
	want: "OK   IOMMU: hw.vmm.amdvi.count=1, hw.vmm.amdvi.enable=1",
	fit:  true,
}, {
	// vmm loaded on AMD without the tunable: amdvi_init refuses.
	name: "AMD without the amdvi tunable, vmm loaded",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "cpu", "amd"); err != nil {
			t.Fatal(err)
		}
		loadVMM(t, h)
	},
	want: `FAIL IOMMU: hw.vmm.amdvi.enable=0, so vmm does not use AMD-Vi, PCI pass-through cannot work
     fix: add hw.vmm.amdvi.enable=1 to /H/boot/loader.conf and reboot`,
}, {
	// arm64's bhyve has no PCI pass-through.
	name: "arm64",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "machine_arch", "aarch64"); err != nil {
			t.Fatal(err)
		}
	},
	want: `FAIL CPU virtualization: wifibox cannot run its guest on aarch64: it needs bhyve's PCI pass-through, which FreeBSD offers on amd64 only
     fix: run wifibox on an amd64 machine`,
}, {
	name:  "pci_device_missing",
	setup: func(t *testing.T, dir string, h *host.Host) { setFault(t, dir, "pci_device_missing") },
	want: `OK   uds_passthru.conf: not present, no control socket is relayed
FAIL passthru devices: check passthru devices in bhyve.conf: PCI device not present: pci0:3:0:0 (3/0/0)
     no network controller is present
     fix: set passthru in /H/usr/local/etc/wifibox/bhyve.conf to the bus/slot/function of the Wi-Fi card
WARN rc.conf: ifconfig_wifibox0 is not set, so the host gets no address on wifibox0`,
}, {
	name:  "module_files_missing",
	setup: func(t *testing.T, dir string, h *host.Host) { setFault(t, dir, "module_files_missing") },
	want: `FAIL CPU virtualization: vmm is not loaded and /H/boot/missing/vmm.ko does not exist
     fix: restore /H/boot/missing/vmm.ko from FreeBSD's base system (freebsd-update fetch install), or put the directory holding vmm.ko first in kern.module_path
OK   IOMMU: the firmware's ACPI DMAR table lists the IOMMU`,
}, {
	name:  "no_virtio_9p",
	setup: func(t *testing.T, dir string, h *host.Host) { setFault(t, dir, "no_virtio_9p") },
	want: `OK   bhyve: /H/usr/sbin/bhyve
FAIL bhyve virtio-9p: /H/usr/sbin/bhyve lacks the virtio-9p (VirtFS) emulation
     fix: update FreeBSD to 13.0 or later`,
}, {
	name: "bad bhyve.conf",
	setup: func(t *testing.T, dir string, h *host.Host) {
		loadVMM(t, h)
		write(t, h.Paths.BhyveConf(), "cpus=32\npassthru=\"3/0/0\"\n", 0o644)
	},
	want: `FAIL bhyve.conf: bhyve.conf:1:6: cpus should be in between 1 and 16: 32
     fix: correct /H/usr/local/etc/wifibox/bhyve.conf as the problem says (wifibox(8) describes the settings)
OK   uds_passthru.conf: not present, no control socket is relayed
SKIP passthru devices: bhyve.conf cannot be used (see above)`,
}, {
	name:  "unsafe core.conf",
	setup: func(t *testing.T, dir string, h *host.Host) { write(t, h.Paths.CoreConf(), "loglevel=info\n", 0o666) },
	want: `FAIL core.conf: /H/usr/local/etc/wifibox/core.conf: refusing to read: it is writable by group and others (mode 0666), so others could make wifibox do anything as root; fix it with: chmod go-w /H/usr/local/etc/wifibox/core.conf
     fix: chown root /H/usr/local/etc/wifibox/core.conf && chmod go-w /H/usr/local/etc/wifibox/core.conf`,
}, {
	name:  "missing core.conf",
	setup: func(t *testing.T, dir string, h *host.Host) { removeFile(t, h.Paths.CoreConf()) },
	want: `FAIL core.conf: /H/usr/local/etc/wifibox/core.conf is missing, please create it from the sample
     fix: create /H/usr/local/etc/wifibox/core.conf from the sample, /H/usr/local/etc/wifibox/core.conf.sample`,
}, {
	name: "unknown setting",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, h.Paths.CoreConf(), "loglevel=info\nlog_level=debug\n", 0o644)
	},
	want: `WARN core.conf: core.conf:2: unknown setting log_level, ignored
     fix: remove the setting from /H/usr/local/etc/wifibox/core.conf, or correct its name
OK   core.conf`,
	fit: true,
}, {
	name: "recovery set",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, h.Paths.CoreConf(), "recovery=suspend_guest\n", 0o644)
	},
	want: `OK   core.conf
OK   recovery: suspend_guest (recovery= in core.conf)`,
	fit: true,
}, {
	name:  "missing image",
	setup: func(t *testing.T, dir string, h *host.Host) { removeFile(t, h.Paths.RootImage()) },
	want: `OK   guest image esp.img: sha256 ` + espSum + `
FAIL guest image root.img: /H/usr/local/share/wifibox/root.img does not exist
     fix: reinstall the guest package (pkg install -f wifibox-alpine), which puts its images in /H/usr/local/share/wifibox`,
}, {
	name:  "missing firmware",
	setup: func(t *testing.T, dir string, h *host.Host) { removeFile(t, h.Paths.Firmware) },
	want: `FAIL UEFI firmware: /H/usr/local/share/uefi-firmware/BHYVE_UEFI.fd does not exist
     fix: pkg install bhyve-firmware`,
}, {
	name: "rc.conf conflicts",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `cloned_interfaces="bridge0 wifibox0"
ifconfig_bridge0_name="wifibox0"
wlans_iwlwifi0="wlan0"
ifconfig_wlan0="WPA SYNCDHCP"
ifconfig_em0="inet 10.0.0.5 netmask 0xffffff00"
ifconfig_em0_alias0="inet 192.168.7.1/24"
ifconfig_wifibox0="inet 10.0.0.1/24"
`, 0o644)
		write(t, h.Paths.UDSPassthruConf(), "network=10.0.0.1:255.255.255.0\n", 0o644)
	},
	want: `FAIL rc.conf: cloned_interfaces creates wifibox0, which wifibox creates itself
     fix: remove wifibox0 from cloned_interfaces in /H/etc/rc.conf
FAIL rc.conf: ifconfig_bridge0_name renames bridge0 to wifibox0, which wifibox creates itself
     fix: remove ifconfig_bridge0_name, and bridge0 from cloned_interfaces, from /H/etc/rc.conf
FAIL rc.conf: wlans_iwlwifi0 configures the Wi-Fi card on the host, but wifibox gives it to the guest
     fix: remove wlans_iwlwifi0 and ifconfig_wlan0 from /H/etc/rc.conf
FAIL rc.conf: ifconfig_em0 gives em0 the address 10.0.0.5/24, in the guest's network 10.0.0.0/24 (network in /H/usr/local/etc/wifibox/appliance/uds_passthru.conf)
     fix: give the guest a network no host interface uses: change network in /H/usr/local/etc/wifibox/appliance/uds_passthru.conf and the guest's own address to match
FAIL rc.conf: ifconfig_wifibox0 gives wifibox0 the guest's own address 10.0.0.1
     fix: set ifconfig_wifibox0="inet 10.0.0.2/24" in /H/etc/rc.conf
OK   other VMs: none`,
}, {
	name: "wifibox0 outside the guest's network",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `ifconfig_wifibox0="inet 10.1.0.2/24"`+"\n", 0o644)
		write(t, h.Paths.UDSPassthruConf(), "network=10.0.0.254:255.255.255.0\n", 0o644)
	},
	want: `WARN rc.conf: ifconfig_wifibox0 gives wifibox0 the address 10.1.0.2/24, outside the guest's network 10.0.0.0/24 (network in /H/usr/local/etc/wifibox/appliance/uds_passthru.conf), so the host cannot reach the guest
     fix: set ifconfig_wifibox0="inet 10.0.0.253/24" in /H/etc/rc.conf
OK   other VMs: none`,
	fit: true,
}, {
	// Only ifconfig_<if>_name renames an interface; another *_name is not about interfaces.
	name: "rc.conf variable named like a rename",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `foo_name="wifibox0"`+"\n"+`ifconfig_wifibox0="inet 10.0.0.2/24"`+"\n", 0o644)
		write(t, h.Paths.UDSPassthruConf(), "network=10.0.0.1:255.255.255.0\n", 0o644)
	},
	want: `OK   rc.conf: nothing conflicts with wifibox0`,
	fit:  true,
}, {
	// The blocklist advice keeps what devmatch_blocklist has.
	name: "native driver not blocklisted",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `devmatch_blocklist="if_iwm"`+"\n", 0o644)
	},
	want: `WARN native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device and if_iwlwifi is not blocklisted, so it takes the card back whenever wifibox lets it go (stop, resume, boot)
     fix: add to /H/etc/rc.conf:
          devmatch_enable="YES"
          devmatch_blocklist="if_iwm if_iwlwifi"`,
	fit: true,
}, {
	// A card on ppt while no guest runs is held from its native driver.
	name: "device on ppt",
	setup: func(t *testing.T, dir string, h *host.Host) {
		loadVMM(t, h)
		if err := h.PCI.SetDriver(host.Selector{Bus: 3}, "ppt"); err != nil {
			t.Fatal(err)
		}
	},
	want: `OK   passthru device: pci0:3:0:0 (3/0/0): 8086:2723 Intel Corporation Wi-Fi 6 AX200, driver ppt0
OK   native driver of pci0:3:0:0 (3/0/0): none, ppt0 holds the device`,
	fit: true,
}, {
	name: "unparsable rc.conf",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), "hostname=`hostname`\n", 0o644)
	},
	want: `WARN rc.conf: cannot be checked: /H/etc/rc.conf:1:10: command substitution "` + "`" + `" is not allowed: configuration is parsed, not executed
     fix: check /H/etc/rc.conf by hand: nothing may create wifibox0 or configure the Wi-Fi card`,
	fit: true,
}, {
	// Before vmm is loaded, an AMD CPU needs hw.vmm.amdvi.enable=1 in
	// loader.conf.
	name: "AMD without amdvi",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "cpu", "amd"); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "boot/loader.conf"), "hw.vmm.amdvi.enable=0\n", 0o644)
	},
	want: `FAIL IOMMU: AMD CPU and hw.vmm.amdvi.enable=1 is not set in loader.conf, so PCI pass-through will not work
     fix: add hw.vmm.amdvi.enable=1 to /H/boot/loader.conf and reboot`,
}, {
	name: "AMD with amdvi in loader.conf.local",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "cpu", "amd"); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "boot/loader.conf"), "hw.vmm.amdvi.enable=0\n", 0o644)
		write(t, filepath.Join(dir, "boot/loader.conf.local"), `hw.vmm.amdvi.enable="1" # AMD-Vi`+"\n", 0o644)
	},
	want: "OK   IOMMU: AMD CPU, hw.vmm.amdvi.enable=1 in /H/boot/loader.conf.local; the firmware's ACPI IVRS table lists the IOMMU",
	fit:  true,
}, {
	name: "AMD with the older amdvi tunable",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "cpu", "amd"); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "boot/loader.conf"), "hw.vmm.amdvi_enable=1\n", 0o644)
	},
	want: "OK   IOMMU: AMD CPU, hw.vmm.amdvi_enable=1 in /H/boot/loader.conf; the firmware's ACPI IVRS table lists the IOMMU",
	fit:  true,
}, {
	name: "iommu turned off in loader.conf.d",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "boot/loader.conf.d/vmm.conf"), "hw.vmm.iommu.enable=0\n", 0o644)
	},
	want: `FAIL IOMMU: hw.vmm.iommu.enable=0 in /H/boot/loader.conf.d/vmm.conf turns PCI pass-through off
     fix: remove hw.vmm.iommu.enable=0 from /H/boot/loader.conf.d/vmm.conf and reboot`,
}, {
	// Another VM keeps vmm.ko loaded, which restart_vmm needs to unload.
	name: "other VMs",
	setup: func(t *testing.T, dir string, h *host.Host) {
		loadVMM(t, h)
		if err := h.VMs.CreateVM("freebsd14"); err != nil {
			t.Fatal(err)
		}
	},
	want: `WARN other VMs: freebsd14 exist: wifibox restart vmm and stop vmm cannot unload vmm.ko while they do (they warn, and restart the guest in a new VM), and neither can recovery=restart_vmm
     fix: set recovery=suspend_guest in /H/usr/local/etc/wifibox/core.conf, which leaves vmm.ko and the other VMs alone`,
	fit: true,
}, {
	name: "devd hook on 14",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "usr/local/etc/devd/wifibox.conf"), "notify 10 {}\n", 0o644)
	},
	want: `WARN suspend hook: /H/usr/local/etc/devd/wifibox.conf is installed, but FreeBSD 1403000 runs wifibox's suspend itself: suspend runs twice
     fix: rm /H/usr/local/etc/devd/wifibox.conf && service devd restart`,
	fit: true,
}, {
	name: "no devd hook before 14 with suspend_guest",
	setup: func(t *testing.T, dir string, h *host.Host) {
		if err := sim.SetFault(dir, "osreldate", "1305000"); err != nil {
			t.Fatal(err)
		}
		write(t, h.Paths.CoreConf(), "recovery=suspend_guest\n", 0o644)
	},
	want: `WARN suspend hook: before FreeBSD 14.0 only the devd hook runs wifibox's suspend, which recovery=suspend_guest needs
     fix: cp /H/usr/local/etc/devd/wifibox.conf.sample /H/usr/local/etc/devd/wifibox.conf && service devd restart`,
	fit: true,
}, {
	// With no network= in uds_passthru.conf the guest image's default
	// network is assumed, and checked.
	name: "default guest network taken",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `ifconfig_em0="inet 10.0.0.20/24"`+"\n"+`ifconfig_wifibox0="SYNCDHCP"`+"\n", 0o644)
	},
	want: `WARN rc.conf: ifconfig_em0 gives em0 the address 10.0.0.20/24, in the guest's network 10.0.0.0/24 (the guest image's default)
     fix: give the guest another network in its configuration (app_config), and set network in /H/usr/local/etc/wifibox/appliance/uds_passthru.conf to its address`,
	fit: true,
}, {
	name: "wifibox0's network taken",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, filepath.Join(dir, "etc/rc.conf"), `ifconfig_em0="inet 192.168.7.20/24"`+"\n"+`ifconfig_wifibox0="inet 192.168.7.2/24"`+"\n", 0o644)
	},
	want: `FAIL rc.conf: ifconfig_em0 gives em0 the address 192.168.7.20/24, in the guest's network 192.168.7.0/24 (ifconfig_wifibox0 in /H/etc/rc.conf)`,
}, {
	name: "empty passthru",
	setup: func(t *testing.T, dir string, h *host.Host) {
		write(t, h.Paths.BhyveConf(), "passthru=\n", 0o644)
	},
	want: `WARN passthru devices: bhyve.conf passes no device through, so the guest has no Wi-Fi card`,
	fit:  true,
}, {
	name: "broken app_config",
	setup: func(t *testing.T, dir string, h *host.Host) {
		os.Remove(h.Paths.AppConfig())
		if err := os.Symlink(filepath.Join(dir, "nowhere"), h.Paths.AppConfig()); err != nil {
			t.Fatal(err)
		}
	},
	want: `WARN app_config: app_config is broken, the guest gets no Wi-Fi configuration (/H/usr/local/etc/wifibox/app_config -> /H/nowhere: no such file or directory)
     fix: point it at the guest's configuration directory: ln -sfh DIR /H/usr/local/etc/wifibox/app_config`,
	fit: true,
}}

func TestFindings(t *testing.T) {
	for _, tc := range findings {
		t.Run(tc.name, func(t *testing.T) {
			dir, h := newHost(t)
			tc.setup(t, dir, h)
			out, fit := runDoctor(t, dir, h)
			wantLines(t, out, tc.want)
			if fit != tc.fit {
				t.Errorf("fit = %v, want %v", fit, tc.fit)
			}
		})
	}
}

// vmm_busy only makes kldunload fail, which doctor never calls: the
// findings are those of a fresh host.
func TestVMMBusyIsNoFinding(t *testing.T) {
	dir, h := newHost(t)
	fresh, _ := runDoctor(t, dir, h)
	setFault(t, dir, "vmm_busy")
	if out, _ := runDoctor(t, dir, h); out != fresh {
		t.Errorf("vmm_busy changed the findings:\n%s", cmp.Diff(fresh, out))
	}
}

func TestInetAddress(t *testing.T) {
	for value, want := range map[string]string{
		"inet 10.0.0.2/24":                            "10.0.0.2/24",
		"inet 10.0.0.2 netmask 0xffffff00":            "10.0.0.2/24",
		"inet 10.0.0.2 netmask 255.255.0.0 broadcast": "10.0.0.2/16",
		"up inet 10.0.0.2":                            "10.0.0.2/32",
		"SYNCDHCP":                                    "invalid Prefix",
		"inet6 fd00::1/64":                            "invalid Prefix",
	} {
		p, ok := inetAddress(value)
		if got := p.String(); got != want || ok != (want != "invalid Prefix") {
			t.Errorf("inetAddress(%q) = %s, %v; want %s", value, got, ok, want)
		}
	}
	if got := hostAddress(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("10.0.0.1")); got.String() != "10.0.0.2" {
		t.Errorf("hostAddress = %s, want 10.0.0.2", got)
	}
}

func TestChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	write(t, path, "abc", 0o644)
	got, err := Checksum(path)
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Errorf("Checksum = %q, %v; want %s", got, err, want)
	}
	if _, err := Checksum(path + ".missing"); !os.IsNotExist(err) {
		t.Errorf("Checksum of a missing file: %v, want not exist", err)
	}
}

// rc.conf is read as rc(8) reads it: rc.conf.local after rc.conf, then the
// service's files of /etc/rc.conf.d and LOCALBASE/etc/rc.conf.d.
func TestRCConfFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"blocklist in rc.conf.local", map[string]string{
			"etc/rc.conf":       `ifconfig_wifibox0="SYNCDHCP"` + "\n",
			"etc/rc.conf.local": `devmatch_blocklist="if_iwlwifi"` + "\n",
		}, "OK   native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device until wifibox starts; if_iwlwifi is blocklisted in /H/etc/rc.conf.local\n" +
			"OK   rc.conf: nothing conflicts with wifibox0\n"},
		{"rc.conf.local extends rc.conf", map[string]string{
			"etc/rc.conf":       `devmatch_blocklist="if_iwm"` + "\n",
			"etc/rc.conf.local": `devmatch_blocklist="${devmatch_blocklist} if_iwlwifi"` + "\n" + `ifconfig_wifibox0="SYNCDHCP"` + "\n",
		}, "OK   native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device until wifibox starts; if_iwlwifi is blocklisted in /H/etc/rc.conf.local\n"},
		{"the services' own files", map[string]string{
			"etc/rc.conf.d/devmatch":                  `devmatch_blocklist="if_iwlwifi"` + "\n",
			"usr/local/etc/rc.conf.d/netif/wifibox":   `ifconfig_wifibox0="SYNCDHCP"` + "\n",
			"usr/local/etc/rc.conf.d/devmatch/ignore": "",
		}, "OK   native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device until wifibox starts; if_iwlwifi is blocklisted in /H/etc/rc.conf.d/devmatch\n" +
			"OK   rc.conf: nothing conflicts with wifibox0\n"},
		{"another service's file does not count", map[string]string{
			"etc/rc.conf.d/netif": `devmatch_blocklist="if_iwlwifi"` + "\n" + `ifconfig_wifibox0="SYNCDHCP"` + "\n",
		}, "WARN native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device and if_iwlwifi is not blocklisted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, h := newHost(t)
			for name, content := range tc.files {
				write(t, filepath.Join(dir, name), content, 0o644)
			}
			out, _ := runDoctor(t, dir, h)
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks\n%s\ngot:\n%s", tc.want, out)
			}
			if strings.Contains(out, "ifconfig_wifibox0 is not set") {
				t.Errorf("ifconfig_wifibox0 was not found:\n%s", out)
			}
		})
	}
}

// -q prints only the problems; --json all findings as one object that
// parses, with fit.
func TestFormats(t *testing.T) {
	dir, h := newHost(t)
	var out bytes.Buffer
	if Run(h, &out, Problems); !strings.HasPrefix(out.String(), "WARN native driver") || strings.Contains(out.String(), "OK ") {
		t.Errorf("-q printed\n%s", out.String())
	}
	setFault(t, dir, "no_virtio_9p")
	out.Reset()
	ok := Run(h, &out, JSON)
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json does not parse: %v\n%s", err, out.String())
	}
	if ok || r.Fit || len(r.Findings) != len(Check(h)) {
		t.Errorf("--json: ok %v, fit %v, %d findings", ok, r.Fit, len(r.Findings))
	}
	want := Finding{Status: Fail, What: "bhyve virtio-9p", Detail: h.Paths.Bhyve + " lacks the virtio-9p (VirtFS) emulation", Fix: "update FreeBSD to 13.0 or later"}
	if !slices.Contains(r.Findings, want) {
		t.Errorf("--json lacks %+v:\n%s", want, out.String())
	}
	for _, key := range []string{`"status"`, `"check"`, `"detail"`, `"fix"`, `"fit"`, `"findings"`} {
		if !strings.Contains(out.String(), key) {
			t.Errorf("--json lacks the key %s", key)
		}
	}
}
