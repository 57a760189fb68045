package vmmapi

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// stub is a stand-in libvmmapi built from testdata/stub_vmmapi.c into the
// test's own directory, so each test has a library of its own, with its own
// state, that no other test has loaded.
type stub struct {
	path string
}

func buildStub(t *testing.T, defines ...string) stub {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is needed to build the stand-in libvmmapi (testdata/stub_vmmapi.c): install gcc")
	}
	path := filepath.Join(t.TempDir(), "libvmmapi.so.6")
	args := append([]string{"-shared", "-fPIC", "-Wall", "-Werror", "-o", path}, defines...)
	args = append(args, filepath.Join("testdata", "stub_vmmapi.c"))
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("build stand-in libvmmapi: %v\n%s", err, out)
	}
	return stub{path: path}
}

// vms gives VMs that use the stub through the same code path as FreeBSD's
// libvmmapi, with glibc's errno, on a host where the VM wifibox exists.
func (s stub) vms(t *testing.T) *VMs {
	return New(Config{Paths: pathsWithVM(t), Libraries: []string{s.path}})
}

// control opens the stub (the handle VMs uses, once VMs has loaded it).
func (s stub) control(t *testing.T) (fail func(call string, errno int32), calls func() string) {
	t.Helper()
	h, err := purego.Dlopen(s.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	purego.RegisterLibFunc(&fail, h, "stub_fail")
	purego.RegisterLibFunc(&calls, h, "stub_calls")
	return fail, calls
}

// vanish makes a failing vm_open of the stub remove the file at path.
func (s stub) vanish(t *testing.T, path string) {
	t.Helper()
	h, err := purego.Dlopen(s.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	var vanish func(string)
	purego.RegisterLibFunc(&vanish, h, "stub_vanish")
	vanish(path)
}

// loaded tells whether the process has loaded the library (glibc's
// RTLD_NOLOAD opens it only if it is loaded already).
func (s stub) loaded() bool {
	const rtldNoload = 0x4
	_, err := purego.Dlopen(s.path, purego.RTLD_NOW|rtldNoload)
	return err == nil
}

func TestCallsAndArguments(t *testing.T) {
	tests := []struct {
		name  string
		do    func(v *VMs) error
		calls string
	}{
		{"create", func(v *VMs) error { return v.CreateVM("wifibox") },
			"vm_create wifibox\n"},
		{"reset", func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendReset) },
			"vm_open wifibox\nvm_suspend wifibox 1\nvm_close wifibox\n"},
		{"poweroff", func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendPowerOff) },
			"vm_open wifibox\nvm_suspend wifibox 2\nvm_close wifibox\n"},
		{"halt", func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendHalt) },
			"vm_open wifibox\nvm_suspend wifibox 3\nvm_close wifibox\n"},
		{"destroy", func(v *VMs) error { return v.DestroyVM("wifibox") },
			"vm_open wifibox\nvm_destroy wifibox\n"},
		{"active", func(v *VMs) error { _, err := v.BootCPUActive("wifibox"); return err },
			"vm_open wifibox\nvm_active_cpus wifibox\nvm_close wifibox\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := buildStub(t)
			v := s.vms(t)
			if err := tt.do(v); err != nil {
				t.Fatal(err)
			}
			_, calls := s.control(t)
			if got := calls(); got != tt.calls {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tt.calls)
			}
		})
	}
}

