package sim

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// faults are the knobs of DIR/sim/faults (see the package comment).
type faults struct {
	poweroffDelay     time.Duration
	ignorePowerButton bool
	guestExitAfter    time.Duration // 0: the guest runs until told otherwise
	guestExitStatus   int
	vmmBusy           bool
	// vmmPreloaded: the boot loader loaded vmm.ko (vmm_load="YES" in
	// loader.conf), so the linker holds it without a user reference.
	vmmPreloaded  bool
	iommuDisabled bool
	// noIOMMU is a machine without DMA remapping: its firmware has no
	// ACPI DMAR or IVRS table.
	noIOMMU bool
	// amdviEnable is the loader tunable hw.vmm.amdvi.enable=1, which
	// AMD-Vi needs (amdvi_hw.c amdvi_enable_user, 0 by default).
	amdviEnable      bool
	pciDeviceMissing bool
	// wifiCards is how many Wi-Fi cards the machine has: 0, 1 (the
	// Intel card) or 2 (the Intel and the Atheros card).
	wifiCards int
	// nativeDriverMissing keeps the Wi-Fi card's native driver out of
	// the kernel, as devmatch_blocklist does: only ppt attaches to it.
	nativeDriverMissing bool
	// securelevel is kern.securelevel: above 0, /dev/pci cannot be
	// opened for writing, and kldload and kldunload answer EPERM
	// (kern_linker.c, securelevel_gt).
	securelevel        int
	moduleFilesMissing bool
	noVirtio9p         bool
	// osreldate is kern.osreldate: the release the kernel and
	// libvmmapi answer as (1305000, 1403000, 1500068, ...).
	osreldate int
	// cpuVendor is the vendor hw.model names: intel or amd.
	cpuVendor        string
	passthruRejected bool
	guestUpAfter     time.Duration // from bhyve's device setup to the guest's logs and control sockets
	wifiAfter        time.Duration // from the guest up to wpa_supplicant's association
	wifiNever        bool
	wpaHangAfter     time.Duration // from the guest up to wpa_supplicant no longer answering; 0: never
	// machineArch is hw.machine_arch: amd64, or aarch64 for a machine
	// wifibox refuses to run its guest on.
	machineArch string
	// defaultGateway is the gateway of the IPv4 default route out of
	// wifibox0, while it exists; the zero Addr for none.
	defaultGateway netip.Addr
}

// defaultOsreldate is the release a simulated host answers as unless
// osreldate is set: FreeBSD 14.3 (sys/sys/param.h __FreeBSD_version).
const defaultOsreldate = 1403000

func defaultFaults() faults {
	return faults{poweroffDelay: 100 * time.Millisecond, guestExitStatus: 4, osreldate: defaultOsreldate, cpuVendor: "intel", securelevel: -1, wifiCards: 1, machineArch: "amd64"}
}

// faultKeys sets each knob from its value in the faults file.
var faultKeys = map[string]func(f *faults, v string) error{
	"poweroff_delay_ms":   func(f *faults, v string) error { return parseMillis(v, &f.poweroffDelay) },
	"ignore_power_button": func(f *faults, v string) error { return parseYesNo(v, &f.ignorePowerButton) },
	"guest_exit_after_ms": func(f *faults, v string) error { return parseMillis(v, &f.guestExitAfter) },
	"guest_exit_status":   func(f *faults, v string) error { return parseInt(v, &f.guestExitStatus) },
	"vmm_busy":            func(f *faults, v string) error { return parseYesNo(v, &f.vmmBusy) },
	"vmm_preloaded":       func(f *faults, v string) error { return parseYesNo(v, &f.vmmPreloaded) },
	"iommu_disabled":      func(f *faults, v string) error { return parseYesNo(v, &f.iommuDisabled) },
	"amdvi_enable":        func(f *faults, v string) error { return parseYesNo(v, &f.amdviEnable) },
	"iommu":               func(f *faults, v string) error { return parseKeyword(v, "none", &f.noIOMMU) },
	"pci_device_missing":  func(f *faults, v string) error { return parseYesNo(v, &f.pciDeviceMissing) },
	"wifi_cards": func(f *faults, v string) error {
		if err := parseInt(v, &f.wifiCards); err != nil || f.wifiCards > 2 {
			return fmt.Errorf("malformed value %q, expected: 0, 1 or 2", v)
		}
		return nil
	},
	"module_files_missing":  func(f *faults, v string) error { return parseYesNo(v, &f.moduleFilesMissing) },
	"no_virtio_9p":          func(f *faults, v string) error { return parseYesNo(v, &f.noVirtio9p) },
	"osreldate":             func(f *faults, v string) error { return parseInt(v, &f.osreldate) },
	"cpu":                   parseVendor,
	"native_driver_missing": func(f *faults, v string) error { return parseYesNo(v, &f.nativeDriverMissing) },
	"securelevel":           func(f *faults, v string) error { return parseInt(v, &f.securelevel) },
	"passthru_rejected":     func(f *faults, v string) error { return parseYesNo(v, &f.passthruRejected) },
	"guest_up_after_ms":     func(f *faults, v string) error { return parseMillis(v, &f.guestUpAfter) },
	"wifi_after_ms":         func(f *faults, v string) error { return parseMillis(v, &f.wifiAfter) },
	"wpa_hang_after_ms":     func(f *faults, v string) error { return parseMillis(v, &f.wpaHangAfter) },
	"default_gateway": func(f *faults, v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return fmt.Errorf("malformed value %q, expected: an IPv4 address", v)
		}
		f.defaultGateway = a
		return nil
	},
	"machine_arch": func(f *faults, v string) error {
		if v != "amd64" && v != "aarch64" {
			return fmt.Errorf("malformed value %q, expected: amd64 or aarch64", v)
		}
		f.machineArch = v
		return nil
	},
	"wifi": func(f *faults, v string) error { return parseKeyword(v, "never", &f.wifiNever) },
}

