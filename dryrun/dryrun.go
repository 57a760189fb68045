// Package dryrun owns `wifibox -n`: a host that performs nothing. Each
// privileged operation a command makes through it is written out in the
// trace vocabulary of the simulated host (`kldload FILE`, `if_create TYPE
// ASSIGNED`, ...) instead of being carried out, and the queries that follow
// are answered from the real host as those operations would have changed
// it: a module loaded, a VM created, an interface created with the unit the
// kernel would choose. Every operation is assumed to succeed. What cannot be
// known before it happens (a sysctl of a module not loaded yet) is assumed
// and said in a line starting with `#`.
package dryrun

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/internal/trace"
)

// assumed are the values of the vmm sysctls while vmm is loaded only in the
// dry run: the defaults of a machine with an IOMMU.
var assumed = map[string]int64{
	"hw.vmm.maxcpu":       16,
	"hw.vmm.iommu.enable": 1,
}

// dry is the recording host.
type dry struct {
	real  *host.Host
	out   io.Writer
	strip func(string) string

	modules map[string]host.Module
	vms     map[string]bool
	drivers map[host.Selector]string // "" when released
	ifaces  map[string]*host.Interface
	members map[string][]string // of the bridges whose members changed
	gone    map[string]bool     // interfaces destroyed or renamed away
	exited  map[int]bool        // processes waited for
	descr   map[string]string   // descriptions the dry run set
	noted   map[string]bool
}

// New gives a host that writes to out the operations made on it and
// changes nothing on real.
func New(real *host.Host, out io.Writer) *host.Host {
	d := &dry{
		real: real, out: out, strip: func(s string) string { return s },
		modules: map[string]host.Module{}, vms: map[string]bool{},
		drivers: map[host.Selector]string{}, ifaces: map[string]*host.Interface{},
		members: map[string][]string{}, gone: map[string]bool{}, exited: map[int]bool{},
		descr: map[string]string{}, noted: map[string]bool{},
	}
	if root := real.Paths.Root; root != "/" && root != "" {
		// A simulated host's paths read as the simulated system sees them.
		d.strip = func(s string) string { return strings.ReplaceAll(s, root+"/", "/") }
	}
	return &host.Host{Kernel: d, VMs: d, PCI: d, Net: d, Launcher: d, Procs: d, Paths: real.Paths}
}

// op writes the line of an operation (package trace).
func (d *dry) op(line string) {
	fmt.Fprintln(d.out, d.strip(line))
}

func (d *dry) note(format string, args ...any) {
	line := fmt.Sprintf("# "+format, args...)
	if !d.noted[line] {
		d.noted[line] = true
		fmt.Fprintln(d.out, line)
	}
}

// Kernel.

func (d *dry) Module(name string) (host.Module, error) {
	if m, ok := d.modules[name]; ok {
		return m, nil
	}
	return d.real.Kernel.Module(name)
}

func (d *dry) Load(file string) error {
	d.op(trace.Kldload(file))
	name := strings.TrimSuffix(file[strings.LastIndex(file, "/")+1:], ".ko")
	d.modules[name] = host.Module{Name: name, Present: true, File: file}
	return nil
}

func (d *dry) Unload(module string) error {
	d.op(trace.Kldunload(module))
	d.modules[module] = host.Module{Name: module}
	return nil
}

func (d *dry) SysctlInt(name string) (int64, error) {
	if strings.HasPrefix(name, "hw.vmm.") {
		if m, ok := d.modules["vmm"]; ok {
			if !m.Present {
				return 0, syscall.ENOENT
			}
			if real, err := d.real.Kernel.Module("vmm"); err == nil && !real.Present {
				v, ok := assumed[name]
				if !ok {
					return 0, syscall.ENOENT
				}
				d.note("assuming %s=%d: it can be read once vmm is loaded", name, v)
				return v, nil
			}
		}
	}
	return d.real.Kernel.SysctlInt(name)
}

