// Package sim owns the simulated FreeBSD host that wifibox's tests, demo and
// benchmarks run the real wifibox binary against on Linux. Its Kernel is a
// model of FreeBSD's kernel at the system-call boundary (sys.Sys) and of
// libvmmapi at its function table (Libvmmapi), over which Open runs the
// FreeBSD backends themselves (kmod for host.Kernel, vmmapi for host.VMs,
// ppt for host.PCI, ifnet for host.Net, launch's Launcher to start the
// simulated bhyve); and it runs a simulated bhyve process with a guest
// behind it (BhyveMain). A simulated host lives in a directory: the usual
// FreeBSD tree re-rooted there (configuration, guest images, firmware,
// /dev, /var/run, /boot/kernel), the kernel's state in DIR/sim/state.json,
// fault knobs in DIR/sim/faults and a trace of every privileged operation
// in DIR/trace.log. Every operation takes an exclusive
// flock on DIR/sim/lock, reads the state, changes it, writes it back
// atomically and appends to the trace, so several processes (wifibox
// commands, the VM manager, the simulated bhyve) act on one host
// consistently.
//
// Fault knobs are `key=value` lines in DIR/sim/faults (`#` starts a comment),
// read at each operation and set with SetFault:
//
//	poweroff_delay_ms=N      ms between SIGTERM (ACPI power button) and the
//	                         guest powering off, bhyve exiting 1 (default 100)
//	ignore_power_button=yes  the guest ignores SIGTERM and keeps running
//	guest_exit_after_ms=N    the guest exits by itself N ms after it booted...
//	guest_exit_status=S      ...and bhyve exits with status S (default 4)
//	vmm_busy=yes             unloading vmm fails with EBUSY, as while a VM
//	                         of another program exists (one without a node
//	                         under DIR/dev/vmm: create DIR/dev/vmm/NAME for
//	                         a VM wifibox can name)
//	vmm_preloaded=yes        the boot loader loaded vmm.ko (vmm_load="YES"):
//	                         it is loaded, without a user reference, so
//	                         kldunload answers EBUSY, and the preload
//	                         metadata (debug.dump_modinfo) names it
//	iommu_disabled=yes       hw.vmm.iommu.enable reads 0, passthru fails
//	iommu=none               the machine has no DMA remapping (VT-d or
//	                         AMD-Vi off or missing): no ACPI DMAR or IVRS
//	                         table, hw.vmm.amdvi.count 0, passthru fails;
//	                         hw.vmm.iommu.enable still reads 1
//	amdvi_enable=yes         the loader tunable hw.vmm.amdvi.enable=1,
//	                         without which AMD-Vi is not used
//	pci_device_missing=yes   the Wi-Fi card pci0:3:0:0 is absent
//	wifi_cards=N             the Wi-Fi cards present: 0, 1 (default: the
//	                         Intel card pci0:3:0:0, driver iwlwifi from
//	                         if_iwlwifi.ko) or 2 (and the Atheros card
//	                         pci0:4:0:0, driver ath from if_ath_pci.ko)
//	native_driver_missing=yes the Wi-Fi card's native driver is not in the
//	                         kernel (devmatch_blocklist): only ppt takes it
//	securelevel=N            kern.securelevel (default -1): above 0,
//	                         /dev/pci cannot be opened for writing, and
//	                         kldload and kldunload answer EPERM
//	module_files_missing=yes kern.module_path names DIR/boot/missing, where
//	                         no module file is, instead of DIR/boot/kernel
//	no_virtio_9p=yes         bhyve lacks the virtio-9p emulation
//	osreldate=N              kern.osreldate, the release the kernel model and
//	                         libvmmapi answer as (default 1403000, 14.3)
//	cpu=amd                  hw.model names an AMD CPU, not an Intel one
//	machine_arch=aarch64     hw.machine_arch names arm64's, not amd64
//	default_gateway=IP       while wifibox0 exists, the routing table has
//	                         an IPv4 default route out of it through IP, as
//	                         the host's DHCP client sets from the guest's
//	                         lease (none by default)
//	passthru_rejected=yes    bhyve cannot assign the passthru device: it
//	                         exits 4 during its device setup, after it
//	                         opened its tap (the Launcher's ready)
//	guest_up_after_ms=N      ms from bhyve's device setup to the guest's
//	                         system up: its logs written into
//	                         /var/run/wifibox/appliance/log and the control
//	                         sockets of uds_passthru.conf served (default 0)
//	wifi_after_ms=N          ms from the guest up to wpa_supplicant's
//	                         association (wpa_state=COMPLETED, logged as
//	                         CTRL-EVENT-CONNECTED) (default 0)
//	wifi=never               wpa_supplicant never associates (SCANNING)
//	wpa_hang_after_ms=N      wpa_supplicant stops answering N ms after the
//	                         guest came up
//
// The simulated bhyve reports ready to the Launcher when it opens its tap,
// the moment the FreeBSD Launcher sees as the tap's link coming up; the
// devices of later slots (passthru, the console) are set up after it.
//
// Boolean knobs take yes or no; no is the default.
package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	netif "github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/internal/runfile"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/procs"
	"github.com/wifibox/wifibox/vmmapi"
)