// cpuModels are hw.model of a machine of each vendor.
var cpuModels = map[string]string{
	"intel": "Intel(R) Core(TM) i7-10510U CPU @ 1.80GHz",
	"amd":   "AMD Ryzen 7 PRO 4750U with Radeon Graphics",
}

func parseVendor(f *faults, v string) error {
	if _, ok := cpuModels[v]; !ok {
		return fmt.Errorf("malformed value %q, expected: intel or amd", v)
	}
	f.cpuVendor = v
	return nil
}

// parseKeyword sets *b for a knob whose one value is word.
func parseKeyword(v, word string, b *bool) error {
	if v != word {
		return fmt.Errorf("malformed value %q, expected: %s", v, word)
	}
	*b = true
	return nil
}

func parseYesNo(v string, b *bool) error {
	switch v {
	case "yes":
		*b = true
	case "no":
		*b = false
	default:
		return fmt.Errorf("malformed value %q, expected: yes or no", v)
	}
	return nil
}

func parseInt(v string, n *int) error {
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return fmt.Errorf("malformed value %q, expected: non-negative integer", v)
	}
	*n = i
	return nil
}

func parseMillis(v string, d *time.Duration) error {
	var ms int
	if err := parseInt(v, &ms); err != nil {
		return err
	}
	*d = time.Duration(ms) * time.Millisecond
	return nil
}

func faultsPath(dir string) string { return filepath.Join(dir, "sim", "faults") }

// readFaultLines reads the faults file of the host under dir as key/value
// pairs; a missing file has none.
func readFaultLines(dir string) (map[string]string, error) {
	kv := map[string]string{}
	f, err := os.Open(faultsPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return kv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read faults: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("read faults: %s:%d: expected key=value, got %q", f.Name(), n, line)
		}
		kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read faults: %w", err)
	}
	return kv, nil
}

// readFaults gives the knobs of the host under dir.
func readFaults(dir string) (faults, error) {
	f := defaultFaults()
	kv, err := readFaultLines(dir)
	if err != nil {
		return f, err
	}
	for k, v := range kv {
		if err := setFault(&f, k, v); err != nil {
			return f, fmt.Errorf("read faults: %s: %w", faultsPath(dir), err)
		}
	}
	return f, nil
}

func setFault(f *faults, key, value string) error {
	set, ok := faultKeys[key]
	if !ok {
		return fmt.Errorf("unknown fault %q", key)
	}
	if err := set(f, value); err != nil {
		return fmt.Errorf("fault %s: %w", key, err)
	}
	return nil
}

// SetFault sets a fault knob of the simulated host under dir (see the
// package comment for the keys); an empty value removes the knob so its
// default applies again.
func SetFault(dir, key, value string) error {
	s := &system{dir: dir}
	if _, ok := faultKeys[key]; !ok {
		return fmt.Errorf("set fault of simulated host %s: unknown fault %q", dir, key)
	}
	if value != "" {
		scratch := defaultFaults()
		if err := setFault(&scratch, key, value); err != nil {
			return fmt.Errorf("set fault of simulated host %s: %w", dir, err)
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	kv, err := readFaultLines(dir)
	if err != nil {
		return err
	}
	kv[key] = value
	keys := make([]string, 0, len(kv))
	for k, v := range kv {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, kv[k])
	}
	return writeAtomic(faultsPath(dir), []byte(b.String()))
}
