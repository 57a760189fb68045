// Package host is the seam between wifibox's orchestration and the FreeBSD
// kernel. It owns the small interfaces through which everything privileged
// happens (kernel modules and sysctls, virtual machines, PCI devices and their
// drivers, network interfaces, launching bhyve, and the process table), the value types they
// exchange, and the Host bundle that carries one implementation of each. The
// FreeBSD implementations live in vmmapi/, kmod/, ppt/, ifnet/, launch/ and
// procs/; the simulated host (sim/) runs them over its model of the kernel
// where they take one, and implements the rest itself. Errors returned
// through these interfaces wrap the kernel's errno: a syscall.Errno, or on
// the model an abi.Errno, which matches the syscall.Errno of its name. So
// callers decide with errors.Is(err, unix.EEXIST) and friends, and
// errors.As(err, &errno) with a syscall.Errno works on both.
package host

import (
	"fmt"
	"io"
	"net/netip"
	"syscall"
	"time"
)

// Kernel loads and unloads kernel modules and reads sysctls.
type Kernel interface {
	// Module tells whether the module is present (loaded from a file or
	// built into the kernel) and, when it came from a file, that file's
	// full path. A missing module is not an error: Present is false.
	Module(name string) (Module, error)
	// Load loads a kernel module file given by its full path (kldload(2)).
	// A module already present gives an error wrapping EEXIST.
	Load(file string) error
	// Unload unloads the file that provides the named module (kldunload(2)).
	// EBUSY when the module vetoes it (vmm with VMs present), ENOENT when
	// no file provides it.
	Unload(module string) error
	// Files lists the full paths of the loaded files, the kernel first
	// (kldnext(2), kldstat(2)): what kldstat(8) lists.
	Files() ([]string, error)
	// SysctlInt reads an integer sysctl. A sysctl that does not exist
	// (for example hw.vmm.* while vmm is not loaded) gives an error
	// wrapping ENOENT, so it is told apart from a zero.
	SysctlInt(name string) (int64, error)
	// SysctlString reads a string sysctl; ENOENT likewise.
	SysctlString(name string) (string, error)
	// ACPITables gives the signatures of the firmware's ACPI tables
	// ("FACP", "DMAR", ...), as acpidump(8) finds them; root only.
	ACPITables() ([]string, error)
}

// Module is what Kernel.Module reports.
type Module struct {
	Name    string
	Present bool
	// File is the path of the file the module was loaded from; empty for a
	// module built into the kernel or one that is not present.
	File string
}

// VMs creates, forces off and destroys bhyve virtual machines (libvmmapi).
type VMs interface {
	// CreateVM creates a VM (vm_create); EEXIST if it exists.
	CreateVM(name string) error
	// VMExists tells whether /dev/vmm/NAME exists.
	VMExists(name string) (bool, error)
	// SuspendVM forces the VM into the given suspend state (vm_suspend),
	// what bhyvectl --force-poweroff does for SuspendPowerOff. ENOENT if
	// the VM does not exist; EALREADY if it is already suspended.
	SuspendVM(name string, how SuspendHow) error
	// BootCPUActive tells whether the VM's boot vCPU (0) is active
	// (vm_active_cpus: VM_GET_CPUS with VM_ACTIVE_CPUS). bhyve activates
	// its vCPUs (fbsdrun_addcpu: vm_activate_cpu) only once init_pci has
	// set up every device. ENOENT if the VM does not exist.
	BootCPUActive(name string) (bool, error)
	// DestroyVM destroys the VM (vm_destroy). A VM that does not exist
	// gives EINVAL (the kernel's answer to hw.vmm.destroy and
	// VMMCTL_VM_DESTROY) or ENOENT (libvmmapi's vm_open before it).
	DestroyVM(name string) error
}

// SuspendHow is libvmmapi's enum vm_suspend_how, named by what it does.
// The FreeBSD backend maps it to the architecture's numeric value.
type SuspendHow string

// The suspend states wifibox uses.
const (
	SuspendReset    SuspendHow = "reset"
	SuspendPowerOff SuspendHow = "poweroff"
	SuspendHalt     SuspendHow = "halt"
)

