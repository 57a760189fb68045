package logging

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/trace"
)

// Host gives a host that logs what is done through h: at info each change
// (a module loaded or unloaded, a VM created or destroyed, a device bound
// to a driver or released, an interface created, renamed or destroyed),
// at debug every operation, queries too, with the kernel's answer. The
// operations are named as the simulated host's trace and the dry run name
// them (package trace: kldload FILE, devctl_set_driver DEVICE DRIVER, ...).
func Host(h *host.Host, log *logrus.Logger) *host.Host {
	l := &logged{h: h, log: log}
	return &host.Host{Kernel: l, VMs: l, PCI: l, Net: l, Launcher: l, Procs: l, Paths: h.Paths}
}

type logged struct {
	h   *host.Host
	log *logrus.Logger
}

// answer tells what the kernel answered: ok, or the errno's name and the
// error. The backends over the kernel model or sys.Native answer with
// FreeBSD's abi.Errno; the others with the system's syscall.Errno.
func answer(err error) string {
	var errno syscall.Errno
	var freebsd abi.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &freebsd):
		return fmt.Sprintf("%s (%v)", freebsd.Name(), err)
	case errors.As(err, &errno):
		return fmt.Sprintf("%s (%v)", unix.ErrnoName(errno), err)
	}
	return err.Error()
}

// query logs a query and its answer at debug; result is only called when
// debug is logged, and the answer was no error.
func (l *logged) query(op string, result func() string, err error) {
	if !l.log.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	answer := answer(err)
	if err == nil {
		answer = result()
	}
	l.log.Debugf("Kernel: %s -> %s", op, answer)
}

// ok is the result of an operation that answers nothing but success.
func ok() string { return "ok" }

// change logs a change at debug with the kernel's answer, and at info
// once it is made.
func (l *logged) change(op string, err error, done string) error {
	l.log.Debugf("Kernel: %s -> %s", op, answer(err))
	if err == nil {
		l.log.Info(done)
	}
	return err
}

// Kernel.

func (l *logged) Module(name string) (host.Module, error) {
	m, err := l.h.Kernel.Module(name)
	l.query("kldstat "+name, func() string {
		switch {
		case m.Present && m.File != "":
			return "present from " + m.File
		case m.Present:
			return "present, built in"
		}
		return "not present"
	}, err)
	return m, err
}

func (l *logged) Load(file string) error {
	return l.change(trace.Kldload(file), l.h.Kernel.Load(file), "Kernel module "+file+" is loaded")
}

func (l *logged) Unload(module string) error {
	return l.change(trace.Kldunload(module), l.h.Kernel.Unload(module), "Kernel module "+module+" is unloaded")
}

func (l *logged) SysctlInt(name string) (int64, error) {
	v, err := l.h.Kernel.SysctlInt(name)
	l.query("sysctl "+name, func() string { return fmt.Sprint(v) }, err)
	return v, err
}

func (l *logged) Files() ([]string, error) {
	files, err := l.h.Kernel.Files()
	l.query("kldstat", func() string { return strings.Join(files, " ") }, err)
	return files, err
}

func (l *logged) SysctlString(name string) (string, error) {
	v, err := l.h.Kernel.SysctlString(name)
	l.query("sysctl "+name, func() string { return fmt.Sprintf("%q", v) }, err)
	return v, err
}

func (l *logged) ACPITables() ([]string, error) {
	v, err := l.h.Kernel.ACPITables()
	l.query("ACPI tables", func() string { return strings.Join(v, " ") }, err)
	return v, err
}

// VMs.

func (l *logged) CreateVM(name string) error {
	return l.change(trace.VMCreate(name), l.h.VMs.CreateVM(name), "VM "+name+" is created")
}

func (l *logged) VMExists(name string) (bool, error) {
	exists, err := l.h.VMs.VMExists(name)
	l.query("vm_exists "+name, func() string { return fmt.Sprint(exists) }, err)
	return exists, err
}

func (l *logged) BootCPUActive(name string) (bool, error) {
	active, err := l.h.VMs.BootCPUActive(name)
	l.query("vm_active_cpus "+name, func() string { return fmt.Sprint(active) }, err)
	return active, err
}

func (l *logged) SuspendVM(name string, how host.SuspendHow) error {
	return l.change(trace.VMSuspend(name, how), l.h.VMs.SuspendVM(name, how),
		fmt.Sprintf("VM %s is forced to %s", name, how))
}

func (l *logged) DestroyVM(name string) error {
	return l.change(trace.VMDestroy(name), l.h.VMs.DestroyVM(name), "VM "+name+" is destroyed")
}

// PCI.

func (l *logged) Devices() ([]host.PCIDevice, error) {
	devs, err := l.h.PCI.Devices()
	l.query("pci_devices", func() string {
		list := make([]string, len(devs))
		for i, d := range devs {
			driver := d.DriverUnit()
			if driver == "" {
				driver = "no driver"
			}
			list[i] = fmt.Sprintf("%s %04x:%04x %s", d.Selector, d.Vendor, d.Device, driver)
		}
		return strings.Join(list, ", ")
	}, err)
	return devs, err
}

