package kmod

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// Ensure makes sure the module is present: a module that is absent is
// loaded from file. A module present from another file is replaced (unloaded
// and loaded from file) only when replace is set, and kept otherwise:
// wifibox replaces vmm, and only while no VM runs; it never unloads if_bridge
// or nmdm, whose unloading would destroy every bridge or console of the host.
// It gives the module as it was before, and whether file was loaded. It works
// with any host.Kernel.
func Ensure(k host.Kernel, module, file string, replace bool) (before host.Module, loaded bool, err error) {
	m, err := k.Module(module)
	if err != nil {
		return m, false, err
	}
	if m.Present {
		if !replace || m.File == "" || filepath.Clean(m.File) == filepath.Clean(file) {
			return m, false, nil
		}
		if err := k.Unload(module); err != nil {
			return m, false, fmt.Errorf("%s.ko is loaded from a different location (%s, expected %s), but cannot be replaced: %w",
				module, m.File, file, err)
		}
	}
	if err := k.Load(file); err != nil {
		if !m.Present {
			return m, false, err
		}
		// Put back what was replaced.
		if restoreErr := k.Load(m.File); restoreErr != nil {
			return m, false, fmt.Errorf("%w; %s.ko from %s was unloaded and could not be loaded again: %w", err, module, m.File, restoreErr)
		}
		return m, false, fmt.Errorf("%w; %s.ko from %s is loaded again", err, module, m.File)
	}
	return m, true, nil
}

// ModuleFile gives the file a module is expected in: the first directory of
// kern.module_path, "/", the module's name and ".ko", as the shell
// implementation has it (/boot/kernel/vmm.ko).
func ModuleFile(k host.Kernel, module string) (string, error) {
	path, err := k.SysctlString("kern.module_path")
	if err != nil {
		return "", fmt.Errorf("find the file of kernel module %s: %w", module, err)
	}
	dir, _, _ := strings.Cut(path, ";")
	if dir == "" {
		return "", fmt.Errorf("find the file of kernel module %s: kern.module_path (%q) names no directory first", module, path)
	}
	return dir + "/" + module + ".ko", nil
}

// DriverModule finds, from the kernel, the loaded file that provides a PCI
// driver (the class of a device, iwlwifi of iwlwifi0), and gives its name
// without .ko, the module devmatch(8) loads and devmatch_blocklist names
// (if_iwlwifi), and its path.
// A driver of FreeBSD's own is registered by DRIVER_MODULE(NAME, pci, ...)
// as the module "pci/NAME" (sys/sys/bus.h), NAME being the driver's
// name (iwm, iwn, iwx) or its file's (if_ath_pci, whose driver is ath:
// sys/dev/ath/if_ath_pci.c); Module finds the file holding it (modfind(2),
// then kldnext(2), kldfirstmod(2) and modfnext(2), kldstat(2)). A
// LinuxKPI driver (iwlwifi, rtw88, rtw89) declares no module:
// linux_pci_register_driver (sys/compat/linuxkpi/common/src/linux_pci.c)
// adds it to the pci devclass when its file's SYSINIT runs, and its file
// is if_NAME.ko (KMOD of sys/modules/iwlwifi/Makefile), found among the
// loaded files. ENOENT when no loaded file provides the driver: it is
// built into the kernel, or its file is named otherwise.
func DriverModule(k host.Kernel, driver string) (name, file string, err error) {
	named := func(file string) (string, string, error) {
		return strings.TrimSuffix(filepath.Base(file), ".ko"), file, nil
	}
	for _, module := range []string{"pci/" + driver, "pci/if_" + driver + "_pci"} {
		m, err := k.Module(module)
		if err != nil {
			return "", "", err
		}
		if m.Present && m.File != "" {
			return named(m.File)
		}
	}
	files, err := k.Files()
	if err != nil {
		return "", "", err
	}
	for _, f := range files {
		if filepath.Base(f) == "if_"+driver+".ko" {
			return named(f)
		}
	}
	return "", "", fmt.Errorf("find the kernel module of driver %s: no loaded file provides it (modules pci/%s and pci/if_%s_pci, file if_%s.ko): %w",
		driver, driver, driver, driver, unix.ENOENT)
}