func TestErrno(t *testing.T) {
	tests := []struct {
		name  string
		fail  string // the call that fails
		errno unix.Errno
		do    func(v *VMs) error
		want  []string // in the message
		calls string
		also  unix.Errno // a second errno the error wraps
	}{
		{name: "create exists", fail: "vm_create", errno: unix.EEXIST,
			do:    func(v *VMs) error { return v.CreateVM("wifibox") },
			want:  []string{"create VM wifibox: vm_create: ", "a VM named wifibox exists already", "`wifibox stop`"},
			calls: "vm_create wifibox\n"},
		{name: "create no vmm", fail: "vm_create", errno: unix.ENXIO,
			do:   func(v *VMs) error { return v.CreateVM("wifibox") },
			want: []string{"vm_create", "VT-x or AMD-V"}, calls: "vm_create wifibox\n"},
		{name: "create not root", fail: "vm_create", errno: unix.EPERM,
			do:   func(v *VMs) error { return v.CreateVM("wifibox") },
			want: []string{"vm_create", "root", "allow.vmm"}, calls: "vm_create wifibox\n"},
		{name: "create bad name", fail: "vm_create", errno: unix.EINVAL,
			do:   func(v *VMs) error { return v.CreateVM("wifibox") },
			want: []string{"create VM wifibox: vm_create: Invalid argument"}, calls: "vm_create wifibox\n"},
		{name: "active bad size", fail: "vm_active_cpus", errno: unix.ERANGE,
			do:    func(v *VMs) error { _, err := v.BootCPUActive("wifibox"); return err },
			want:  []string{"query VM wifibox: vm_active_cpus: "},
			calls: "vm_open wifibox\nvm_active_cpus wifibox\nvm_close wifibox\n"},
		{name: "active no VM", fail: "vm_open", errno: unix.ENOENT,
			do:    func(v *VMs) error { _, err := v.BootCPUActive("wifibox"); return err },
			want:  []string{"query VM wifibox: vm_open: ", "no VM named wifibox"},
			calls: "vm_open wifibox\n"},
		{name: "suspend busy", fail: "vm_suspend", errno: unix.EBUSY,
			do:    func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendPowerOff) },
			want:  []string{"suspend VM wifibox: vm_suspend: "},
			calls: "vm_open wifibox\nvm_suspend wifibox 2\nvm_close wifibox\n"},
		{name: "suspend already", fail: "vm_suspend", errno: unix.EALREADY,
			do:    func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendPowerOff) },
			want:  []string{"vm_suspend", "suspended already"},
			calls: "vm_open wifibox\nvm_suspend wifibox 2\nvm_close wifibox\n"},
		{name: "destroy not root", fail: "vm_open", errno: unix.EPERM,
			do:    func(v *VMs) error { return v.DestroyVM("wifibox") },
			want:  []string{"destroy VM wifibox: vm_open: ", "root"},
			calls: "vm_open wifibox\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := buildStub(t)
			fail, calls := s.control(t)
			fail(tt.fail, int32(tt.errno))
			err := tt.do(s.vms(t))
			if !errors.Is(err, tt.errno) {
				t.Fatalf("error %v does not wrap %v", err, tt.errno)
			}
			if tt.also != 0 && !errors.Is(err, tt.also) {
				t.Errorf("error %v does not wrap %v", err, tt.also)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := calls(); got != tt.calls {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tt.calls)
			}
		})
	}
}

