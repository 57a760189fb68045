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

// builtinModules are compiled into the simulated kernel: if_tuntap, so the
// tap cloner is always there.
var builtinModules = []string{"if_tuntap"}

// maxCPU is hw.vmm.maxcpu of the simulated host.
const maxCPU = 16

// present tells whether a module is loaded or built in.
func (t *txn) present(module string) bool {
	_, loaded := t.st.Modules[module]
	return loaded || slices.Contains(builtinModules, module)
}

// Module tells whether a module is present, and the file it came from.
func (s *system) Module(name string) (host.Module, error) {
	m := host.Module{Name: name}
	err := s.run("modfind "+name, query, func(t *txn) error {
		m.Present = t.present(name)
		m.File = t.st.Modules[name]
		return nil
	})
	return m, err
}

// Load loads a module file given by its full path: EEXIST when a module of
// that name is present, ENOENT when the file does not exist.
func (s *system) Load(file string) error {
	return s.run("kldload "+s.strip(file), privileged, func(t *txn) error {
		module := strings.TrimSuffix(filepath.Base(file), ".ko")
		if t.present(module) {
			return unix.EEXIST
		}
		if !filepath.IsAbs(file) {
			return unix.ENOENT
		}
		if _, err := os.Stat(file); err != nil {
			return unix.ENOENT
		}
		t.st.Modules[module] = file
		return nil
	})
}

// Unload unloads the file providing a module: ENOENT when no file provides
// it, EBUSY when vmm still has VMs or ppt devices (or vmm_busy is set).
// Unloading if_bridge destroys the bridges, as its cloner goes away.
func (s *system) Unload(module string) error {
	return s.run("kldunload "+module, privileged, func(t *txn) error {
		if _, ok := t.st.Modules[module]; !ok {
			return unix.ENOENT
		}
		switch module {
		case "vmm":
			if len(t.st.VMs) > 0 || t.pptDevices() > 0 || t.faults.vmmBusy {
				return unix.EBUSY
			}
		case "if_bridge":
			t.st.Interfaces = slices.DeleteFunc(t.st.Interfaces, func(i *ifnet) bool { return i.Kind == "bridge" })
		}
		delete(t.st.Modules, module)
		return nil
	})
}

// sysctl gives the value of a sysctl (int64 or string), or false when the
// simulated kernel has none of that name.
func (s *system) sysctl(t *txn, name string) (any, bool) {
	switch {
	case name == "kern.module_path":
		kernel := filepath.Join(s.dir, "boot/kernel")
		if t.faults.moduleFilesMissing {
			kernel = filepath.Join(s.dir, "boot/missing")
		}
		return kernel + ";" + filepath.Join(s.dir, "boot/modules"), true
	case name == "kern.osreldate": // sys/kern/kern_mib.c, osreldate
		return int64(t.faults.osreldate), true
	case name == "hw.model": // sys/x86/x86/identcpu.c, cpu_model
		return cpuModels[t.faults.cpuVendor], true
	case !t.present("vmm"):
		return nil, false
	case name == "hw.vmm.maxcpu":
		return int64(maxCPU), true
	case name == "hw.vmm.iommu.enable":
		if t.faults.iommuDisabled {
			return int64(0), true
		}
		return int64(1), true
	case name == "hw.vmm.ppt.devices":
		return int64(t.pptDevices()), true
	}
	return nil, false
}

// SysctlInt reads an integer sysctl; ENOENT when there is none.
func (s *system) SysctlInt(name string) (int64, error) { return sysctlOf[int64](s, name) }

// SysctlString reads a string sysctl; ENOENT when there is none.
func (s *system) SysctlString(name string) (string, error) { return sysctlOf[string](s, name) }

// sysctlOf reads a sysctl of type T: ENOENT when there is none, EINVAL when
// it has another type.
func sysctlOf[T any](s *system, name string) (T, error) {
	var v T
	err := s.run("sysctl "+name, query, func(t *txn) error {
		val, ok := s.sysctl(t, name)
		if !ok {
			return unix.ENOENT
		}
		if v, ok = val.(T); !ok {
			return unix.EINVAL
		}
		return nil
	})
	return v, err
}

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
