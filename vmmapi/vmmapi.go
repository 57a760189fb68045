// Package vmmapi is the FreeBSD implementation of host.VMs: it creates,
// forces off and destroys bhyve virtual machines through FreeBSD's libvmmapi,
// which it opens at run time with purego (no cgo), on the first call that
// needs it, so that a system without libvmmapi still runs the commands that
// need no VM. It owns the list of libvmmapi sonames, the binding of the few
// functions wifibox calls (the function table, Library), the reading of errno
// right after each call, and the messages that explain a failure to the user.
// NewWithLibrary takes a function table instead: the simulated host's model
// of libvmmapi.
package vmmapi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
)

// sonames are the names libvmmapi has had, newest first: .so.5 up to 13.x,
// .so.6 on 14.x and 15.x, .so.7 expected later; the plain name last.
var sonames = []string{"libvmmapi.so.7", "libvmmapi.so.6", "libvmmapi.so.5", "libvmmapi.so"}

// ErrnoLocation names the C library function that gives the address of the
// calling thread's errno, and the library holding it.
type ErrnoLocation struct {
	Library string
	Symbol  string
}

// errnoLocations are the errno functions of the C libraries vmmapi runs
// with: FreeBSD's, and glibc's for the tests on Linux.
var errnoLocations = map[string]ErrnoLocation{
	"freebsd": {Library: "libc.so.7", Symbol: "__error"},
	"linux":   {Library: "libc.so.6", Symbol: "__errno_location"},
}

// Config says where vmmapi finds the device nodes and the libraries. Zero
// fields take the values of the running system.
type Config struct {
	// Paths are the host's paths; Paths.VMDevice is each VM's device
	// node. By default host.DefaultPaths("/").
	Paths host.Paths
	// Libraries are the names or paths dlopen tries, in order; by default
	// libvmmapi.so.7, libvmmapi.so.6, libvmmapi.so.5, libvmmapi.so.
	Libraries []string
	// Errno is where errno is read after a failed call.
	Errno ErrnoLocation
}

// VMs implements host.VMs with libvmmapi. It is safe for concurrent use.
type VMs struct {
	paths host.Paths
	load  func() (*library, error)
}

// NewWithLibrary returns VMs that call the given function table, on the
// host whose paths are given.
func NewWithLibrary(paths host.Paths, lib *Library) *VMs {
	l := &library{Library: lib}
	return &VMs{paths: paths, load: func() (*library, error) { return l, nil }}
}

var _ host.VMs = (*VMs)(nil)

// New returns VMs that open libvmmapi on first use.
func New(c Config) *VMs {
	if c.Paths == (host.Paths{}) {
		c.Paths = host.DefaultPaths("/")
	}
	if len(c.Libraries) == 0 {
		c.Libraries = sonames
	}
	if c.Errno == (ErrnoLocation{}) {
		c.Errno = errnoLocations[runtime.GOOS]
	}
	return &VMs{
		paths: c.Paths,
		load: sync.OnceValues(func() (*library, error) {
			lib, err := Open(c.Libraries, c.Errno)
			if err != nil {
				return nil, err
			}
			return &library{Library: lib}, nil
		}),
	}
}

// CreateVM creates the VM (vm_create).
func (v *VMs) CreateVM(name string) error {
	lib, err := v.load()
	if err != nil {
		return fmt.Errorf("create VM %s: %w", name, err)
	}
	if errno := lib.create(name); errno != 0 {
		return callError("create", "vm_create", name, errno)
	}
	return nil
}

