package kmod

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestEnsure(t *testing.T) {
	const expected = "/boot/kernel/vmm.ko"
	tests := []struct {
		name    string
		setup   func(m *model)
		changed bool
		file    string // where vmm comes from afterwards
		calls   []string
	}{
		{name: "absent", setup: func(*model) {}, changed: true, file: expected,
			calls: []string{"kldload /boot/kernel/vmm.ko"}},
		{name: "from the expected file", setup: func(m *model) { m.add(expected, []string{"vmm"}) },
			file: expected},
		{name: "from the expected file, other spelling", setup: func(m *model) { m.add("/boot/kernel//vmm.ko", []string{"vmm"}) },
			file: "/boot/kernel//vmm.ko"},
		{name: "from a different location",
			setup:   func(m *model) { m.add("/boot/modules/vmm.ko", []string{"vmm"}) },
			changed: true, file: expected,
			calls: []string{"kldunload /boot/modules/vmm.ko", "kldload /boot/kernel/vmm.ko"}},
		{name: "built in", setup: func(m *model) { m.files[0].mods = append(m.files[0].mods, modelMod{id: 99, name: "vmm"}) },
			file: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testModel()
			tt.setup(m)
			k := kernelOf(m)
			changed, err := Ensure(k, "vmm", expected)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			got, err := k.Module("vmm")
			if err != nil || !got.Present || got.File != tt.file {
				t.Errorf("afterwards: Module = %+v, %v; want present from %q", got, err, tt.file)
			}
			if diff := cmp.Diff(tt.calls, m.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsureCannotReplace(t *testing.T) {
	m := testModel()
	m.add("/boot/modules/vmm.ko", []string{"vmm"})
	m.veto["vmm"] = unix.EBUSY
	changed, err := Ensure(kernelOf(m), "vmm", "/boot/kernel/vmm.ko")
	if changed || !errors.Is(err, unix.EBUSY) {
		t.Fatalf("Ensure = %v, %v; want an error wrapping EBUSY", changed, err)
	}
	if !strings.HasPrefix(err.Error(), "vmm.ko is loaded from a different location (/boot/modules/vmm.ko, expected /boot/kernel/vmm.ko), but cannot be replaced: ") {
		t.Errorf("error: %v", err)
	}
	if diff := cmp.Diff([]string{"kldunload /boot/modules/vmm.ko"}, m.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestEnsureLoadFails(t *testing.T) {
	m := testModel()
	m.loadErr["/boot/kernel/vmm.ko"] = unix.ENXIO
	changed, err := Ensure(kernelOf(m), "vmm", "/boot/kernel/vmm.ko")
	if changed || !errors.Is(err, unix.ENXIO) {
		t.Errorf("Ensure = %v, %v; want an error wrapping ENXIO", changed, err)
	}
}

// A replacement that cannot be loaded puts back the module it replaced.
func TestEnsureReplacementFails(t *testing.T) {
	m := testModel()
	m.add("/boot/modules/vmm.ko", []string{"vmm"})
	m.loadErr["/boot/kernel/vmm.ko"] = unix.ENOEXEC
	k := kernelOf(m)
	changed, err := Ensure(k, "vmm", "/boot/kernel/vmm.ko")
	if changed || !errors.Is(err, unix.ENOEXEC) || !strings.Contains(err.Error(), "vmm.ko from /boot/modules/vmm.ko is loaded again") {
		t.Errorf("Ensure = %v, %v; want an error wrapping ENOEXEC that says vmm is back", changed, err)
	}
	if got, _ := k.Module("vmm"); got.File != "/boot/modules/vmm.ko" {
		t.Errorf("afterwards: Module = %+v; want it from /boot/modules/vmm.ko", got)
	}
	// When putting it back fails too, both failures are told.
	m = testModel()
	m.add("/boot/modules/vmm.ko", []string{"vmm"})
	m.loadErr["/boot/kernel/vmm.ko"] = unix.ENOEXEC
	m.loadErr["/boot/modules/vmm.ko"] = unix.ENXIO
	changed, err = Ensure(kernelOf(m), "vmm", "/boot/kernel/vmm.ko")
	if !changed || !errors.Is(err, unix.ENOEXEC) || !errors.Is(err, unix.ENXIO) || !strings.Contains(err.Error(), "could not be loaded again") {
		t.Errorf("Ensure = %v, %v; want both errors", changed, err)
	}
}

func TestModuleFile(t *testing.T) {
	for path, want := range map[string]string{
		"/boot/kernel;/boot/modules;/boot/dtb/overlays\x00": "/boot/kernel/vmm.ko",
		"/boot/kernel\x00": "/boot/kernel/vmm.ko",
	} {
		m := testModel()
		m.sysctls["kern.module_path"] = []byte(path)
		got, err := ModuleFile(kernelOf(m), "vmm")
		if err != nil || got != want {
			t.Errorf("ModuleFile with kern.module_path %q = %q, %v; want %q", path, got, err, want)
		}
	}
	m := testModel()
	m.sysctls["kern.module_path"] = []byte(";/boot/modules\x00")
	if _, err := ModuleFile(kernelOf(m), "vmm"); err == nil || !strings.Contains(err.Error(), "names no directory first") {
		t.Errorf("ModuleFile with an empty first directory: %v", err)
	}
	if _, err := ModuleFile(kernelOf(testModel()), "vmm"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("ModuleFile without kern.module_path: %v", err)
	}
}
