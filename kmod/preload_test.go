package kmod_test

import (
	"errors"
	"testing"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/kmod"
)

// TestPreloaded: a vmm.ko the boot loader loaded is named by the preload
// metadata and cannot be unloaded; one kldload loaded is not named.
func TestPreloaded(t *testing.T) {
	s := newHost(t)
	vmm := s.file("kernel/vmm.ko")
	s.must(s.k.Load(vmm))
	if pre, err := kmod.Preloaded(s.k, vmm); err != nil || pre {
		t.Errorf("kldloaded: Preloaded = %v, %v; want false", pre, err)
	}
	s.must(s.k.Unload("vmm"))

	s.fault("vmm_preloaded", "yes")
	m, err := s.k.Module("vmm")
	if err != nil || !m.Present || m.File != vmm {
		t.Fatalf("preloaded: Module = %+v, %v; want present from %s", m, err, vmm)
	}
	if pre, err := kmod.Preloaded(s.k, vmm); err != nil || !pre {
		t.Errorf("preloaded: Preloaded = %v, %v; want true", pre, err)
	}
	if pre, err := kmod.Preloaded(s.k, s.file("modules/vmm.ko")); err != nil || pre {
		t.Errorf("another file: Preloaded = %v, %v; want false", pre, err)
	}
	if err := s.k.Unload("vmm"); !errors.Is(err, abi.EBUSY) {
		t.Errorf("preloaded: Unload = %v, want EBUSY", err)
	}
	// The kernel itself is the loader's too, but holds no vmm.
	if pre, err := kmod.Preloaded(s.k, "/boot/kernel/kernel"); err != nil || !pre {
		t.Errorf("the kernel: Preloaded = %v, %v; want true", pre, err)
	}
}
