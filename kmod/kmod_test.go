package kmod_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
)

// simHost is a simulated host whose kernel model kmod runs over.
type simHost struct {
	t   *testing.T
	dir string
	h   *host.Host
	k   *kmod.Kernel
}

func newHost(t *testing.T) *simHost {
	t.Helper()
	dir, k := simtest.New(t)
	h, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &simHost{t: t, dir: dir, h: h, k: kmod.New(k)}
}

// file gives the path of a module file of the host: "kernel/vmm.ko" is
// DIR/boot/kernel/vmm.ko. A file under boot/modules is made first.
func (s *simHost) file(rel string) string {
	s.t.Helper()
	p := filepath.Join(s.dir, "boot", rel)
	if _, err := os.Stat(p); err != nil {
		if err := os.WriteFile(p, []byte("simulated "+filepath.Base(p)+"\n"), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return p
}

func (s *simHost) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *simHost) fault(key, value string) {
	s.t.Helper()
	s.must(sim.SetFault(s.dir, key, value))
}

// trace gives the traced calls since the host was made.
func (s *simHost) trace() []string {
	s.t.Helper()
	lines, err := sim.ReadTrace(s.dir)
	s.must(err)
	return lines
}

// checkError checks that err wraps errno and says each of want.
func checkError(t *testing.T, err error, errno unix.Errno, want ...string) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("error %v does not wrap %v", err, errno)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestModule(t *testing.T) {
	s := newHost(t)
	vmm := s.file("modules/vmm.ko")
	s.must(s.k.Load(vmm))
	tests := []host.Module{
		{Name: "vmm", Present: true, File: vmm},
		{Name: "pci/ppt", Present: true, File: vmm}, // second in its file
		{Name: "if_tuntap", Present: true},          // built in
		{Name: "nmdm"},                              // absent
	}
	for _, want := range tests {
		got, err := s.k.Module(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Module(%q) (-want +got):\n%s", want.Name, diff)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		setup func(s *simHost)
		errno unix.Errno
		want  string
	}{
		{"loaded", "kernel/vmm.ko", func(s *simHost) { s.must(s.k.Load(s.file("kernel/vmm.ko"))) },
			unix.EEXIST, "loaded already"},
		{"same file name elsewhere", "modules/vmm.ko", func(s *simHost) { s.file("modules/vmm.ko"); s.must(s.k.Load(s.file("kernel/vmm.ko"))) },
			unix.EEXIST, "loaded already"},
		{"no file", "kernel/nope.ko", func(*simHost) {},
			unix.ENOENT, "check kern.module_path"},
		{"not a module", "kernel/nope.ko", func(s *simHost) { s.file("kernel/nope.ko") },
			unix.ENOEXEC, "see dmesg"},
		{"securelevel", "kernel/nmdm.ko", func(s *simHost) { s.fault("securelevel", "1") },
			unix.EPERM, "securelevel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newHost(t)
			tt.setup(s)
			file := filepath.Join(s.dir, "boot", tt.file)
			err := s.k.Load(file)
			checkError(t, err, tt.errno, "load kernel module "+file+": kldload: ", tt.want)
		})
	}
}

func TestUnload(t *testing.T) {
	s := newHost(t)
	s.must(s.k.Load(s.file("kernel/vmm.ko")))
	// Unloading one module of a file unloads the file, with the other.
	s.must(s.k.Unload("pci/ppt"))
	for _, name := range []string{"vmm", "pci/ppt"} {
		if got, err := s.k.Module(name); err != nil || got.Present {
			t.Errorf("after Unload: Module(%q) = %+v, %v", name, got, err)
		}
	}
	if diff := cmp.Diff([]string{"kldload /boot/kernel/vmm.ko", "kldunload vmm"}, s.trace()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestUnloadErrors(t *testing.T) {
	tests := []struct {
		name   string
		module string
		setup  func(s *simHost)
		errno  unix.Errno
		want   []string
	}{
		{name: "absent", module: "vmm", setup: func(*simHost) {},
			errno: unix.ENOENT, want: []string{"unload kernel module vmm: ", "not loaded"}},
		{name: "built in", module: "if_tuntap", setup: func(*simHost) {},
			errno: unix.EBUSY, want: []string{"unload kernel module if_tuntap: ", "built into the kernel"}},
		{name: "vmm with a VM", module: "vmm",
			setup: func(s *simHost) {
				s.must(s.k.Load(s.file("kernel/vmm.ko")))
				s.must(s.h.VMs.CreateVM("other"))
			},
			errno: unix.EBUSY,
			want:  []string{"unload kernel module vmm: kldunload " + "/", "vmm.ko: ", "the module is in use"}},
		{name: "vmm busy", module: "vmm",
			setup: func(s *simHost) {
				s.must(s.k.Load(s.file("kernel/vmm.ko")))
				s.fault("vmm_busy", "yes")
			},
			errno: unix.EBUSY, want: []string{"the module is in use"}},
		{name: "securelevel", module: "nmdm",
			setup: func(s *simHost) {
				s.must(s.k.Load(s.file("kernel/nmdm.ko")))
				s.fault("securelevel", "2")
			},
			errno: unix.EPERM, want: []string{"kldunload ", "nmdm.ko: ", "securelevel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newHost(t)
			tt.setup(s)
			checkError(t, s.k.Unload(tt.module), tt.errno, tt.want...)
		})
	}
}

func TestSysctl(t *testing.T) {
	s := newHost(t)
	path, err := s.k.SysctlString("kern.module_path")
	if want := s.dir + "/boot/kernel;" + s.dir + "/boot/modules"; err != nil || path != want {
		t.Errorf("SysctlString(kern.module_path) = %q, %v; want %q", path, err, want)
	}
	if v, err := s.k.SysctlInt("kern.osreldate"); err != nil || v != 1403000 {
		t.Errorf("SysctlInt(kern.osreldate) = %d, %v", v, err)
	}
	// A sysctl of a module not loaded is missing, told apart from a zero.
	_, err = s.k.SysctlInt("hw.vmm.maxcpu")
	checkError(t, err, unix.ENOENT, "read sysctl hw.vmm.maxcpu")
	s.must(s.k.Load(s.file("kernel/vmm.ko")))
	for name, want := range map[string]int64{"hw.vmm.maxcpu": 16, "hw.vmm.iommu.enable": 1, "hw.vmm.amdvi.enable": 0, "hw.vmm.ppt.devices": 0} {
		if got, err := s.k.SysctlInt(name); err != nil || got != want {
			t.Errorf("SysctlInt(%s) = %d, %v; want %d", name, got, err, want)
		}
	}
	_, err = s.k.SysctlString("kern.nope")
	checkError(t, err, unix.ENOENT)
	if _, err := s.k.SysctlInt("kern.module_path"); err == nil || !strings.Contains(err.Error(), "is no integer") {
		t.Errorf("SysctlInt of a string: %v", err)
	}
}

func TestEnsure(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *simHost)
		replace bool
		loaded  bool
		file    string // where vmm comes from afterwards, under DIR/boot
		trace   []string
	}{
		{name: "absent", setup: func(*simHost) {}, loaded: true, file: "kernel/vmm.ko",
			trace: []string{"kldload /boot/kernel/vmm.ko"}},
		{name: "from the expected file", setup: func(s *simHost) { s.must(s.k.Load(s.file("kernel/vmm.ko"))) },
			file: "kernel/vmm.ko", trace: []string{"kldload /boot/kernel/vmm.ko"}},
		{name: "from another file, replaced",
			setup:   func(s *simHost) { s.must(s.k.Load(s.file("modules/vmm.ko"))) },
			replace: true, loaded: true, file: "kernel/vmm.ko",
			trace: []string{"kldload /boot/modules/vmm.ko", "kldunload vmm", "kldload /boot/kernel/vmm.ko"}},
		{name: "from another file, kept",
			setup: func(s *simHost) { s.must(s.k.Load(s.file("modules/vmm.ko"))) },
			file:  "modules/vmm.ko", trace: []string{"kldload /boot/modules/vmm.ko"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newHost(t)
			tt.setup(s)
			_, loaded, err := kmod.Ensure(s.k, "vmm", s.file("kernel/vmm.ko"), tt.replace)
			s.must(err)
			if loaded != tt.loaded {
				t.Errorf("loaded = %v, want %v", loaded, tt.loaded)
			}
			got, err := s.k.Module("vmm")
			if want := filepath.Join(s.dir, "boot", tt.file); err != nil || !got.Present || got.File != want {
				t.Errorf("afterwards: Module = %+v, %v; want present from %q", got, err, want)
			}
			if diff := cmp.Diff(tt.trace, s.trace()); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
		})
	}
}

// A module built into the kernel is present; Ensure loads nothing.
func TestEnsureBuiltIn(t *testing.T) {
	s := newHost(t)
	before, loaded, err := kmod.Ensure(s.k, "if_tuntap", s.file("kernel/if_tuntap.ko"), true)
	if err != nil || loaded || !before.Present || before.File != "" || len(s.trace()) != 0 {
		t.Errorf("Ensure(if_tuntap) = %+v, %v, %v; trace %q", before, loaded, err, s.trace())
	}
}

// if_bridge loaded from another file is kept, and the bridges with it.
func TestEnsureKeepsBridge(t *testing.T) {
	s := newHost(t)
	s.must(s.k.Load(s.file("kernel/if_bridge.ko")))
	s.fault("module_files_missing", "yes")
	file, err := kmod.ModuleFile(s.k, "if_bridge")
	s.must(err)
	if _, loaded, err := kmod.Ensure(s.k, "if_bridge", file, false); err != nil || loaded {
		t.Errorf("Ensure(if_bridge) = %v, %v", loaded, err)
	}
	if diff := cmp.Diff([]string{"kldload /boot/kernel/if_bridge.ko"}, s.trace()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestEnsureCannotReplace(t *testing.T) {
	s := newHost(t)
	s.must(s.k.Load(s.file("modules/vmm.ko")))
	s.fault("vmm_busy", "yes")
	_, loaded, err := kmod.Ensure(s.k, "vmm", s.file("kernel/vmm.ko"), true)
	if loaded || !errors.Is(err, unix.EBUSY) {
		t.Fatalf("Ensure = %v, %v; want an error wrapping EBUSY", loaded, err)
	}
	want := "vmm.ko is loaded from a different location (" + s.file("modules/vmm.ko") + ", expected " + s.file("kernel/vmm.ko") + "), but cannot be replaced: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error: %v", err)
	}
}

// A replacement that cannot be loaded puts back the module it replaced.
func TestEnsureReplacementFails(t *testing.T) {
	s := newHost(t)
	other := s.file("modules/vmm.ko")
	s.must(s.k.Load(other))
	_, loaded, err := kmod.Ensure(s.k, "vmm", filepath.Join(s.dir, "boot/missing/vmm.ko"), true)
	if loaded || !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "vmm.ko from "+other+" is loaded again") {
		t.Errorf("Ensure = %v, %v; want an error wrapping ENOENT that says vmm is back", loaded, err)
	}
	if got, _ := s.k.Module("vmm"); got.File != other {
		t.Errorf("afterwards: Module = %+v; want it from %s", got, other)
	}
}

