package lifecycle

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
)

// unloadVMM unloads vmm.ko. One the kernel keeps (kldunload answers EBUSY)
// stops nothing: the guest's VM has gone with the guest, and a start
// creates it anew, binds the card again and runs the guest, so the
// command goes on and warns with why vmm.ko stayed (vmmKept).
func (r *Runner) unloadVMM() error {
	r.Log.Info("Unloading vmm.ko")
	err := r.Host.Kernel.Unload("vmm")
	switch {
	case errors.Is(err, syscall.ENOENT):
		r.Log.Warn("vmm.ko is not loaded, nothing to unload")
		return nil
	case errors.Is(err, syscall.EBUSY):
		r.Log.Warnf("vmm.ko could not be unloaded, so it stays loaded (the guest's VM was destroyed all the same, "+
			"and a start creates a new one): %s", r.vmmKept())
		r.Log.Debugf("unload vmm.ko: %v", err)
		return nil
	}
	return failure.New(failure.Environment, err)
}

// vmmKept tells why the kernel refuses to unload vmm.ko, in the order
// kern_kldunload (sys/kern/kern_linker.c) refuses: a file the boot loader
// loaded has no user reference, and is refused before any module is asked;
// then vmm's MOD_UNLOAD refuses while a VM exists (vmm_handler,
// vmmdev_cleanup). So a preloaded vmm.ko is never blamed on other VMs.
func (r *Runner) vmmKept() string {
	h := r.Host
	m, err := h.Kernel.Module("vmm")
	if err == nil && m.File != "" {
		var preloaded bool
		if preloaded, err = kmod.Preloaded(h.Kernel, m.File); err == nil && preloaded {
			return fmt.Sprintf("the boot loader loaded it (vmm_load=\"YES\" in %s or a file it includes), "+
				"and the kernel never unloads a file the boot loader loaded; `sysctl %s` lists %s among them. "+
				"To let wifibox reload vmm.ko, remove vmm_load from the loader's configuration and reboot; "+
				"or set recovery=suspend_guest in %s, which leaves vmm.ko alone",
				filepath.Join(h.Paths.Root, "boot/loader.conf"), kmod.PreloadSysctl, m.File, h.Paths.CoreConf())
		}
	}
	// Unless the loader's files could be read, the loader may have
	// loaded it: no cause is given for sure then.
	unless := ""
	if err != nil {
		unless = fmt.Sprintf(", unless the boot loader loaded it (which cannot be told: %v)", err)
	}
	dir := filepath.Dir(h.Paths.VMDevice(host.VMName))
	others, err := bhyve.OtherVMs(h.Paths)
	switch {
	case err != nil:
		return fmt.Sprintf("the kernel refuses (EBUSY), and the VMs cannot be listed (%v)%s", err, unless)
	case len(others) > 0:
		return fmt.Sprintf("it is in use by another VM: %s (%s)%s; it can be unloaded once no other VM exists, "+
			"and recovery=suspend_guest in %s leaves vmm.ko and the other VMs alone",
			strings.Join(others, ", "), dir, unless, h.Paths.CoreConf())
	case unless != "":
		return "the kernel refuses (EBUSY), and no other VM is under " + dir + unless
	}
	return "the kernel refuses (EBUSY), though the boot loader did not load it and no other VM is under " + dir
}