// TestWithoutVMClose: a libvmmapi without vm_close (12.x) cannot free a
// ctx but by vm_destroy, so each VM is opened once and its ctx reused,
// until vm_destroy frees it: no ctx is leaked a call.
func TestWithoutVMClose(t *testing.T) {
	s := buildStub(t, "-DNO_VM_CLOSE")
	v := s.vms(t)
	for range 2 {
		if err := v.SuspendVM("wifibox", host.SuspendPowerOff); err != nil {
			t.Fatal(err)
		}
		if _, err := v.BootCPUActive("wifibox"); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.DestroyVM("wifibox"); err != nil {
		t.Fatal(err)
	}
	if err := v.SuspendVM("wifibox", host.SuspendPowerOff); err != nil {
		t.Fatal(err)
	}
	_, calls := s.control(t)
	want := "vm_open wifibox\nvm_suspend wifibox 2\nvm_active_cpus wifibox\nvm_suspend wifibox 2\nvm_active_cpus wifibox\n" +
		"vm_destroy wifibox\nvm_open wifibox\nvm_suspend wifibox 2\n"
	if got := calls(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestOpensOnFirstNeed(t *testing.T) {
	s := buildStub(t)
	v := s.vms(t)
	if s.loaded() {
		t.Fatal("New loaded libvmmapi")
	}
	if _, err := v.VMExists("wifibox"); err != nil {
		t.Fatal(err)
	}
	if s.loaded() {
		t.Fatal("VMExists loaded libvmmapi")
	}
	if err := v.CreateVM("wifibox"); err != nil {
		t.Fatal(err)
	}
	if !s.loaded() {
		t.Fatal("CreateVM did not load libvmmapi")
	}
}

func TestNewestFirst(t *testing.T) {
	s := buildStub(t)
	absent := filepath.Join(t.TempDir(), "libvmmapi.so.7")
	v := New(Config{Paths: host.DefaultPaths(t.TempDir()), Libraries: []string{absent, s.path}})
	if err := v.CreateVM("wifibox"); err != nil {
		t.Fatal(err)
	}
	_, calls := s.control(t)
	if got := calls(); got != "vm_create wifibox\n" {
		t.Errorf("calls: %q", got)
	}
}

func TestMissingLibrary(t *testing.T) {
	// The defaults: libvmmapi is not installed on Linux.
	v := New(Config{Paths: pathsWithVM(t)})
	exists, err := v.VMExists("wifibox")
	if err != nil || !exists {
		t.Fatalf("VMExists without libvmmapi = %v, %v", exists, err)
	}
	ops := map[string]func() error{
		"create VM wifibox: ":  func() error { return v.CreateVM("wifibox") },
		"suspend VM wifibox: ": func() error { return v.SuspendVM("wifibox", host.SuspendPowerOff) },
		"destroy VM wifibox: ": func() error { return v.DestroyVM("wifibox") },
	}
	for prefix, op := range ops {
		err := op()
		if err == nil {
			t.Fatalf("%s succeeded without libvmmapi", prefix)
		}
		msg := err.Error()
		want := append([]string{prefix, "is the base system complete?", "/usr/lib/libvmmapi.so.N"}, sonames...)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q lacks %q", msg, w)
			}
		}
	}
}

func TestMissingFunction(t *testing.T) {
	// glibc is a library that dlopen finds but that has no vm_create.
	v := New(Config{Paths: host.DefaultPaths(t.TempDir()), Libraries: []string{"libc.so.6"}})
	err := v.CreateVM("wifibox")
	if err == nil || !strings.Contains(err.Error(), "no function vm_create") {
		t.Errorf("CreateVM with a library lacking vm_create: %v", err)
	}
}

// TestBootCPUActive: the boot vCPU's bit of the active set is read.
func TestBootCPUActive(t *testing.T) {
	s := buildStub(t)
	v := s.vms(t)
	if active, err := v.BootCPUActive("wifibox"); !active || err != nil {
		t.Errorf("BootCPUActive = %v, %v; want true", active, err)
	}
	h, err := purego.Dlopen(s.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	var inactive func()
	purego.RegisterLibFunc(&inactive, h, "stub_inactive")
	inactive()
	if active, err := v.BootCPUActive("wifibox"); active || err != nil {
		t.Errorf("BootCPUActive with no vCPU active = %v, %v; want false", active, err)
	}
}

// A VM whose node is not there is not opened: 12.x's vm_open destroys what
// it fails to open.
func TestNoVMNoOpen(t *testing.T) {
	for op, do := range map[string]func(v *VMs) error{
		"suspend": func(v *VMs) error { return v.SuspendVM("wifibox", host.SuspendPowerOff) },
		"destroy": func(v *VMs) error { return v.DestroyVM("wifibox") },
	} {
		t.Run(op, func(t *testing.T) {
			s := buildStub(t, "-DOPEN_DESTROYS")
			v := New(Config{Paths: host.DefaultPaths(t.TempDir()), Libraries: []string{s.path}})
			err := do(v)
			if !errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), op+" VM wifibox: ") || !strings.Contains(err.Error(), "there is no VM named wifibox") {
				t.Errorf("error %v; want no such VM", err)
			}
			if _, calls := s.control(t); calls() != "" {
				t.Errorf("calls:\n%s\nwant none", calls())
			}
		})
	}
}

// A VM that goes as it is opened is no VM, although 12.x's vm_open
// leaves errno EINVAL from its vm_destroy.
func TestVMGoneAsOpened(t *testing.T) {
	s := buildStub(t, "-DOPEN_DESTROYS")
	paths := pathsWithVM(t)
	v := New(Config{Paths: paths, Libraries: []string{s.path}})
	fail, calls := s.control(t)
	fail("vm_open", int32(unix.ENOENT))
	s.vanish(t, paths.VMDevice("wifibox"))
	err := v.DestroyVM("wifibox")
	if !errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EINVAL) {
		t.Errorf("error %v; want no such VM", err)
	}
	if got, want := calls(), "vm_open wifibox\nvm_destroy wifibox\n"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}