func TestModuleFile(t *testing.T) {
	s := newHost(t)
	got, err := kmod.ModuleFile(s.k, "vmm")
	if want := s.dir + "/boot/kernel/vmm.ko"; err != nil || got != want {
		t.Errorf("ModuleFile = %q, %v; want %q", got, err, want)
	}
}

// TestDriverModule finds the loaded file of a PCI driver from the kernel:
// ath's through its module pci/if_ath_pci, iwlwifi's, a LinuxKPI driver
// without a module, among the loaded files; a driver of no loaded file,
// built in, is ENOENT.
func TestDriverModule(t *testing.T) {
	s := newHost(t)
	files, err := s.k.Files()
	s.must(err)
	if diff := cmp.Diff([]string{"/boot/kernel/kernel", "/boot/kernel/if_iwlwifi.ko", "/boot/kernel/if_ath_pci.ko"}, files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	for driver, want := range map[string]string{"iwlwifi": "if_iwlwifi", "ath": "if_ath_pci"} {
		name, file, err := kmod.DriverModule(s.k, driver)
		if err != nil || name != want || file != "/boot/kernel/"+want+".ko" {
			t.Errorf("DriverModule(%s) = %q, %q, %v; want %s", driver, name, file, err, want)
		}
	}
	_, _, err = kmod.DriverModule(s.k, "nvme")
	checkError(t, err, unix.ENOENT, "driver nvme", "pci/nvme", "if_nvme.ko")
}