// Files are the real host's: the dry run's loads make no file the
// commands that list them look for.
func (d *dry) Files() ([]string, error) { return d.real.Kernel.Files() }

func (d *dry) SysctlString(name string) (string, error) { return d.real.Kernel.SysctlString(name) }

func (d *dry) ACPITables() ([]string, error) { return d.real.Kernel.ACPITables() }

// VMs.

func (d *dry) CreateVM(name string) error {
	d.op(trace.VMCreate(name))
	d.vms[name] = true
	return nil
}

func (d *dry) VMExists(name string) (bool, error) {
	if exists, ok := d.vms[name]; ok {
		return exists, nil
	}
	return d.real.VMs.VMExists(name)
}

func (d *dry) BootCPUActive(name string) (bool, error) {
	return d.real.VMs.BootCPUActive(name)
}

func (d *dry) SuspendVM(name string, how host.SuspendHow) error {
	d.op(trace.VMSuspend(name, how))
	return nil
}

func (d *dry) DestroyVM(name string) error {
	d.op(trace.VMDestroy(name))
	d.vms[name] = false
	return nil
}

// PCI.

func (d *dry) Devices() ([]host.PCIDevice, error) {
	devs, err := d.real.PCI.Devices()
	for i, dev := range devs {
		if driver, ok := d.drivers[dev.Selector]; ok {
			devs[i].Driver, devs[i].Unit, devs[i].Attached = driver, 0, driver != ""
		}
	}
	return devs, err
}

func (d *dry) SetDriver(sel host.Selector, driver string) error {
	d.op(trace.SetDriver(sel.String(), driver))
	d.drivers[sel] = driver
	return nil
}

func (d *dry) ClearDriver(sel host.Selector) error {
	d.op(trace.ClearDriver(sel.String()))
	d.drivers[sel] = ""
	return nil
}

// Net.