// VMExists tells whether the VM's device node (Paths.VMDevice) exists; it
// needs no libvmmapi.
func (v *VMs) VMExists(name string) (bool, error) {
	_, err := os.Stat(v.paths.VMDevice(name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check whether VM %s exists: %w", name, err)
}

// SuspendVM forces the VM into the given suspend state (vm_open,
// vm_suspend, vm_close). A VM whose node /dev/vmm/NAME is not there is not
// opened: 12.x's vm_open destroys what it fails to open.
func (v *VMs) SuspendVM(name string, how host.SuspendHow) error {
	value, err := suspendValue(runtime.GOARCH, how)
	if err != nil {
		return fmt.Errorf("suspend VM %s: %w", name, err)
	}
	lib, ctx, err := v.open("suspend", name)
	if err != nil {
		return err
	}
	defer lib.close(ctx)
	if errno := lib.suspend(ctx, value); errno != 0 {
		lib.gone(name, errno)
		return callError("suspend", "vm_suspend", name, errno)
	}
	return nil
}

// BootCPUActive tells whether the VM's boot vCPU is active (vm_open,
// vm_active_cpus, vm_close).
func (v *VMs) BootCPUActive(name string) (bool, error) {
	lib, ctx, err := v.open("query", name)
	if err != nil {
		return false, err
	}
	defer lib.close(ctx)
	active, errno := lib.bootCPUActive(ctx)
	if errno != 0 {
		lib.gone(name, errno)
		return false, callError("query", "vm_active_cpus", name, errno)
	}
	return active, nil
}

// DestroyVM destroys the VM (vm_open, vm_destroy). vm_destroy reports no
// failure; a VM that does not exist is noSuchVM.
func (v *VMs) DestroyVM(name string) error {
	lib, ctx, err := v.open("destroy", name)
	if err != nil {
		return err
	}
	lib.destroy(ctx)
	lib.forget(name)
	return nil
}

// open opens the VM for op (vm_open) if its node /dev/vmm/NAME is there;
// a VM that is not there is noSuchVM. Whether a failed vm_open found no VM
// is told by the node, not by errno: 12.x's vm_open calls vm_destroy on
// failure (lib/libvmmapi/vmmapi.c, freebsd-src 02a6052b, 12-era), whose
// hw.vmm.destroy leaves errno EINVAL, or ENOENT, whatever open(2) said;
// 13.x keeps open's errno and destroys nothing (freebsd-src
// stable/13:lib/libvmmapi/vmmapi.c vm_open), as 14.0 does (e4656e10) and
// as 15.0's
// vm_openf does.
func (v *VMs) open(op, name string) (*library, uintptr, error) {
	exists, err := v.VMExists(name)
	if err != nil {
		return nil, 0, fmt.Errorf("%s VM %s: %w", op, name, err)
	}
	if !exists {
		return nil, 0, noSuchVM{fmt.Errorf("%s VM %s: %w (there is no VM named %s: no %s)", op, name, unix.ENOENT, name, v.paths.VMDevice(name))}
	}
	lib, err := v.load()
	if err != nil {
		return nil, 0, fmt.Errorf("%s VM %s: %w", op, name, err)
	}
	ctx, errno := lib.open(name)
	if errno == 0 {
		return lib, ctx, nil
	}
	err = callError(op, "vm_open", name, errno)
	if exists, _ := v.VMExists(name); !exists {
		return nil, 0, noSuchVM{err}
	}
	return nil, 0, err
}

// noSuchVM is the error for a VM that does not exist: ENOENT, and the
// EINVAL host.VMs promises, as the kernel's destroy has it.
type noSuchVM struct{ error }

func (e noSuchVM) Unwrap() error { return e.error }

func (e noSuchVM) Is(target error) bool {
	return target == error(unix.EINVAL) || target == error(unix.ENOENT)
}

// suspendValue gives enum vm_suspend_how's value for the architecture
// (machine/vmm.h). The states wifibox uses have the same values on amd64 and
// arm64, but the enums differ past them, so each architecture is listed.
func suspendValue(arch string, how host.SuspendHow) (int32, error) {
	values, ok := suspendHows[arch]
	if !ok {
		return 0, fmt.Errorf("vm_suspend: the values of enum vm_suspend_how on %s are not known", arch)
	}
	value, ok := values[how]
	if !ok {
		return 0, fmt.Errorf("vm_suspend: unknown suspend state %q", how)
	}
	return value, nil
}

var suspendHows = map[string]map[host.SuspendHow]int32{
	"amd64": {host.SuspendReset: abi.VM_SUSPEND_RESET, host.SuspendPowerOff: abi.VM_SUSPEND_POWEROFF, host.SuspendHalt: abi.VM_SUSPEND_HALT},
	"arm64": {host.SuspendReset: abi.VM_SUSPEND_RESET, host.SuspendPowerOff: abi.VM_SUSPEND_POWEROFF, host.SuspendHalt: abi.VM_SUSPEND_HALT},
}

// callError describes a failed libvmmapi call on a VM: what was done, the
// call, the errno, and what the user can do where that is known.
func callError(op, call, name string, errno abi.Errno) error {
	var hint string
	switch {
	case errors.Is(errno, unix.EPERM) || errors.Is(errno, unix.EACCES):
		hint = "wifibox must run as root; in a jail, the jail needs allow.vmm"
	case call == "vm_create" && (errors.Is(errno, unix.ENXIO) || errors.Is(errno, unix.ENODEV)):
		hint = "vmm(4) is not initialised: enable the CPU's virtualisation (VT-x or AMD-V) in the firmware settings"
	case call == "vm_create" && errors.Is(errno, unix.EEXIST):
		hint = fmt.Sprintf("a VM named %s exists already, probably left over from an earlier run: `wifibox stop` or `wifibox restart` removes it", name)
	case call == "vm_open" && errors.Is(errno, unix.ENOENT):
		hint = fmt.Sprintf("there is no VM named %s", name)
	case call == "vm_suspend" && errors.Is(errno, unix.EALREADY):
		hint = "the VM is being suspended already"
	}
	if hint == "" {
		return fmt.Errorf("%s VM %s: %s: %w", op, name, call, errno)
	}
	return fmt.Errorf("%s VM %s: %s: %w (%s)", op, name, call, errno, hint)
}

// missingLibrary explains that no libvmmapi could be opened; last is
// dlopen's error for the last name tried.
func missingLibrary(tried []string, last error) error {
	return fmt.Errorf("cannot open libvmmapi (tried %s; %v): libvmmapi is part of the FreeBSD base system; is the base system complete? It installs /usr/lib/libvmmapi.so.N",
		strings.Join(tried, ", "), last)
}
