package kmod

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/abitest"
)

// testModel is a GENERIC-like kernel: if_bridge built in; vmm on disk in
// two places, nmdm, and a file with two modules.
func testModel() *model {
	return newModel([]string{"kernel", "if_bridge"}, map[string][]string{
		"/boot/kernel/vmm.ko":       {"vmm"},
		"/boot/modules/vmm.ko":      {"vmm"},
		"/boot/kernel/nmdm.ko":      {"nmdm"},
		"/boot/kernel/if_tuntap.ko": {"if_tuntap", "if_tap"},
	})
}

func kernelOf(m *model) *Kernel {
	return &Kernel{sys: m}
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

func TestABI(t *testing.T) {
	var s kldFileStat
	abitest.Check(t, map[string]int64{
		"sys.kldload":                     sysKldload,
		"sys.kldunload":                   sysKldunload,
		"sys.kldnext":                     sysKldnext,
		"sys.kldstat":                     sysKldstat,
		"sys.kldfirstmod":                 sysKldfirstmod,
		"sys.modfnext":                    sysModfnext,
		"sys.modfind":                     sysModfind,
		"MAXPATHLEN":                      maxPathLen,
		"sizeof.kld_file_stat":            int64(unsafe.Sizeof(s)),
		"offsetof.kld_file_stat.version":  int64(unsafe.Offsetof(s.version)),
		"offsetof.kld_file_stat.name":     int64(unsafe.Offsetof(s.name)),
		"offsetof.kld_file_stat.refs":     int64(unsafe.Offsetof(s.refs)),
		"offsetof.kld_file_stat.id":       int64(unsafe.Offsetof(s.id)),
		"offsetof.kld_file_stat.address":  int64(unsafe.Offsetof(s.address)),
		"offsetof.kld_file_stat.size":     int64(unsafe.Offsetof(s.size)),
		"offsetof.kld_file_stat.pathname": int64(unsafe.Offsetof(s.pathname)),
	})
}

// TestKldFileStatBytes fills a kld_file_stat the way the kernel does, by
// offset in the C struct, and reads it back through the Go struct.
func TestKldFileStatBytes(t *testing.T) {
	stat := newKldFileStat()
	raw := unsafe.Slice((*byte)(unsafe.Pointer(stat)), unsafe.Sizeof(*stat))
	if got := binary.NativeEndian.Uint32(raw[0:]); got != 2080 {
		t.Errorf("version = %d, want 2080", got)
	}
	const path = "/boot/kernel/vmm.ko"
	copy(raw[1056:], path+"\x00garbage after the NUL")
	if got := stat.path(); got != path {
		t.Errorf("path() = %q, want %q", got, path)
	}
	// A path that fills the whole field has no NUL.
	full := strings.Repeat("x", maxPathLen)
	copy(raw[1056:], full)
	if got := stat.path(); got != full {
		t.Errorf("path() of a full field has %d bytes, want %d", len(got), maxPathLen)
	}
}

func TestModule(t *testing.T) {
	m := testModel()
	m.add("/boot/modules/vmm.ko", []string{"vmm"})
	m.add("/boot/kernel/if_tuntap.ko", []string{"if_tuntap", "if_tap"})
	k := kernelOf(m)
	tests := []host.Module{
		{Name: "vmm", Present: true, File: "/boot/modules/vmm.ko"},
		{Name: "if_bridge", Present: true},                                 // built in
		{Name: "if_tap", Present: true, File: "/boot/kernel/if_tuntap.ko"}, // second in its file
		{Name: "nmdm"}, // absent
	}
	for _, want := range tests {
		got, err := k.Module(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Module(%q) (-want +got):\n%s", want.Name, diff)
		}
	}
}

func TestLoad(t *testing.T) {
	m := testModel()
	k := kernelOf(m)
	if err := k.Load("/boot/kernel/vmm.ko"); err != nil {
		t.Fatal(err)
	}
	got, err := k.Module("vmm")
	if err != nil || got.File != "/boot/kernel/vmm.ko" {
		t.Errorf("after Load: Module = %+v, %v", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		setup func(m *model)
		errno unix.Errno
		want  string
	}{
		{"loaded", "/boot/kernel/vmm.ko", func(m *model) { m.add("/boot/kernel/vmm.ko", []string{"vmm"}) },
			unix.EEXIST, "loaded already"},
		{"same module elsewhere", "/boot/modules/vmm.ko", func(m *model) { m.add("/boot/kernel/vmm.ko", []string{"vmm"}) },
			unix.EEXIST, "loaded already"},
		{"no file", "/boot/kernel/nope.ko", func(*model) {},
			unix.ENOENT, "check kern.module_path"},
		{"vmm without VT-x", "/boot/kernel/vmm.ko", func(m *model) { m.loadErr["/boot/kernel/vmm.ko"] = unix.ENXIO },
			unix.ENXIO, "VT-x or AMD-V"},
		{"vmm fails", "/boot/kernel/vmm.ko", func(m *model) { m.loadErr["/boot/kernel/vmm.ko"] = unix.ENOEXEC },
			unix.ENOEXEC, "nested virtualisation"},
		{"other fails", "/boot/kernel/nmdm.ko", func(m *model) { m.loadErr["/boot/kernel/nmdm.ko"] = unix.ENOEXEC },
			unix.ENOEXEC, "see dmesg"},
		{"not root", "/boot/kernel/nmdm.ko", func(m *model) { m.loadErr["/boot/kernel/nmdm.ko"] = unix.EPERM },
			unix.EPERM, "securelevel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testModel()
			tt.setup(m)
			err := kernelOf(m).Load(tt.file)
			checkError(t, err, tt.errno, "load kernel module "+tt.file+": kldload: ", tt.want)
		})
	}
}

func TestUnload(t *testing.T) {
	m := testModel()
	m.add("/boot/kernel/if_tuntap.ko", []string{"if_tuntap", "if_tap"})
	k := kernelOf(m)
	// Unloading one module of a file unloads the file, with the other.
	if err := k.Unload("if_tap"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"if_tap", "if_tuntap"} {
		if got, err := k.Module(name); err != nil || got.Present {
			t.Errorf("after Unload: Module(%q) = %+v, %v", name, got, err)
		}
	}
	if diff := cmp.Diff([]string{"kldunload /boot/kernel/if_tuntap.ko"}, m.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestUnloadErrors(t *testing.T) {
	tests := []struct {
		name   string
		module string
		setup  func(m *model)
		errno  unix.Errno
		want   []string
		calls  []string
	}{
		{name: "absent", module: "vmm", setup: func(*model) {},
			errno: unix.ENOENT, want: []string{"unload kernel module vmm: ", "not loaded"}},
		{name: "built in", module: "if_bridge", setup: func(*model) {},
			errno: unix.EBUSY, want: []string{"unload kernel module if_bridge: ", "built into the kernel"}},
		{name: "vmm with VMs", module: "vmm",
			setup: func(m *model) {
				m.add("/boot/kernel/vmm.ko", []string{"vmm"})
				m.veto["vmm"] = unix.EBUSY
			},
			errno: unix.EBUSY,
			want:  []string{"unload kernel module vmm: kldunload /boot/kernel/vmm.ko: ", "the module is in use"},
			calls: []string{"kldunload /boot/kernel/vmm.ko"}},
		{name: "depended on", module: "nmdm",
			setup: func(m *model) {
				m.add("/boot/kernel/nmdm.ko", []string{"nmdm"})
				m.held["/boot/kernel/nmdm.ko"] = true
			},
			errno: unix.EBUSY, want: []string{"kldunload /boot/kernel/nmdm.ko: ", "another loaded file depends on it"},
			calls: []string{"kldunload /boot/kernel/nmdm.ko"}},
		{name: "other in use", module: "nmdm",
			setup: func(m *model) {
				m.add("/boot/kernel/nmdm.ko", []string{"nmdm"})
				m.veto["nmdm"] = unix.EBUSY
			},
			errno: unix.EBUSY, want: []string{"kldunload /boot/kernel/nmdm.ko: ", "in use"},
			calls: []string{"kldunload /boot/kernel/nmdm.ko"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testModel()
			tt.setup(m)
			err := kernelOf(m).Unload(tt.module)
			checkError(t, err, tt.errno, tt.want...)
			if diff := cmp.Diff(tt.calls, m.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSysctl(t *testing.T) {
	m := testModel()
	le := binary.NativeEndian
	m.sysctls["hw.vmm.maxcpu"] = le.AppendUint32(nil, 16)
	m.sysctls["hw.vmm.iommu.enable"] = le.AppendUint32(nil, 0)
	m.sysctls["kern.minus"] = le.AppendUint32(nil, uint32(0xffffffff))
	m.sysctls["hw.physmem"] = le.AppendUint64(nil, 1<<34)
	m.sysctls["kern.odd"] = []byte{1, 2}
	m.sysctls["kern.module_path"] = []byte("/boot/kernel;/boot/modules\x00")
	k := kernelOf(m)

	for name, want := range map[string]int64{
		"hw.vmm.maxcpu": 16, "hw.vmm.iommu.enable": 0, "kern.minus": -1, "hw.physmem": 1 << 34,
	} {
		if got, err := k.SysctlInt(name); err != nil || got != want {
			t.Errorf("SysctlInt(%s) = %d, %v; want %d", name, got, err, want)
		}
	}
	if got, err := k.SysctlString("kern.module_path"); err != nil || got != "/boot/kernel;/boot/modules" {
		t.Errorf("SysctlString(kern.module_path) = %q, %v", got, err)
	}
	// A missing sysctl is told apart from a zero.
	if _, err := k.SysctlInt("hw.vmm.amdvi.enable"); !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "read sysctl hw.vmm.amdvi.enable") {
		t.Errorf("SysctlInt of a missing sysctl: %v", err)
	}
	if _, err := k.SysctlString("kern.nope"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("SysctlString of a missing sysctl: %v", err)
	}
	if _, err := k.SysctlInt("kern.odd"); err == nil || !strings.Contains(err.Error(), "read sysctl kern.odd: 2 bytes is no integer") {
		t.Errorf("SysctlInt of 2 bytes: %v", err)
	}
}
