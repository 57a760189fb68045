package conformance

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
	"github.com/wifibox/wifibox/vmmapi"
)

// vms gives libvmmapi on the kernel a test runs against: the model's
// (sim/libvmmapi.go) for the simulated host's release, the system's
// library on a real kernel.
func vms(t *testing.T) host.VMs {
	t.Helper()
	m := modelOf(t)
	if m == nil {
		return vmmapi.New(vmmapi.Config{})
	}
	lib, err := m.k.Libvmmapi()
	if err != nil {
		t.Fatal(err)
	}
	return vmmapi.NewWithLibrary(host.DefaultPaths(m.dir), lib)
}

// TestVMReinit pins VM_REINIT (vm_reinit in sys/amd64/vmm/vmm.c): a VM is
// reset only when its suspended vCPUs are its active ones, else EBUSY.
// An active vCPU that no thread runs never suspends itself (only
// vm_handle_suspend, on the vCPU's own thread, adds it to the suspended
// set), so a VM whose bhyve was killed stays busy, a forced power-off
// (VM_SUSPEND) notwithstanding, until it is destroyed.
func TestVMReinit(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		loadVMM(t, k)
		v := vms(t)
		const name = "wifibox-conformance"
		if err := v.CreateVM(name); err != nil {
			t.Fatal(err)
		}
		destroyed := false
		t.Cleanup(func() {
			if !destroyed {
				v.DestroyVM(name)
			}
		})
		fd := open(t, k, "/dev/vmm/"+name, unix.O_RDWR)
		reinit := func() error { return k.Ioctl(fd, abi.VM_REINIT, nil) }
		activate := func(cpu int32) error { return k.Ioctl(fd, abi.VM_ACTIVATE_CPU, unsafe.Pointer(&cpu)) }
		if err := reinit(); err != nil {
			t.Errorf("VM_REINIT with no active vCPU: %v", err)
		}
		if err := activate(0); err != nil {
			t.Fatalf("VM_ACTIVATE_CPU 0: %v", err)
		}
		wantErrno(t, "VM_ACTIVATE_CPU 0 again", activate(0), abi.EBUSY)
		wantErrno(t, "VM_REINIT with vCPU 0 active", reinit(), abi.EBUSY)
		if err := v.SuspendVM(name, host.SuspendPowerOff); err != nil {
			t.Fatalf("suspend: %v", err)
		}
		wantErrno(t, "VM_REINIT after VM_SUSPEND with no vCPU thread", reinit(), abi.EBUSY)
		if err := v.DestroyVM(name); err != nil {
			t.Fatal(err)
		}
		destroyed = true
		_, err := k.Open("/dev/vmm/"+name, unix.O_RDWR)
		wantErrno(t, "open of a destroyed VM's node", err, abi.ENOENT)
	})
}
