package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/trace"
)

// The VMs of vmm(4) and their device nodes /dev/vmm/NAME: creation
// (hw.vmm.create, sysctl_vmm_create, on 13.x and 14.x; VMMCTL_VM_CREATE on
// /dev/vmmctl on 15.0, vmmctl_ioctl), destruction (hw.vmm.destroy,
// sysctl_vmm_destroy; VMMCTL_VM_DESTROY), and VM_SUSPEND (vm_suspend in
// sys/amd64/vmm/vmm.c). Read in sys/amd64/vmm/vmm_dev.c (13-era
// freebsd-src 02a6052b) and sys/dev/vmm/vmm_dev.c (3d39856d, main after
// 15.0): the errno paths modelled are the same in each. The node is the
// VM's existence, as devfs's is on FreeBSD: a VM exists while
// DIR/dev/vmm/NAME does, and the state holds what the kernel knows of it.

// validVMName tells whether vm_create takes the name: EINVAL for an empty
// one or one longer than VM_MAX_NAMELEN (vm_create in vmm.c); the model
// also refuses characters a devfs path would not keep.
func validVMName(name string) bool {
	if name == "" || len(name) > abi.VM_MAX_NAMELEN {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}

// vmNode is the device node of a VM on the simulated host.
func (t *txn) vmNode(name string) string { return host.DefaultPaths(t.dir).VMDevice(name) }

// vm gives the VM of that name, nil if it does not exist. The state of a
// VM whose node a killed process left behind is made afresh.
func (t *txn) vm(name string) *vm {
	if _, err := os.Stat(t.vmNode(name)); err != nil {
		return nil
	}
	v := t.st.VMs[name]
	if v == nil {
		v = &vm{}
		t.st.VMs[name] = v
	}
	return v
}

// anyVM tells whether a VM exists (vmmdev_cleanup's list is not empty).
func (t *txn) anyVM() bool {
	entries, _ := os.ReadDir(filepath.Join(host.DefaultPaths(t.dir).Dev, "vmm"))
	return len(entries) > 0
}

// createVM creates a VM and its device node (vmmdev_create): ENXIO while
// vmm is not loaded, EINVAL for a bad name, EEXIST when it exists.
func (t *txn) createVM(name string) error {
	if !t.present("vmm") {
		return abi.ENXIO
	}
	if !validVMName(name) {
		return abi.EINVAL
	}
	if t.vm(name) != nil {
		return abi.EEXIST
	}
	node := t.vmNode(name)
	if err := os.MkdirAll(filepath.Dir(node), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		return err
	}
	t.st.VMs[name] = &vm{}
	return nil
}

// destroyVM destroys a VM and its node (sysctl_vmm_destroy,
// vmmdev_lookup_and_destroy): EINVAL when there is none. A simulated bhyve
// running it exits with 4.
func (t *txn) destroyVM(name string) error {
	v := t.vm(name)
	if v == nil {
		return abi.EINVAL
	}
	if err := os.Remove(t.vmNode(name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	delete(t.st.VMs, name)
	tellBhyve(v.Pid)
	return nil
}

// destroyVMByName writes hw.vmm.destroy (sysctl_vmm_destroy;
// VMMCTL_VM_DESTROY on 15.0), as libvmmapi's vm_destroy and bhyvectl
// --destroy do: ENOENT without vmm (no such sysctl), EINVAL for no such
// VM.
func (s *system) destroyVMByName(name string) error {
	return s.syscall(trace.VMDestroy(name), privileged, func(t *txn) error {
		if !t.present("vmm") {
			return abi.ENOENT
		}
		return t.destroyVM(name)
	})
}

// suspendHows are enum vm_suspend_how's values on amd64 (machine/vmm.h),
// as the trace names them. VM_SUSPEND_LAST is 5 on 13.x and 14.x; 15.0
// adds VM_SUSPEND_DESTROY (5), which vm_suspend refuses from user space.
var suspendHows = map[int32]host.SuspendHow{
	abi.VM_SUSPEND_RESET:       host.SuspendReset,
	abi.VM_SUSPEND_POWEROFF:    host.SuspendPowerOff,
	abi.VM_SUSPEND_HALT:        host.SuspendHalt,
	abi.VM_SUSPEND_TRIPLEFAULT: suspendTripleFault,
}

// suspendVM reproduces VM_SUSPEND (vm_suspend in vmm.c): EINVAL for a
// value out of range, EALREADY once the VM is suspended; ENXIO once the VM
// is gone, as for any ioctl on a destroyed device. A simulated bhyve
// running it exits accordingly.
func (t *txn) suspendVM(name string, how int32) error {
	v := t.vm(name)
	if v == nil {
		return abi.ENXIO
	}
	named, ok := suspendHows[how]
	if !ok {
		return abi.EINVAL
	}
	if v.Suspended != "" {
		return abi.EALREADY
	}
	v.Suspended = named
	tellBhyve(v.Pid)
	return nil
}

// vmChanged is the signal that tells a simulated bhyve its VM changed; it
// then reads the state (after the sender has released the lock).
const vmChanged = unix.SIGUSR1

// tellBhyve tells the simulated bhyve of the given pid that its VM changed.
func tellBhyve(pid int) {
	if bhyveAlive(pid) {
		unix.Kill(pid, vmChanged)
	}
}

// bhyveAlive tells whether pid is a running simulated bhyve, so a pid
// left behind by a killed one is never signalled or waited for.
func bhyveAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	// The shell implementation's bhyve has its title instead (legacy.go).
	return err == nil && (bytes.Contains(cmdline, []byte("\x00"+BhyveCommand+"\x00")) || bytes.HasPrefix(cmdline, []byte("bhyve: ")))
}

// reinitVM is vm_reinit (sys/amd64/vmm/vmm.c; read in the 13-era,
// 14-era and 15-era copies, the same in each): a VM can be reset only
// when its suspended vCPUs are its active ones (CPU_CMP of suspended_cpus
// and active_cpus), else EBUSY. A bhyve that was killed, aborted or exited
// on an error suspended nothing, so its VM stays busy until destroyed.
// vm_cleanup empties both sets, the suspend state, and unassigns the
// devices (ppt_unassign_all).
func (t *txn) reinitVM(v *vm) error {
	if v.Active && !v.CPUsSuspended {
		return abi.EBUSY
	}
	*v = vm{}
	return nil
}

// vmDevicePrefix is where devfs has the VMs' device nodes.
const vmDevicePrefix = "/dev/vmm/"

// vmCdev gives the device node of a VM, /dev/vmm/NAME (vmmdev_create),
// with the two requests the conformance tests make: VM_ACTIVATE_CPU and
// VM_REINIT (vmmdev_ioctl, sys/amd64/vmm/vmm_dev.c on 13.x and 14.x,
// sys/dev/vmm/vmm_dev.c on 15.0). Opening it is ENOENT when the VM does
// not exist.
func vmCdev(path string) (*cdev, bool) {
	name, ok := strings.CutPrefix(path, vmDevicePrefix)
	if !ok || name == "" {
		return nil, false
	}
	exists := func(t *txn) (*vm, error) {
		if v := t.vm(name); v != nil {
			return v, nil
		}
		return nil, abi.ENXIO // any request on a destroyed VM's node
	}
	return &cdev{
		open: func(t *txn, flags int) error {
			if t.vm(name) == nil {
				return abi.ENOENT
			}
			return nil
		},
		ioctls: map[uint32]ioctl{
			// vm_activate_cpu: EINVAL for a vCPU out of range, EBUSY
			// when it is active already.
			abi.VM_ACTIVATE_CPU: {privileged, func(t *txn, f *file, arg unsafe.Pointer) error {
				cpu := *(*int32)(arg)
				t.line = fmt.Sprintf("vm_activate_cpu %s %d", name, cpu)
				v, err := exists(t)
				switch {
				case err != nil:
					return err
				case cpu < 0 || cpu >= maxCPU:
					return abi.EINVAL
				case cpu != 0:
					return nil // the model keeps vCPU 0 only
				case v.Active:
					return abi.EBUSY
				}
				v.Active = true
				return nil
			}},
			abi.VM_REINIT: {privileged, func(t *txn, f *file, arg unsafe.Pointer) error {
				t.line = "vm_reinit " + name
				v, err := exists(t)
				if err != nil {
					return err
				}
				return t.reinitVM(v)
			}},
		},
	}, true
}