func (d *dry) Interfaces() ([]host.Interface, error) {
	real, err := d.real.Net.Interfaces()
	if err != nil {
		return nil, err
	}
	var all []host.Interface
	for _, i := range real {
		if !d.gone[i.Name] && d.ifaces[i.Name] == nil {
			all = append(all, i)
		}
	}
	for _, i := range d.ifaces {
		all = append(all, *i)
	}
	slices.SortFunc(all, func(a, b host.Interface) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

func (d *dry) Interface(name string) (host.Interface, error) {
	if i := d.ifaces[name]; i != nil {
		return *i, nil
	}
	if d.gone[name] {
		return host.Interface{}, fmt.Errorf("ifconfig %s: %w", name, syscall.ENXIO)
	}
	return d.real.Net.Interface(name)
}

// CreateInterface gives the name the kernel would: the one asked for
// (tap5), or the type and its lowest free unit.
func (d *dry) CreateInterface(kind string) (string, error) {
	name := kind
	if i := strings.IndexAny(kind, "0123456789"); i > 0 {
		kind = kind[:i]
	} else {
		all, err := d.Interfaces()
		if err != nil {
			return "", err
		}
		unit := 0
		for slices.ContainsFunc(all, func(i host.Interface) bool { return i.Name == kind+strconv.Itoa(unit) }) {
			unit++
		}
		name = kind + strconv.Itoa(unit)
	}
	d.op(trace.IfCreate(kind, name))
	d.ifaces[name] = &host.Interface{Name: name, Kind: kind}
	delete(d.gone, name)
	return name, nil
}

func (d *dry) RenameInterface(old, new string) error {
	d.op(trace.IfRename(old, new))
	i, err := d.Interface(old)
	if err != nil {
		return err
	}
	members, err := d.Members(old)
	if i.Kind == ifnet.KindBridge && err == nil {
		d.members[new] = members
	}
	d.forget(old)
	i.Name = new
	d.ifaces[new] = &i
	delete(d.gone, new)
	return nil
}

func (d *dry) DestroyInterface(name string) error {
	d.op(trace.IfDestroy(name))
	d.forget(name)
	for bridge, members := range d.members {
		d.members[bridge] = slices.DeleteFunc(members, func(m string) bool { return m == name })
	}
	return nil
}

// forget removes an interface from the dry run's view.
func (d *dry) forget(name string) {
	delete(d.ifaces, name)
	delete(d.members, name)
	d.gone[name] = true
}

func (d *dry) SetUp(name string) error {
	d.op(trace.IfUp(name))
	i, err := d.Interface(name)
	if err != nil {
		return err
	}
	i.Up = true
	d.ifaces[name] = &i
	return nil
}

func (d *dry) Members(bridge string) ([]string, error) {
	if members, ok := d.members[bridge]; ok {
		return slices.Clone(members), nil
	}
	if d.ifaces[bridge] != nil && !d.realExists(bridge) {
		return nil, nil // created by the dry run: no members yet
	}
	if d.gone[bridge] {
		return nil, fmt.Errorf("ifconfig %s: %w", bridge, syscall.ENXIO)
	}
	return d.real.Net.Members(bridge)
}

func (d *dry) realExists(name string) bool {
	_, err := d.real.Net.Interface(name)
	return err == nil
}

func (d *dry) AddMember(bridge, member string) error {
	d.op(trace.BridgeAdd(bridge, member))
	members, err := d.Members(bridge)
	d.members[bridge] = append(members, member)
	return err
}

func (d *dry) DeleteMember(bridge, member string) error {
	d.op(trace.BridgeDel(bridge, member))
	members, err := d.Members(bridge)
	d.members[bridge] = slices.DeleteFunc(members, func(m string) bool { return m == member })
	return err
}

func (d *dry) SetDescription(name, text string) error {
	d.op(trace.IfDescr(name, text))
	d.descr[name] = text
	return nil
}

func (d *dry) Description(name string) (string, error) {
	if text, ok := d.descr[name]; ok {
		return text, nil
	}
	if d.ifaces[name] != nil && !d.realExists(name) {
		return "", nil
	}
	return d.real.Net.Description(name)
}

// WaitLinkDown has nothing to wait for: the dry run launches no bhyve.
func (d *dry) WaitLinkDown(string, time.Duration) error { return nil }

// Watch is the real host's: watching changes nothing.
func (d *dry) Watch() (host.Watch, error) { return d.real.Net.Watch() }

// DefaultGateway reads the routing table, which the dry run leaves alone.
func (d *dry) DefaultGateway(name string) (netip.Addr, error) { return d.real.Net.DefaultGateway(name) }

// Launcher.

// guest is a bhyve the dry run did not start: it is ready at once and
// never exits.
type guest struct{}

var readyNow = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (guest) Pid() int                       { return 0 }
func (guest) Ready() <-chan struct{}         { return readyNow }
func (guest) Wait() (host.ExitStatus, error) { select {} }

func (d *dry) Launch(spec host.LaunchSpec) (host.Guest, error) {
	d.op(trace.Exec(spec.Argv))
	return guest{}, nil
}

func (d *dry) Configure(iface string) (bool, error) {
	d.op(trace.Run(host.PccardEtherFor(iface)))
	return true, nil
}

func (d *dry) Signal(pid int, sig syscall.Signal) error {
	d.op(trace.Signal(pid, sig))
	return nil
}

// Procs.

// Processes lists the real host's processes but those waited for.
func (d *dry) Processes() ([]host.Process, error) {
	list, err := d.real.Procs.Processes()
	return slices.DeleteFunc(list, func(p host.Process) bool { return d.exited[p.PID] }), err
}

// WaitExit assumes the process exits.
func (d *dry) WaitExit(pid int, timeout time.Duration) (bool, error) {
	d.note("assumed: process %d exits", pid)
	d.exited[pid] = true
	return true, nil
}

func (d *dry) Emulations(program string) ([]string, error) {
	return d.real.Launcher.Emulations(program)
}
