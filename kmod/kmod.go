// Package kmod is the FreeBSD implementation of host.Kernel: it loads and
// unloads kernel modules and reads sysctls with the system calls themselves
// (kldload(2), kldunload(2), kldnext(2), kldstat(2), kldfirstmod(2),
// modfnext(2), modfind(2), sysctl(3)), made through sys.Sys, and explains
// their failures. It also owns wifibox's rule for a module that must be
// present (Ensure, ModuleFile), which works with any host.Kernel. On FreeBSD
// it runs over sys.Native(); in the simulated host and the tests over the
// kernel model, sim.Kernel.
package kmod

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// Kernel implements host.Kernel over the system calls of s.
type Kernel struct {
	sys sys.Sys
}

var _ host.Kernel = (*Kernel)(nil)

// New gives the Kernel that makes its calls through s.
func New(s sys.Sys) *Kernel { return &Kernel{sys: s} }

// Module tells whether the module is present and which file it came from.
func (k *Kernel) Module(name string) (host.Module, error) {
	fileid, err := k.provider(name)
	if err != nil {
		return host.Module{}, fmt.Errorf("look up kernel module %s: %w", name, err)
	}
	m := host.Module{Name: name, Present: fileid != 0}
	if m.Present && fileid != kernelFileID {
		if m.File, err = k.path(fileid); err != nil {
			return host.Module{}, fmt.Errorf("look up kernel module %s: %w", name, err)
		}
	}
	return m, nil
}

// Load loads a kernel module file (kldload).
func (k *Kernel) Load(file string) error {
	if _, err := k.sys.Kldload(file); err != nil {
		return fmt.Errorf("load kernel module %s: kldload: %w%s", file, err, loadHint(file, err))
	}
	return nil
}

// Unload unloads the file that provides the module (kldunload), with every
// other module in that file.
func (k *Kernel) Unload(module string) error {
	fileid, err := k.provider(module)
	switch {
	case err != nil:
		return fmt.Errorf("unload kernel module %s: %w", module, err)
	case fileid == 0:
		return fmt.Errorf("unload kernel module %s: %w (the module is not loaded)", module, unix.ENOENT)
	case fileid == kernelFileID:
		return fmt.Errorf("unload kernel module %s: %w (it is built into the kernel)", module, unix.EBUSY)
	}
	file, err := k.path(fileid)
	if err != nil {
		return fmt.Errorf("unload kernel module %s: %w", module, err)
	}
	if err := k.sys.Kldunload(fileid); err != nil {
		return fmt.Errorf("unload kernel module %s: kldunload %s: %w%s", module, file, err, unloadHint(module, err))
	}
	// The kernel only drops a reference to a file that another loaded
	// file depends on, and reports success.
	after, err := k.provider(module)
	if err != nil {
		return fmt.Errorf("unload kernel module %s: after kldunload %s: %w", module, file, err)
	}
	if after != 0 {
		return fmt.Errorf("unload kernel module %s: kldunload %s: the module is still loaded, another loaded file depends on it: %w", module, file, unix.EBUSY)
	}
	return nil
}

// Files lists the paths of the loaded files in the kernel's order (kldnext,
// kldstat).
func (k *Kernel) Files() ([]string, error) {
	var files []string
	for fileid := 0; ; {
		var err error
		if fileid, err = k.sys.Kldnext(fileid); err != nil {
			return nil, fmt.Errorf("list the loaded files: kldnext: %w", err)
		}
		if fileid == 0 {
			return files, nil
		}
		path, err := k.path(fileid)
		if err != nil {
			return nil, fmt.Errorf("list the loaded files: %w", err)
		}
		files = append(files, path)
	}
}

// SysctlInt reads an integer sysctl (int, u_int, long or u_long).
func (k *Kernel) SysctlInt(name string) (int64, error) {
	b, err := k.sys.Sysctl(name)
	if err != nil {
		return 0, fmt.Errorf("read sysctl %s: %w", name, err)
	}
	n, err := decodeInt(b)
	if err != nil {
		return 0, fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return n, nil
}

// SysctlString reads a string sysctl.
func (k *Kernel) SysctlString(name string) (string, error) {
	b, err := k.sys.Sysctl(name)
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return unix.ByteSliceToString(b), nil
}

// provider finds the id of the file holding the module, kernelFileID for a
// module built into the kernel, 0 if the module is not present: modfind, then
// a walk through the loaded files (kldnext) and the modules of each
// (kldfirstmod, modfnext).
func (k *Kernel) provider(name string) (int, error) {
	modid, err := k.sys.Modfind(name)
	if errors.Is(err, unix.ENOENT) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("modfind: %w", err)
	}
	fileid := 0
	for {
		if fileid, err = k.sys.Kldnext(fileid); err != nil {
			return 0, fmt.Errorf("kldnext: %w", err)
		}
		if fileid == 0 {
			return 0, fmt.Errorf("no loaded file holds module %d: %w", modid, unix.ENOENT)
		}
		m, err := k.sys.Kldfirstmod(fileid)
		for ; err == nil && m != 0; m, err = k.sys.Modfnext(m) {
			if m == modid {
				return fileid, nil
			}
		}
		if err != nil {
			return 0, fmt.Errorf("list the modules of file %d: %w", fileid, err)
		}
	}
}

// path gives the full path of a loaded file (kldstat).
func (k *Kernel) path(fileid int) (string, error) {
	stat := abi.KldFileStat{Version: int32(abi.SizeofKldFileStat)}
	if err := k.sys.Kldstat(fileid, unsafe.Pointer(&stat)); err != nil {
		return "", fmt.Errorf("kldstat %d: %w", fileid, err)
	}
	return unix.ByteSliceToString(stat.Pathname[:]), nil
}

const rootHint = " (wifibox must run as root, and kern.securelevel must be 0 or less)"

// loadHint tells what a kldload failure likely means for the file.
func loadHint(file string, err error) string {
	switch {
	case errors.Is(err, unix.EPERM):
		return rootHint
	case errors.Is(err, unix.ENOENT):
		return " (no such file: check kern.module_path)"
	case errors.Is(err, unix.EEXIST):
		return " (it, or a module in it, is loaded already)"
	case filepath.Base(file) == "vmm.ko" && (errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENOEXEC)):
		return " (vmm cannot start: enable the CPU's virtualisation, VT-x or AMD-V, in the firmware settings; inside a virtual machine, nested virtualisation must be on)"
	case errors.Is(err, unix.ENOEXEC):
		return " (not a module for this kernel, or it failed to start: see dmesg)"
	}
	return ""
}

// unloadHint tells what a kldunload failure likely means for the module.
func unloadHint(module string, err error) string {
	switch {
	case errors.Is(err, unix.EPERM):
		return rootHint
	case errors.Is(err, unix.EBUSY):
		return " (the module is in use)"
	}
	return ""
}