// BhyveCommand is the hidden wifibox command that runs the simulated bhyve:
// `wifibox __sim-bhyve DIR ARGV...` calls BhyveMain with DIR and ARGV.
const BhyveCommand = "__sim-bhyve"

// system is one simulated host: its state, faults and trace.
type system struct {
	dir string // absolute directory of the simulated host
}

// Open gives a host.Host whose parts act on the simulated host under dir.
func Open(dir string) (*host.Host, error) {
	k, err := NewKernel(dir)
	if err != nil {
		return nil, err
	}
	lib, err := k.Libvmmapi()
	if err != nil {
		return nil, err
	}
	net, err := netif.New(k)
	if err != nil {
		return nil, err
	}
	s := k.s
	return &host.Host{
		Kernel:   kmod.New(k),
		VMs:      vmmapi.NewWithLibrary(s.paths(), lib),
		PCI:      ppt.New(k),
		Net:      net,
		Launcher: s,
		Procs:    procs.New(k),
		Paths:    host.DefaultPaths(s.dir),
	}, nil
}

// openSystem finds the simulated host under dir.
func openSystem(dir string) (*system, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open simulated host %s: %w", dir, err)
	}
	s := &system{dir: abs}
	if _, err := os.Stat(s.statePath()); err != nil {
		return nil, fmt.Errorf("open simulated host %s: %w (create one with `wifibox sim init %s`)", abs, err, abs)
	}
	return s, nil
}

func (s *system) simDir() string    { return filepath.Join(s.dir, "sim") }
func (s *system) statePath() string { return filepath.Join(s.simDir(), "state.json") }
func (s *system) tracePath() string { return filepath.Join(s.dir, "trace.log") }
func (s *system) paths() host.Paths { return host.DefaultPaths(s.dir) }

// strip gives a path (or an argument containing paths) as the simulated
// FreeBSD sees it, without the host's directory in front.
func (s *system) strip(arg string) string {
	if arg == s.dir {
		return "/"
	}
	return strings.ReplaceAll(arg, s.dir+"/", "/")
}

// state is the simulated kernel's state, kept in DIR/sim/state.json.
type state struct {
	// Linker is the kernel linker's files and their modules.
	Linker     linker         `json:"linker"`
	VMs        map[string]*vm `json:"vms"`
	Devices    []*device      `json:"devices"`
	Interfaces []*iface       `json:"interfaces"`
	// IOMMUInitialized is iommu.c's iommu_avail: set by the first
	// successful vm_assign_pptdev since vmm loaded.
	IOMMUInitialized bool `json:"iommu_initialized,omitempty"`
}

// vm is a virtual machine: its suspend state, its vCPUs, and the
// simulated bhyve running it. The model has one vCPU that counts, the boot
// vCPU 0: Active is vm->active_cpus holding it (vm_activate_cpu) and
// CPUsSuspended is vm->suspended_cpus equal to the active set with it in
// (vm_handle_suspend, which the vCPU's own thread runs once the VM is
// suspended: sys/amd64/vmm/vmm.c). Both outlive the bhyve process: only
// vm_reinit and the VM's destruction empty them.
type vm struct {
	Suspended     host.SuspendHow `json:"suspended,omitempty"`
	Active        bool            `json:"active,omitempty"`
	CPUsSuspended bool            `json:"cpus_suspended,omitempty"`
	Pid           int             `json:"pid,omitempty"`
	// PPT are the PCI devices assigned to the VM (vm_assign_pptdev),
	// until it is destroyed or reinitialised (ppt_unassign_all).
	PPT []host.Selector `json:"ppt,omitempty"`
}

