package sim

import (
	"fmt"
	"sync"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/internal/trace"
	"github.com/wifibox/wifibox/vmmapi"
)

// libvmmapi is the model of FreeBSD's libvmmapi (lib/libvmmapi/vmmapi.c)
// at vmmapi's function table, over the kernel model: vm_create, vm_open,
// vm_suspend, vm_destroy and vm_close as the release the simulated host
// answers as has them. Read: freebsd-src stable/13:lib/libvmmapi/vmmapi.c
// (in a copy derived from stable/13, its vm_run still by vCPU number), the
// 14-era one (freebsd-src e4656e10) and the /dev/vmmctl one of 15.0
// (freebsd-src releng/15.0:lib/libvmmapi/vmmapi.c vm_create); see
// doc/kernel-calls.md. The copy earlier readings took
// for 13.x (freebsd-src 02a6052b) is 12-era: it lacks vm_close and its
// vm_open destroys what it fails to open; no release wifibox supports has
// that library. Differences modelled:
//
//   - vm_create: 13.x and 14.x first load vmm if modfind finds none
//     (kldload("vmm")), then write hw.vmm.create; 15.0 loads vmm
//     likewise, opens /dev/vmmctl and asks VMMCTL_VM_CREATE
//     (ENAMETOOLONG for a name its buffer cannot hold).
//   - vm_open: opens /dev/vmm/NAME, and on failure frees the context and
//     keeps open's errno (13.x, 14.x); 15.0 (vm_openf with no flags) opens
//     /dev/vmmctl first.
//   - vm_close: closes the descriptor and frees the context (all three).
//
// A context is an id into the model's table. The kernel's answers come
// from its handlers, each under the host's lock as one system call.
type libvmmapi struct {
	k       *Kernel
	release int

	mu    sync.Mutex
	errno abi.Errno
	ctxs  map[uintptr]string // context -> VM name
	next  uintptr
}

// Libvmmapi gives the model of libvmmapi of the release the simulated host
// answers as (its osreldate knob, read now).
func (k *Kernel) Libvmmapi() (*vmmapi.Library, error) {
	f, err := readFaults(k.s.dir)
	if err != nil {
		return nil, err
	}
	m := &libvmmapi{k: k, release: f.osreldate, ctxs: map[uintptr]string{}, next: 1}
	lib := &vmmapi.Library{
		VMCreate:     m.create,
		VMOpen:       m.open,
		VMSuspend:    m.suspend,
		VMActiveCPUs: m.activeCPUs,
		VMDestroy:    m.destroy,
		Errno:        func() abi.Errno { return m.errno },
	}
	lib.VMClose = m.close
	return lib, nil
}

// fail sets errno as the C function does and gives its failure value.
func (m *libvmmapi) fail(err error) bool {
	if err == nil {
		return false
	}
	e, ok := err.(abi.Errno)
	if !ok {
		e = abi.EIO // the simulated host itself failed
	}
	m.errno = e
	return true
}

func (m *libvmmapi) create(name string) int32 {
	if _, err := m.k.Modfind("vmm"); err != nil {
		m.k.Kldload("vmm")
	}
	if m.release >= 1500000 && len(name) > abi.VM_MAX_NAMELEN {
		m.fail(abi.ENAMETOOLONG)
		return -1
	}
	err := m.k.s.syscall(trace.VMCreate(name), privileged, func(t *txn) error {
		// Without vmm there is neither hw.vmm.create nor /dev/vmmctl.
		if !t.present("vmm") {
			return abi.ENOENT
		}
		return t.createVM(name)
	})
	if m.fail(err) {
		return -1
	}
	return 0
}

func (m *libvmmapi) open(name string) uintptr {
	err := m.k.s.syscall("vm_open "+name, query, func(t *txn) error {
		if m.release >= 1500000 && !t.present("vmm") {
			return abi.ENOENT // open("/dev/vmmctl")
		}
		if t.vm(name) == nil {
			return abi.ENOENT // open("/dev/vmm/NAME")
		}
		return nil
	})
	if m.fail(err) {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx := m.next
	m.next++
	m.ctxs[ctx] = name
	return ctx
}

// name gives the VM of a context; a context the model never gave is a
// crash in C, a panic here.
func (m *libvmmapi) name(ctx uintptr) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	name, ok := m.ctxs[ctx]
	if !ok {
		panic(fmt.Sprintf("libvmmapi model: no context %#x", ctx))
	}
	return name
}

func (m *libvmmapi) suspend(ctx uintptr, how int32) int32 {
	name := m.name(ctx)
	line := trace.VMSuspend(name, suspendHows[how])
	err := m.k.s.syscall(line, privileged, func(t *txn) error { return t.suspendVM(name, how) })
	if m.fail(err) {
		return -1
	}
	return 0
}

// activeCPUs is vm_active_cpus: VM_GET_CPUS with VM_ACTIVE_CPUS
// (sys/amd64/vmm/vmm_dev.c vmmdev_ioctl, 13.5 and 14.3;
// sys/dev/vmm/vmm_dev.c on 15.0) copies out the VM's active vCPUs, which
// vm_activate_cpu fills (sys/amd64/vmm/vmm.c) and vm_reinit empties. The
// simulated bhyve activates its vCPUs once it has set up its devices; the
// set outlives the process, until vm_reinit or the VM's destruction; the model shows
// vCPU 0, bit 0 of the set's first byte (little endian). ENXIO once the
// VM is gone, as for any ioctl on a destroyed device. Left out: ERANGE
// and EINVAL for a bad cpusetsize or set, which libvmmapi never passes.
func (m *libvmmapi) activeCPUs(ctx uintptr, cpus *byte) int32 {
	name := m.name(ctx)
	err := m.k.s.syscall("vm_active_cpus "+name, query, func(t *txn) error {
		v := t.vm(name)
		if v == nil {
			return abi.ENXIO
		}
		*cpus = 0
		if v.Active {
			*cpus = 1
		}
		return nil
	})
	if m.fail(err) {
		return -1
	}
	return 0
}

// destroy destroys the VM and frees the context; like libvmmapi's, it
// reports nothing, and errno is what the kernel answered.
func (m *libvmmapi) destroy(ctx uintptr) {
	m.fail(m.k.s.destroyVMByName(m.name(ctx)))
	m.close(ctx)
}

func (m *libvmmapi) close(ctx uintptr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ctxs, ctx)
}