func (l *logged) SetDriver(sel host.Selector, driver string) error {
	done := fmt.Sprintf("Driver %s is configured for %s", driver, sel)
	if driver == "ppt" { // the shell implementation's words
		done = fmt.Sprintf("PPT driver is configured for %s", sel)
	}
	return l.change(trace.SetDriver(sel.String(), driver), l.h.PCI.SetDriver(sel, driver), done)
}

func (l *logged) ClearDriver(sel host.Selector) error {
	return l.change(trace.ClearDriver(sel.String()), l.h.PCI.ClearDriver(sel),
		fmt.Sprintf("%s is released from its driver", sel))
}

// Net.

func (l *logged) CreateInterface(kind string) (string, error) {
	name, err := l.h.Net.CreateInterface(kind)
	return name, l.change(trace.IfCreate(kind, name), err, "Interface "+name+" is created")
}

func (l *logged) RenameInterface(old, new string) error {
	return l.change(trace.IfRename(old, new), l.h.Net.RenameInterface(old, new), "Interface "+old+" is renamed to "+new)
}

func (l *logged) DestroyInterface(name string) error {
	return l.change(trace.IfDestroy(name), l.h.Net.DestroyInterface(name), "Interface "+name+" is destroyed")
}

func (l *logged) SetUp(name string) error {
	err := l.h.Net.SetUp(name)
	l.query(trace.IfUp(name), ok, err)
	return err
}

func (l *logged) Interface(name string) (host.Interface, error) {
	i, err := l.h.Net.Interface(name)
	l.query("ifconfig "+name, func() string { return describe(i) }, err)
	return i, err
}

func (l *logged) Interfaces() ([]host.Interface, error) {
	all, err := l.h.Net.Interfaces()
	l.query("ifconfig -a", func() string {
		list := make([]string, len(all))
		for n, i := range all {
			list[n] = describe(i)
		}
		return strings.Join(list, ", ")
	}, err)
	return all, err
}

func describe(i host.Interface) string {
	state := "down"
	if i.Up {
		state = "up"
	}
	return fmt.Sprintf("%s (%s, %s)", i.Name, i.Kind, state)
}

func (l *logged) AddMember(bridge, member string) error {
	return l.change(trace.BridgeAdd(bridge, member), l.h.Net.AddMember(bridge, member),
		"Interface "+member+" is a member of "+bridge)
}

func (l *logged) DeleteMember(bridge, member string) error {
	return l.change(trace.BridgeDel(bridge, member), l.h.Net.DeleteMember(bridge, member),
		"Interface "+member+" is no longer a member of "+bridge)
}

func (l *logged) Members(bridge string) ([]string, error) {
	members, err := l.h.Net.Members(bridge)
	l.query("bridge_members "+bridge, func() string { return strings.Join(members, " ") }, err)
	return members, err
}

func (l *logged) SetDescription(name, text string) error {
	err := l.h.Net.SetDescription(name, text)
	l.query("if_descr "+name+" "+text, ok, err)
	return err
}

func (l *logged) Description(name string) (string, error) {
	text, err := l.h.Net.Description(name)
	l.query("if_descr "+name, func() string { return text }, err)
	return text, err
}

func (l *logged) WaitLinkDown(name string, timeout time.Duration) error {
	err := l.h.Net.WaitLinkDown(name, timeout)
	l.query(fmt.Sprintf("wait for the link of %s to go down, at most %v", name, timeout), ok, err)
	return err
}

func (l *logged) Watch() (host.Watch, error) { return l.h.Net.Watch() }

func (l *logged) DefaultGateway(name string) (netip.Addr, error) {
	gw, err := l.h.Net.DefaultGateway(name)
	l.query("route get default via "+name, gw.String, err)
	return gw, err
}

// Launcher.

func (l *logged) Launch(spec host.LaunchSpec) (host.Guest, error) {
	g, err := l.h.Launcher.Launch(spec)
	// The command line itself is the caller's to log, once.
	l.query(fmt.Sprintf("exec %s (%d arguments, nice %d)", spec.Argv[0], len(spec.Argv)-1, spec.Nice),
		func() string { return fmt.Sprintf("pid %d", g.Pid()) }, err)
	return g, err
}

func (l *logged) Configure(iface string) (bool, error) {
	ran, err := l.h.Launcher.Configure(iface)
	l.query(trace.Run(host.PccardEtherFor(iface)), func() string {
		if ran {
			return "started"
		}
		return "not run: devd does not run"
	}, err)
	return ran, err
}

func (l *logged) Signal(pid int, sig syscall.Signal) error {
	err := l.h.Launcher.Signal(pid, sig)
	l.query(trace.Signal(pid, sig), ok, err)
	return err
}

func (l *logged) Emulations(program string) ([]string, error) {
	ems, err := l.h.Launcher.Emulations(program)
	l.query(program+" -s help", func() string { return strings.Join(ems, " ") }, err)
	return ems, err
}

// Procs.

func (l *logged) Processes() ([]host.Process, error) {
	list, err := l.h.Procs.Processes()
	l.query("ps", func() string { return fmt.Sprintf("%d processes", len(list)) }, err)
	return list, err
}

func (l *logged) WaitExit(pid int, timeout time.Duration) (bool, error) {
	exited, err := l.h.Procs.WaitExit(pid, timeout)
	l.query(fmt.Sprintf("wait_exit %d %s", pid, timeout), func() string {
		if exited {
			return "exited"
		}
		return "still runs"
	}, err)
	return exited, err
}
