package vmmapi

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// Library is libvmmapi's function table: the functions wifibox calls, with
// their C signatures and return conventions (0, or -1 with errno; a struct
// vmctx pointer, or NULL with errno). Open binds it to the C library with
// purego; the simulated host supplies a Go model of each release's
// libvmmapi (sim.Kernel.Libvmmapi).
type Library struct {
	VMCreate  func(name string) int32
	VMOpen    func(name string) uintptr // struct vmctx *, 0 on failure
	VMSuspend func(ctx uintptr, how int32) int32
	// VMActiveCPUs fills a cpuset_t of libvmmapi's size (vm_active_cpus).
	VMActiveCPUs func(ctx uintptr, cpus *byte) int32
	VMDestroy    func(ctx uintptr) // destroys the VM, closes and frees the ctx
	// VMClose is nil where libvmmapi lacks it: the 12.x library (13.x's
	// has it: freebsd-src stable/13:lib/libvmmapi/vmmapi.c vm_close).
	VMClose func(ctx uintptr)
	// Errno gives the calling thread's errno as FreeBSD's value.
	Errno func() abi.Errno
}

// library is a Library in use: its calls are serialised, each reading
// errno right after it on the same OS thread.
type library struct {
	mu sync.Mutex
	*Library
	// kept holds, for a library without vm_close, the one ctx of each VM
	// that is reused by every call on it: a ctx (its malloc and its
	// descriptor of /dev/vmm/NAME) cannot be freed without vm_close but
	// by vm_destroy, so opening one a call would leak one a call.
	kept map[string]uintptr
}

// Open opens the first library of the list that dlopen finds and binds its
// functions, and the errno function of the C library.
func Open(libraries []string, loc ErrnoLocation) (*Library, error) {
	handle, err := dlopenFirst(libraries)
	if err != nil {
		return nil, err
	}
	lib := &Library{}
	required := []struct {
		fn   any
		name string
	}{
		{&lib.VMCreate, "vm_create"},
		{&lib.VMOpen, "vm_open"},
		{&lib.VMSuspend, "vm_suspend"},
		{&lib.VMActiveCPUs, "vm_active_cpus"},
		{&lib.VMDestroy, "vm_destroy"},
	}
	for _, r := range required {
		if err := bind(r.fn, handle, r.name); err != nil {
			return nil, fmt.Errorf("libvmmapi (%s): %w", handle.name, err)
		}
	}
	if sym, err := purego.Dlsym(handle.h, "vm_close"); err == nil {
		purego.RegisterFunc(&lib.VMClose, sym)
	}
	libc, err := purego.Dlopen(loc.Library, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("open %s to read errno: %w", loc.Library, err)
	}
	var location func() *int32
	if err := bind(&location, dlHandle{h: libc, name: loc.Library}, loc.Symbol); err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Library, err)
	}
	// The C library's errno is the running system's: FreeBSD's, or
	// glibc's for the tests' stand-in on Linux.
	lib.Errno = func() abi.Errno { return abi.FromUnix(unix.Errno(*location())) }
	return lib, nil
}

type dlHandle struct {
	h    uintptr
	name string
}

// dlopenFirst opens the first of the libraries that dlopen finds.
func dlopenFirst(libraries []string) (dlHandle, error) {
	var last error
	for _, name := range libraries {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			return dlHandle{h: h, name: name}, nil
		}
		last = err
	}
	return dlHandle{}, missingLibrary(libraries, last)
}

// bind points the Go function fn at the library's symbol.
func bind(fn any, handle dlHandle, symbol string) error {
	sym, err := purego.Dlsym(handle.h, symbol)
	if err != nil {
		return fmt.Errorf("no function %s: %w", symbol, err)
	}
	purego.RegisterFunc(fn, sym)
	return nil
}

// call runs failed, which makes one libvmmapi call and tells whether it
// failed, and then reads errno on the same OS thread: nothing else runs on
// that thread in between, and no other call of the library runs meanwhile.
func (l *library) call(failed func() bool) abi.Errno {
	l.mu.Lock()
	defer l.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if failed() {
		return l.Errno()
	}
	return 0
}

func (l *library) create(name string) abi.Errno {
	return l.call(func() bool { return l.VMCreate(name) != 0 })
}

// open opens the VM (vm_open); without vm_close it gives the ctx kept
// for the VM, opened on its first use.
func (l *library) open(name string) (ctx uintptr, errno abi.Errno) {
	if l.VMClose == nil {
		l.mu.Lock()
		ctx, ok := l.kept[name]
		l.mu.Unlock()
		if ok {
			return ctx, 0
		}
	}
	errno = l.call(func() bool {
		ctx = l.VMOpen(name)
		return ctx == 0
	})
	if errno == 0 && l.VMClose == nil {
		l.mu.Lock()
		if l.kept == nil {
			l.kept = map[string]uintptr{}
		}
		l.kept[name] = ctx
		l.mu.Unlock()
	}
	return ctx, errno
}

// forget drops the ctx kept for a VM: vm_destroy has freed it, or it
// refers to a VM that is gone (ENXIO), whose ctx stays allocated: the one
// leak left, once for each VM destroyed by another process.
func (l *library) forget(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.kept, name)
}

func (l *library) suspend(ctx uintptr, how int32) abi.Errno {
	return l.call(func() bool { return l.VMSuspend(ctx, how) != 0 })
}

// cpusetBytes bounds a userland cpuset_t: CPU_SETSIZE bits, CPU_MAXSIZE
// by default, which sys/sys/_cpuset.h sets to 4 * MAXCPU (1024 bits with
// amd64's MAXCPU of 256; 4096 if MAXCPU is 1024). libvmmapi passes its own
// sizeof(cpuset_t) to VM_GET_CPUS and the kernel fills that much; 1024
// bytes hold 8192 bits.
const cpusetBytes = 1024

// bootCPUActive tells whether vCPU 0 is in the VM's active set: bit 0 of
// the cpuset's first word, its first byte on amd64 and arm64 (little
// endian).
func (l *library) bootCPUActive(ctx uintptr) (bool, abi.Errno) {
	cpus := make([]byte, cpusetBytes)
	errno := l.call(func() bool { return l.VMActiveCPUs(ctx, &cpus[0]) != 0 })
	return cpus[0]&1 != 0, errno
}

// destroy destroys the VM and frees the ctx; libvmmapi reports no failure.
func (l *library) destroy(ctx uintptr) {
	l.call(func() bool { l.VMDestroy(ctx); return false })
}

// close releases the ctx from vm_open; without vm_close it is kept for
// the next call (open).
func (l *library) close(ctx uintptr) {
	if l.VMClose != nil {
		l.call(func() bool { l.VMClose(ctx); return false })
	}
}

// gone forgets the ctx kept for a VM whose device answered ENXIO: the VM
// it was opened on was destroyed (by another process), and a VM of that
// name made since is another device.
func (l *library) gone(name string, errno abi.Errno) {
	if errors.Is(errno, unix.ENXIO) {
		l.forget(name)
	}
}
