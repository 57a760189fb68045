package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// vmMaxNameLen is VM_MAX_NAMELEN.
const vmMaxNameLen = 229

func validVMName(name string) bool {
	if name == "" || len(name) > vmMaxNameLen {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}

// createVM creates a VM and its device node: ENXIO without vmm, EINVAL for
// a bad name, EEXIST when it exists.
func (s *system) createVM(t *txn, name string) error {
	if !t.present("vmm") {
		return unix.ENXIO
	}
	if !validVMName(name) {
		return unix.EINVAL
	}
	if t.st.VMs[name] != nil {
		return unix.EEXIST
	}
	node := s.paths().VMDevice(name)
	if err := os.MkdirAll(filepath.Dir(node), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		return err
	}
	t.st.VMs[name] = &vm{}
	return nil
}

// CreateVM creates a VM.
func (s *system) CreateVM(name string) error {
	return s.run("vm_create "+name, privileged, func(t *txn) error { return s.createVM(t, name) })
}

// VMExists tells whether the VM exists. The kernel's state answers, not
// the device node: the node and the state are written one after the other,
// and a process killed in between (the soak test kills VM managers at any
// point) must not leave the two disagreeing, as they never do on FreeBSD.
func (s *system) VMExists(name string) (bool, error) {
	exists := false
	err := s.run("vm_exists "+name, query, func(t *txn) error {
		exists = t.st.VMs[name] != nil
		return nil
	})
	return exists, err
}

// BootCPUActive tells whether vCPU 0 of the VM is active: VM_GET_CPUS
// with VM_ACTIVE_CPUS (sys/amd64/vmm/vmm_dev.c vmmdev_ioctl, 13.5 and
// 14.3; sys/dev/vmm/vmm_dev.c on 15.0) answers vm_active_cpus, which
// vm_activate_cpu fills (sys/amd64/vmm/vmm.c) and vm_reinit empties. The
// simulated bhyve activates its vCPUs when it has set up its devices (it
// records itself as the VM's bhyve then) until it exits. Left out: ERANGE
// and EINVAL for a bad cpusetsize or set, which libvmmapi never passes.
// vm_open of a VM that does not exist fails with ENOENT.
func (s *system) BootCPUActive(name string) (bool, error) {
	active := false
	err := s.run("vm_active_cpus "+name, query, func(t *txn) error {
		v := t.st.VMs[name]
		if v == nil {
			return unix.ENOENT
		}
		active = v.Pid != 0
		return nil
	})
	return active, err
}

// SuspendVM suspends a VM; a simulated bhyve running it exits accordingly.
func (s *system) SuspendVM(name string, how host.SuspendHow) error {
	return s.run(fmt.Sprintf("vm_suspend %s %s", name, how), privileged, func(t *txn) error {
		if !slices.Contains([]host.SuspendHow{host.SuspendReset, host.SuspendPowerOff, host.SuspendHalt}, how) {
			return unix.EINVAL
		}
		v := t.st.VMs[name]
		if v == nil {
			return unix.ENOENT
		}
		if v.Suspended != "" {
			return unix.EALREADY
		}
		v.Suspended = how
		tellBhyve(v.Pid)
		return nil
	})
}

// DestroyVM destroys a VM; a simulated bhyve running it exits with 4.
func (s *system) DestroyVM(name string) error {
	return s.run("vm_destroy "+name, privileged, func(t *txn) error {
		v := t.st.VMs[name]
		if v == nil {
			return unix.EINVAL
		}
		if err := os.Remove(s.paths().VMDevice(name)); err != nil && !os.IsNotExist(err) {
			return err
		}
		delete(t.st.VMs, name)
		tellBhyve(v.Pid)
		return nil
	})
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