// PCI lists PCI devices and changes the driver bound to one of them.
type PCI interface {
	// Devices lists every PCI device (PCIOCGETCONF on /dev/pci).
	Devices() ([]PCIDevice, error)
	// SetDriver detaches the device from its driver and attaches it to the
	// named one (DEV_SET_DRIVER with DEVF_SET_DRIVER_DETACH on
	// /dev/devctl2). ENOENT if the device or the driver does not exist.
	SetDriver(sel Selector, driver string) error
	// ClearDriver releases the device from a driver set by SetDriver so
	// the native driver can probe it again (DEV_CLEAR_DRIVER with
	// DEVF_CLEAR_DRIVER_DETACH).
	ClearDriver(sel Selector) error
}

// Selector addresses a PCI function: domain, bus, slot and function.
type Selector struct {
	Domain   uint32
	Bus      uint8
	Slot     uint8
	Function uint8
}

// String gives the form devctl(8) and pciconf(8) use: pci0:3:0:0.
func (s Selector) String() string {
	return fmt.Sprintf("pci%d:%d:%d:%d", s.Domain, s.Bus, s.Slot, s.Function)
}

// BSF gives the bus/slot/function form of bhyve.conf and bhyve's passthru
// device: 3/0/0.
func (s Selector) BSF() string {
	return fmt.Sprintf("%d/%d/%d", s.Bus, s.Slot, s.Function)
}

// PCIDevice is one entry of the PCI device list.
type PCIDevice struct {
	Selector Selector
	Vendor   uint16
	Device   uint16
	Class    uint8
	Subclass uint8
	Driver   string // the device's class: its driver's name, "" when none; a driver fixed by SetDriver names it attached or not
	Unit     uint64 // the class's unit
	Attached bool   // whether the driver is attached (device_is_attached)
}

// DriverUnit gives the attached driver as devinfo(8) names it (iwlwifi0,
// ppt0), or "" when no driver is attached.
func (d PCIDevice) DriverUnit() string {
	if !d.Attached {
		return ""
	}
	return fmt.Sprintf("%s%d", d.Driver, d.Unit)
}

// ClassNetwork is the PCI base class of network controllers.
const ClassNetwork = 0x02

// Net creates, destroys and links network interfaces.
type Net interface {
	// CreateInterface clones an interface of the given type ("bridge",
	// "tap") with the kernel choosing the unit, and returns the name it
	// chose (SIOCIFCREATE2).
	CreateInterface(kind string) (string, error)
	// RenameInterface renames an interface (SIOCSIFNAME); EEXIST if the
	// new name is taken, ENXIO if the old one does not exist.
	RenameInterface(old, new string) error
	// DestroyInterface destroys a cloned interface (SIOCIFDESTROY).
	DestroyInterface(name string) error
	// SetUp sets IFF_UP on the interface.
	SetUp(name string) error
	// Interface describes the named interface; ENXIO if there is none.
	Interface(name string) (Interface, error)
	// Interfaces lists every interface.
	Interfaces() ([]Interface, error)
	// AddMember adds an interface to a bridge (BRDGADD).
	AddMember(bridge, member string) error
	// DeleteMember removes an interface from a bridge (BRDGDEL).
	DeleteMember(bridge, member string) error
	// Members lists a bridge's members (BRDGGIFS).
	Members(bridge string) ([]string, error)
	// SetDescription sets an interface's description (SIOCSIFDESCR).
	SetDescription(name, text string) error
	// Description gives an interface's description, "" when it has
	// none (SIOCGIFDESCR).
	Description(name string) (string, error)
	// WaitLinkDown waits at most timeout until the interface's link is
	// not up: a tap's is up while a process (a bhyve) has it open.
	WaitLinkDown(name string, timeout time.Duration) error
	// Watch follows what the kernel reports of the interfaces (the
	// routing socket) from now on.
	Watch() (Watch, error)
	// DefaultGateway gives the gateway of the IPv4 default route out of
	// the named interface, from the routing table (NET_RT_DUMP); an error
	// when there is none.
	DefaultGateway(name string) (netip.Addr, error)
}

// Watch gives the changes of the interfaces as the kernel reports them.
type Watch interface {
	// Next blocks until an interface changes and tells which, by its
	// index (a rename comes as a departure and an arrival). After Close
	// it returns an error.
	Next() (int, error)
	Close() error
}