// txn is one operation on the state, holding the host's lock.
type txn struct {
	dir    string // the simulated host's directory
	st     *state
	faults faults
	line   string // the trace line; an operation may complete it
	// routes are the routing messages the operation broadcasts, sent
	// when it succeeds.
	routes [][]byte
	// sleep is set by an operation that has to wait in the kernel for
	// another process (tun_destroy for a tap's opener): the process whose
	// exit or close ends the wait. The caller sleeps outside the host's
	// lock and runs the operation again (Kernel.Ioctl).
	sleep int
}

// mode says what an operation does besides reading the state.
type mode struct {
	trace bool // append the operation's line to the trace
	write bool // write the state back when the operation succeeds
	// always writes the state back when the operation fails too: the
	// kernel changed it before it failed (DEV_SET_DRIVER fixes the
	// class, then its probe fails).
	always bool
}

var (
	privileged = mode{trace: true, write: true} // what the seam receives
	changing   = mode{trace: true, write: true, always: true}
	traced     = mode{trace: true} // what it receives beyond the kernel's state
	query      = mode{}            // read-only seam queries
	internal   = mode{write: true} // the simulated bhyve's own calls
)

// run performs one operation under the host's lock. The error of fn is
// wrapped with the operation's line.
func (s *system) run(line string, m mode, fn func(*txn) error) error {
	t, err := s.do(line, m, fn)
	if err != nil {
		return fmt.Errorf("%s: %w", t.line, err)
	}
	return nil
}

// syscall performs one system call of the kernel model under the host's
// lock. The call's own error (an abi.Errno) is returned as it is, as the
// kernel returns it; a failure of the simulated host itself is wrapped
// with the call's line.
func (s *system) syscall(line string, m mode, fn func(*txn) error) error {
	var failed error
	t, err := s.do(line, m, func(t *txn) error {
		failed = fn(t)
		return failed
	})
	if err != nil && err != failed {
		return fmt.Errorf("%s: %w", t.line, err)
	}
	return err
}

// do runs fn on the state under the host's lock: it reads the faults and
// the state, writes the state back when fn succeeds and m says so, and
// appends the trace line (which fn may complete) when m says so.
func (s *system) do(line string, m mode, fn func(*txn) error) (*txn, error) {
	t := &txn{dir: s.dir, line: line}
	unlock, err := s.lock()
	if err != nil {
		return t, err
	}
	defer unlock()
	if t.faults, err = readFaults(s.dir); err != nil {
		return t, err
	}
	if t.st, err = s.load(); err != nil {
		return t, err
	}
	t.preload()
	ferr := fn(t)
	if (ferr == nil || m.always) && m.write {
		if err := s.save(t.st); err != nil {
			return t, err
		}
		if len(t.routes) > 0 {
			if err := s.appendRoutes(t.routes); err != nil {
				return t, err
			}
		}
	}
	if m.trace {
		if err := s.appendTrace(t.line); err != nil {
			return t, err
		}
	}
	return t, ferr
}

// lock takes the exclusive lock of the host, across processes.
func (s *system) lock() (unlock func(), err error) {
	path := filepath.Join(s.simDir(), "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, fs.ErrPermission) {
		// A user other than the host's owner, who may look (status) as
		// any user may read the process table, the interfaces and the
		// PCI devices of FreeBSD: flock(2) needs no write access.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock simulated host: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock simulated host: flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func (s *system) load() (*state, error) {
	data, err := os.ReadFile(s.statePath())
	if err != nil {
		return nil, fmt.Errorf("read simulated host state: %w", err)
	}
	st := &state{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read simulated host state %s: %w", s.statePath(), err)
	}
	if len(st.Linker.Files) == 0 {
		st.Linker = newLinker()
	}
	if st.VMs == nil {
		st.VMs = map[string]*vm{}
	}
	return st, nil
}

func (s *system) save(st *state) error {
	data, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("write simulated host state: %w", err)
	}
	return writeAtomic(s.statePath(), append(data, '\n'))
}

// writeAtomic replaces a file of the simulator's own, readable by its
// user only, atomically.
func writeAtomic(path string, data []byte) error {
	return runfile.WriteAtomic(path, data, 0o644) // readable by other users, as the kernel's state is
}

func (s *system) appendTrace(line string) error {
	if err := appendLine(s.tracePath(), line); err != nil {
		return fmt.Errorf("trace %q: %w", line, err)
	}
	return nil
}

// appendLine appends a line to a file of the simulated host, creating it.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadTrace gives the privileged operations the simulated host under dir
// received so far, one per line, oldest first.
func ReadTrace(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "trace.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trace of simulated host: %w", err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nil
}
