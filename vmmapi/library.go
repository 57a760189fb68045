package vmmapi

import (
	"fmt"
	"runtime"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

// library is an opened libvmmapi with the functions wifibox calls. Each
// method makes the call and reads errno on the same OS thread right after
// it; a zero Errno means success.
type library struct {
	vmCreate  func(name string) int32
	vmOpen    func(name string) uintptr // struct vmctx *, NULL on failure
	vmSuspend func(ctx uintptr, how int32) int32
	// vmActiveCPUs fills a cpuset_t of libvmmapi's size.
	vmActiveCPUs func(ctx uintptr, cpus *byte) int32
	vmDestroy    func(ctx uintptr) // closes and frees the ctx itself
	vmClose      func(ctx uintptr) // nil where libvmmapi lacks it (some 13.x)
	errno        func() *int32
}

// open opens the first library of the list that dlopen finds and binds its
// functions, and the errno function of the C library.
func open(libraries []string, loc ErrnoLocation) (*library, error) {
	handle, err := dlopenFirst(libraries)
	if err != nil {
		return nil, err
	}
	lib := &library{}
	required := []struct {
		fn   any
		name string
	}{
		{&lib.vmCreate, "vm_create"},
		{&lib.vmOpen, "vm_open"},
		{&lib.vmSuspend, "vm_suspend"},
		{&lib.vmActiveCPUs, "vm_active_cpus"},
		{&lib.vmDestroy, "vm_destroy"},
	}
	for _, r := range required {
		if err := bind(r.fn, handle, r.name); err != nil {
			return nil, fmt.Errorf("libvmmapi (%s): %w", handle.name, err)
		}
	}
	if sym, err := purego.Dlsym(handle.h, "vm_close"); err == nil {
		purego.RegisterFunc(&lib.vmClose, sym)
	}
	libc, err := purego.Dlopen(loc.Library, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("open %s to read errno: %w", loc.Library, err)
	}
	if err := bind(&lib.errno, dlHandle{h: libc, name: loc.Library}, loc.Symbol); err != nil {
		return nil, fmt.Errorf("%s: %w", loc.Library, err)
	}
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
// that thread in between.
func (l *library) call(failed func() bool) unix.Errno {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if failed() {
		return unix.Errno(*l.errno())
	}
	return 0
}

func (l *library) create(name string) unix.Errno {
	return l.call(func() bool { return l.vmCreate(name) != 0 })
}

func (l *library) open(name string) (ctx uintptr, errno unix.Errno) {
	errno = l.call(func() bool {
		ctx = l.vmOpen(name)
		return ctx == 0
	})
	return ctx, errno
}

func (l *library) suspend(ctx uintptr, how int32) unix.Errno {
	return l.call(func() bool { return l.vmSuspend(ctx, how) != 0 })
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
func (l *library) bootCPUActive(ctx uintptr) (bool, unix.Errno) {
	cpus := make([]byte, cpusetBytes)
	errno := l.call(func() bool { return l.vmActiveCPUs(ctx, &cpus[0]) != 0 })
	return cpus[0]&1 != 0, errno
}

// destroy destroys the VM and frees the ctx; libvmmapi reports no failure.
func (l *library) destroy(ctx uintptr) {
	l.vmDestroy(ctx)
}

// close releases the ctx from vm_open. Without vm_close (some 13.x) the ctx
// and its descriptor of /dev/vmm/NAME stay open until the process exits.
func (l *library) close(ctx uintptr) {
	if l.vmClose != nil {
		l.vmClose(ctx)
	}
}