// Interface describes a network interface.
type Interface struct {
	Name  string
	Index int    // the kernel's if_index
	Kind  string // "bridge", "tap" or another type name
	Up    bool
	// LinkUp: the link state is up (a tap's while its device is open).
	LinkUp bool
}

// Launcher runs bhyve and signals processes.
type Launcher interface {
	// Launch starts bhyve with the given command line. It returns once
	// the process exists; Ready and Wait tell what became of it.
	Launch(spec LaunchSpec) (Guest, error)
	// Signal sends a signal to a process.
	Signal(pid int, sig syscall.Signal) error
	// Emulations lists the device emulations the bhyve program offers
	// (what `bhyve -s help` prints), so a missing virtio-9p is found
	// before a guest is started.
	Emulations(program string) ([]string, error)
	// Configure has an interface that wifibox has just created
	// configured as rc.conf says, what devd(8) has done for any other
	// interface that attached since the boot, and tells whether it did:
	// not while the system boots, when netif configures it.
	Configure(iface string) (bool, error)
}

// PccardEtherFor is the command line of the program devd(8) runs for
// every interface that attaches (freebsd-src sbin/devd/devd.conf: IFNET
// ATTACH), forced, for iface: the one program besides bhyve that wifibox
// runs, for wifibox0 (see Launcher.Configure).
func PccardEtherFor(iface string) []string {
	return []string{"/etc/pccard_ether", iface, "forcestart"}
}

// LaunchSpec says how to run bhyve.
type LaunchSpec struct {
	Argv []string // argv[0] is the bhyve program
	Nice int      // nice value, -20 to 20
	// Output receives bhyve's standard output and error.
	Output io.Writer
}

// Guest is a launched bhyve process.
type Guest interface {
	Pid() int
	// Ready is closed when bhyve has opened its tap: on FreeBSD the tap's
	// link comes up then. The devices of later slots (the passthru
	// device) are set up after it, so a bhyve that is ready may still
	// exit at once; the VM manager's stage running waits a grace window
	// more. It is never closed if bhyve exits first.
	Ready() <-chan struct{}
	// Wait waits for the process to exit and reports how it did. It may be
	// called once.
	Wait() (ExitStatus, error)
}

// ExitStatus is how a bhyve process ended: its exit code, or the signal
// that killed it.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal // non-zero when killed by a signal
}

// The exit statuses of bhyve (bhyve(8), EXIT STATUS).
const (
	ExitReset       = 0
	ExitPowerOff    = 1
	ExitHalt        = 2
	ExitTripleFault = 3
	ExitError       = 4
)

// String describes the status the way wifibox logs it.
func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(s.Signal), s.Signal)
	}
	switch s.Code {
	case ExitReset:
		return "exit status 0 (guest rebooted)"
	case ExitPowerOff:
		return "exit status 1 (guest powered off)"
	case ExitHalt:
		return "exit status 2 (guest halted)"
	case ExitTripleFault:
		return "exit status 3 (triple fault)"
	case ExitError:
		return "exit status 4 (error)"
	}
	return fmt.Sprintf("exit status %d", s.Code)
}

// Procs lists the host's processes by their titles and waits for one to
// exit: how wifibox finds a guest the shell implementation runs, whose
// processes are known by their titles only (setproctitle(3) of bhyve and
// daemon(8)).
type Procs interface {
	// Processes lists the running processes (zombies and processes whose
	// arguments cannot be read are left out).
	Processes() ([]Process, error)
	// WaitExit waits until the process exits or the timeout passes,
	// without polling, and tells whether it exited. A process that does
	// not exist has exited.
	WaitExit(pid int, timeout time.Duration) (bool, error)
}

// Process is one entry of Procs.Processes.
type Process struct {
	PID, PPID int
	// Title is the process's arguments joined by spaces, as pgrep -f
	// matches them: a title set with setproctitle(3) replaces them.
	Title string
}

// Host bundles one implementation of each part of the seam, and the paths of
// the files wifibox reads and writes on that host.
type Host struct {
	Kernel   Kernel
	VMs      VMs
	PCI      PCI
	Net      Net
	Launcher Launcher
	Procs    Procs
	Paths    Paths
}
