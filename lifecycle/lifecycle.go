// Package lifecycle owns wifibox's commands that change the host: start,
// stop and restart with their targets. A target is a composition of three
// parts, the guest (G), the network interface (N) and the vmm module (V);
// the table of which parts each target touches (man/wifibox.8, Targets) is
// the targets map below, and start, stop and restart are the same steps in opposite
// orders. The commands hold a lock so that two never run at once, repair
// what a killed VM manager left behind, and undo nothing that another
// command built: every step is idempotent.
package lifecycle

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/internal/runfile"
	"github.com/wifibox/wifibox/internal/suggest"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/legacy"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/relay"
)

// parts are what a target touches.
type parts struct{ guest, netif, vmm bool }

// targets is the table of man/wifibox.8, Targets: which parts each target
// touches.
var targets = map[string]parts{
	"":      {guest: true, netif: true},
	"netif": {guest: true, netif: true},
	"guest": {guest: true},
	"vmm":   {guest: true, vmm: true},
}

// ParseTarget checks a command's arguments: at most one, a known target.
func ParseTarget(args []string) (string, error) {
	if len(args) > 1 {
		return "", failure.TooMany
	}
	if len(args) == 0 {
		return "", nil
	}
	if _, ok := targets[args[0]]; !ok || args[0] == "" {
		msg := fmt.Sprintf("Unknown target: %s (supported: guest, netif, vmm)", args[0])
		if s := suggest.Nearest(args[0], []string{"guest", "netif", "vmm"}); s != "" {
			msg += "; did you mean " + s + "?"
		}
		return "", failure.New(failure.Usage, errors.New(msg))
	}
	return args[0], nil
}

// Runner carries out the commands on one host.
type Runner struct {
	Host *host.Host
	Log  *logrus.Logger
	Out  io.Writer // progress for the user
	// Manager is the command line that runs the VM manager: the wifibox
	// executable and its arguments.
	Manager []string
	// Effects: what the command does besides Host's calls; Act when nil.
	Effects Effects
	// stopGrace bounds the guest's time to power off below
	// stop_wait_max; 0 leaves stop_wait_max. Suspend sets it.
	stopGrace time.Duration
	// lockWait bounds the wait for the command lock; LockWait when zero.
	lockWait time.Duration
	// legacyStopped: the shell implementation's guest has been stopped,
	// and repair's work is the rest of its stop, not a repair.
	legacyStopped bool
	// reclaimed: the command has reclaimed left-behind interfaces
	// already (Netif.Setup and Teardown do), so repair need not.
	reclaimed bool
	// handed are the relay's sockets taken from the VM manager that a
	// restart stops, for the one it starts (takeSockets).
	handed []relay.Handed
}

// fx is the command's Effects.
func (r *Runner) fx() Effects {
	if r.Effects == nil {
		return Act
	}
	return r.Effects
}

// running tells whether a VM manager runs (manager.Running), as far as the
// command has got: after a dry run's stop, none does.
func (r *Runner) running() (pid int, stale bool, err error) {
	return r.fx().running(r.Host.Paths.RunDir)
}

// Start starts the parts of the target: V, then N, then G.
func (r *Runner) Start(target string) error {
	p := targets[target]
	return r.run("start", "Starting", func(step func(func() error) error) error {
		if p.guest { // before anything changes
			if err := step(r.preflight); err != nil {
				return err
			}
		}
		return r.startParts(p, step)
	})
}

// Stop stops the parts of the target: G, then N, then V.
func (r *Runner) Stop(target string) error {
	p := targets[target]
	return r.run("stop", "Stopping", func(step func(func() error) error) error {
		return r.stopParts(p, step)
	})
}

// Restart stops the target's parts and starts them again; it needs a
// running guest.
func (r *Runner) Restart(target string) error {
	p := targets[target]
	pid, _, err := r.running()
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if pid == 0 {
		pid, err = r.legacyBhyve()
		if err != nil {
			return err
		}
	}
	if pid == 0 {
		r.Log.Warn("No running instance found that could be restarted")
		// What a dead manager left is repaired all the same.
		unlock, err := r.lock("restart")
		if err != nil {
			return err
		}
		defer unlock()
		// What is left of a guest of the shell implementation that has
		// exited (its socket relays) goes too.
		if _, err := r.stopLegacy("stopping what is left of it, its guest has exited"); err != nil {
			return err
		}
		if err := r.repair(); err != nil {
			return err
		}
		return failure.New(failure.NotRunning, failure.ErrShown)
	}
	return r.run("restart", "Restarting", func(step func(func() error) error) error {
		// A restart whose start would refuse stops nothing.
		if err := step(r.preflight); err != nil {
			return err
		}
		if p.guest {
			r.takeSockets()
			defer r.dropSockets()
		}
		if err := r.stopParts(p, step); err != nil {
			return err
		}
		return r.startParts(p, step)
	})
}

// takeSockets takes the relay's sockets from the running VM manager for
// the next one (manager.Handover), so that the clients attached to them
// stay attached across the restart. Without them the next relay creates
// its sockets anew, as a start does.
func (r *Runner) takeSockets() { r.fx().handover(r) }

// handover is takeSockets when the command acts.
func (r *Runner) handover() {
	if pid, _, err := r.running(); err != nil || pid == 0 {
		return
	}
	handed, err := manager.Handover(r.Host.Paths.RunDir)
	if err != nil {
		r.Log.Warnf("The control sockets are created anew, so clients attached to them must attach again: %v", err)
		return
	}
	r.handed = handed
}

// dropSockets closes what of the handed sockets no VM manager took.
func (r *Runner) dropSockets() {
	for _, h := range r.handed {
		h.File.Close()
	}
	r.handed = nil
}

func (r *Runner) startParts(p parts, step func(func() error) error) error {
	if p.vmm {
		if err := step(r.loadVMM); err != nil {
			return err
		}
	}
	if p.netif {
		if err := step(r.startNetif); err != nil {
			return err
		}
	}
	if p.guest {
		return step(r.startGuest)
	}
	return nil
}

func (r *Runner) stopParts(p parts, step func(func() error) error) error {
	if p.guest {
		if err := step(r.stopGuest); err != nil {
			return err
		}
	}
	if p.netif {
		if err := step(r.stopNetif); err != nil {
			return err
		}
	}
	if p.vmm {
		return step(r.unloadVMM)
	}
	return nil
}

// run holds the command lock around a command's steps and shows its
// progress the shell implementation's way: `Starting wifibox....OK`.
// A dry run shows no progress: the operations are the output.
func (r *Runner) run(name, verb string, steps func(step func(func() error) error) error) error {
	return r.fx().run(r, name, verb, steps)
}

// runLocked is run when the command acts.
func (r *Runner) runLocked(name, verb string, steps func(step func(func() error) error) error) error {
	r.Log.Infof("Begin: wifibox %s", name)
	unlock, err := r.takeLock(name)
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(r.Out, "%s wifibox...", verb)
	err = steps(func(f func() error) error {
		if err := f(); err != nil {
			return err
		}
		fmt.Fprint(r.Out, ".")
		return nil
	})
	if err != nil {
		fmt.Fprintln(r.Out, "FAILED")
		return err
	}
	fmt.Fprintln(r.Out, "OK")
	r.Log.Infof("End: wifibox %s", name)
	return nil
}

// LockWait bounds the wait of a command for the one that holds the command
// lock: longer than a command holds it (a restart stops the guest, at most
// stop_wait_max 60 s and 6 s more, and starts it, at most 60 s), so that
// only a hung or stopped command makes the next one give up.
const LockWait = 3 * time.Minute

// lock takes the command lock for the command name, waiting at most
// r.lockWait (LockWait when zero) while another command holds it, and
// records which command holds it for the next one to name. A dry run takes
// none: it changes nothing.
func (r *Runner) lock(name string) (func(), error) { return r.fx().lock(r, name) }

// takeLock is lock when the command acts.
func (r *Runner) takeLock(name string) (func(), error) {
	dir := r.Host.Paths.RunDir
	if err := runfile.MakeDir(dir); err != nil {
		return nil, failure.New(failure.Environment, err)
	}
	path := filepath.Join(dir, host.LockFile)
	f, err := runfile.Open(path, os.O_RDWR, true, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		return nil, failure.New(failure.Environment, fmt.Errorf("wifibox must run as root: %w", err))
	}
	if err != nil { // names the path once
		return nil, failure.New(failure.Environment, err)
	}
	// The lock is taken, and its holder recorded, only under the gate
	// (a flock of the run directory, held for those few calls only: flock
	// takes any vnode, a directory too, freebsd-src main:
	// sys/kern/kern_descrip.c sys_flock), so a command that finds the
	// lock held always finds its holder named.
	// A waiter waits for a shared lock, which the kernel grants once the
	// holder lets go, and then tries again under the gate.
	gated := func(fn func() error) error {
		d, err := os.Open(dir)
		if err == nil {
			defer d.Close()
			err = unix.Flock(int(d.Fd()), unix.LOCK_EX)
		}
		if err != nil {
			return fmt.Errorf("lock %s: %w", dir, err)
		}
		return fn()
	}
	wait := r.lockWait
	if wait == 0 {
		wait = LockWait
	}
	deadline := time.Now().Add(wait)
	holder, announced := "", false
	for {
		err = gated(func() error {
			err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				// Who holds the lock is only informational: a full
				// /var must not stop a command, stop at shutdown
				// least of all.
				if rerr := runfile.Record(f, fmt.Sprintf("PID %d, wifibox %s", os.Getpid(), name)); rerr != nil {
					r.Log.Warnf("Cannot note in %s which command holds it: %v; a command waiting for it names its holder unknown", path, rerr)
				}
				return nil
			}
			if who := runfile.Holder(f); who != "unknown" {
				holder = who // else a waiter's passing shared lock
			}
			return err
		})
		if !errors.Is(err, unix.EWOULDBLOCK) {
			break
		}
		if holder != "" && !announced {
			announced = true
			r.Log.Infof("Another wifibox command (%s) is running, waiting up to %s for it to finish", holder, wait)
			fmt.Fprintf(r.Out, "Waiting up to %s for another wifibox command (%s) to finish...\n", wait, holder)
		}
		err = runfile.WaitLock(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_SH) }, time.Until(deadline))
		if errors.Is(err, runfile.ErrTimeout) {
			f.Close()
			return nil, failure.New(failure.Environment, fmt.Errorf(
				"Another wifibox command (%s) has held %s for more than %s, giving up: "+
					"if it hangs, end it, and the next command repairs what it left", cmp.Or(holder, "unknown"), path, wait))
		}
		if err == nil {
			err = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, failure.New(failure.Environment, fmt.Errorf("lock %s: %w", path, err))
	}
	return func() {
		gated(func() error {
			f.Truncate(0) // nobody holds it
			return f.Close()
		})
	}, nil
}

// ensureModule loads a kernel module from kern.module_path unless it is
// present. Only vmm is replaced when it is present from another file, and
// only while wifibox's VM does not exist: unloading vmm under a VM fails,
// and if_bridge and nmdm are never unloaded, as that would destroy every
// bridge, wifibox0 with the tap a running guest uses among them.
func (r *Runner) ensureModule(name string) error {
	file, err := kmod.ModuleFile(r.Host.Kernel, name)
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	replace := false
	if name == "vmm" {
		running, err := r.Host.VMs.VMExists(host.VMName)
		if err != nil {
			return failure.New(failure.Environment, err)
		}
		replace = !running
	}
	before, loaded, err := kmod.Ensure(r.Host.Kernel, name, file, replace)
	switch {
	case err != nil:
		return failure.New(failure.Environment, err)
	case loaded:
		r.Log.Infof("Kernel module %s was loaded from %s", name, file)
	case name == "vmm" && !replace && before.File != "" && filepath.Clean(before.File) != filepath.Clean(file):
		r.Log.Warnf("vmm.ko is loaded from %s, not %s; it is kept while the VM %s exists", before.File, file, host.VMName)
	}
	return nil
}

func (r *Runner) loadVMM() error { return r.ensureModule("vmm") }

// netif is the netif target on the command's host; the dry run keeps no
// journal.
func (r *Runner) netif() ifnet.Netif { return r.fx().netif(r.Host) }

func (r *Runner) startNetif() error {
	if err := r.ensureModule("if_bridge"); err != nil {
		return err
	}
	nf := r.netif()
	existed := nf.Exists()
	tap, warnings, err := nf.Setup()
	r.reclaimed = err == nil
	for _, w := range warnings {
		r.Log.Warn(w)
	}
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	r.Log.Infof("Bridge %s is up with member %s", nf.Bridge, tap)
	if !existed {
		manager.Configure(r.Host, nf, r.Log)
	}
	return nil
}

func (r *Runner) stopNetif() error {
	warnings, err := r.netif().Teardown()
	r.reclaimed = err == nil
	for _, w := range warnings {
		r.Log.Warn(w)
	}
	return failure.New(failure.Environment, err)
}

// startGuest checks that a guest can run and starts the VM manager; a
// running guest is left intact, and one waiting to restart after a crash
// or reboot fails the start with when it comes.
func (r *Runner) startGuest() error {
	h := r.Host
	if _, err := r.stopLegacy("taking it over: stopping it the way it stops, then starting the guest under this wifibox"); err != nil {
		return err
	}
	if pid, _, err := r.running(); err != nil {
		return failure.New(failure.Environment, err)
	} else if pid != 0 {
		if managed, err := r.alreadyManaged(pid); managed || err != nil {
			return err
		}
	}
	if err := r.repair(); err != nil {
		return err
	}
	if err := r.loadVMM(); err != nil {
		return err
	}
	if err := r.checkIOMMU(); err != nil {
		return err
	}
	if err := r.checkVirtFS(); err != nil {
		return err
	}
	plan, err := manager.Prepare(h)
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		r.Log.Warn(w)
	}
	if plan.Console {
		if err := r.ensureModule("nmdm"); err != nil {
			return err
		}
	}
	devices, ids, err := ppt.List(h.PCI, h.Paths.PCIIDs)
	if err == nil {
		err = ppt.Check(devices, plan.Passthru, ids)
	}
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	return r.fx().spawn(r)
}

// spawn starts the VM manager, when the command acts.
func (r *Runner) spawn() error {
	h := r.Host
	// The guest controls appliance/: a link it left there is replaced,
	// never followed.
	repaired, err := runfile.MakeDirsIn(h.Paths.RunDir, filepath.Join(host.RunApplianceIn, "log"), 0o755)
	for _, what := range repaired {
		r.Log.Warnf("%s", what)
	}
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	pid, err := manager.Spawn(r.Manager[0], r.Manager[1:], r.handed...)
	r.dropSockets()                          // the new manager has its own
	if errors.Is(err, manager.ErrNoAnswer) { // killed: undo what it did
		return failure.New(failure.Environment, errors.Join(err, r.repair()))
	}
	if err != nil {
		return err
	}
	r.Log.Infof("Guest %s has started as PID %d", host.VMName, pid)
	return nil
}

// alreadyManaged tells about the guest a VM manager runs already, and
// whether it does: a manager that is stopping is waited for, and one
// that does not answer while its bhyve is gone is killed, so that the
// start goes on afresh (managed false); one that does not answer while
// its bhyve lives is an error, as status says it.
func (r *Runner) alreadyManaged(pid int) (managed bool, err error) {
	dir := r.Host.Paths.RunDir
	st, err := r.fx().query(dir) // a dry run asks nothing and waits for nothing
	switch {
	case errors.Is(err, manager.ErrNoAnswer):
		if g := manager.Leftover(dir); g != 0 {
			if exited, werr := r.Host.Procs.WaitExit(g, 0); werr != nil || !exited {
				return true, failure.New(failure.Environment, fmt.Errorf(
					"The VM manager PID %d is not answering (%w), and its bhyve PID %d runs; it may be stopped or hung: "+
						"`wifibox stop` kills it and cleans up", pid, err, g))
			}
		}
		r.Log.Warnf("The VM manager PID %d is not answering (%v) and its bhyve is gone: killing it, then starting afresh", pid, err)
		if err := manager.Kill(dir, pid); err != nil {
			return true, failure.New(failure.Environment, err)
		}
		return false, nil
	case err != nil:
		return true, failure.New(failure.Environment, err)
	case st.State == "stopping" || st.State == "cleaning up":
		wait := manager.StopWait(time.Duration(st.StopWait) * time.Second)
		r.Log.Infof("The VM manager PID %d is stopping the guest: waiting up to %s for it to finish, then starting afresh", pid, wait)
		if err := manager.WaitGone(dir, wait); err != nil {
			return true, failure.New(failure.Environment, fmt.Errorf(
				"The VM manager PID %d did not finish stopping the guest in %s (%w): `wifibox stop` kills it and cleans up", pid, wait, err))
		}
		r.waitExit("VM manager", pid)
		return false, nil
	case st.Stage == manager.StageRestarting:
		return true, failure.New(failure.GuestFailed, fmt.Errorf(
			"The guest does not run: it %s, and the VM manager PID %d starts it again at %s (in %s); "+
				"`wifibox restart` starts it now, `wifibox stop` stops trying",
			st.Reason, pid, st.NextStart.Format(time.TimeOnly), time.Until(st.NextStart).Round(time.Millisecond)))
	}
	r.Log.Warnf("Guest is already run by the VM manager PID %d, left intact", pid)
	return true, nil
}

// exitWait bounds the wait for a process that has been told to end and
// is on its way out: a VM manager that answered a stop, a bhyve whose VM
// was destroyed.
const exitWait = 5 * time.Second

// waitExit waits at most exitWait for the process pid to exit, and tells
// whether it has.
func (r *Runner) waitExit(what string, pid int) bool {
	exited, err := r.Host.Procs.WaitExit(pid, exitWait)
	if err != nil || !exited {
		r.Log.Warnf("The %s PID %d has not exited in %s (%v)", what, pid, exitWait, err)
	}
	return exited
}

// preflight checks everything the start of the guest uses before the
// first change to the host, so that a start that refuses leaves nothing
// behind: the machine and its IOMMU, core.conf, bhyve.conf (cpus against hw.vmm.maxcpu
// only once vmm is loaded, as that sysctl comes with it) and the bhyve it
// names, the guest's images and the firmware. A uds_passthru.conf that cannot be used is a
// warning: the guest runs without the control-socket pass-through.
func (r *Runner) preflight() error {
	if err := r.checkArch(); err != nil {
		return err
	}
	// Before vmm is loaded the firmware's ACPI tables tell; once it is,
	// startGuest checks again with what vmm tells.
	if err := r.checkIOMMU(); err != nil {
		return err
	}
	p := r.Host.Paths
	if _, _, err := config.LoadCore(p.CoreConf()); err != nil {
		return failure.New(failure.Config, err)
	}
	cfg, _, err := config.LoadBhyve(p.BhyveConf(), 0)
	if err == nil {
		_, err = cfg.ProgramPath(p)
	}
	if err != nil {
		return failure.New(failure.Config, err)
	}
	if err := manager.CheckFiles(p); err != nil {
		return err
	}
	if _, _, _, err := manager.RelayConfig(p); err != nil {
		r.Log.Warnf("%v (%s)", err, config.WithoutRelay)
	}
	return nil
}

// checkArch refuses a guest on a machine other than amd64, as the kernel
// names it (hw.machine_arch).
func (r *Runner) checkArch() error {
	arch, err := r.Host.Kernel.SysctlString("hw.machine_arch")
	if err == nil {
		err = bhyve.ArchSupported(arch)
	}
	return failure.New(failure.Environment, err)
}

// checkIOMMU refuses a host whose kernel tells that it has no IOMMU for
// bhyve's PCI pass-through, as doctor judges it (kmod.CheckIOMMU); where
// the kernel cannot tell, bhyve finds out.
func (r *Runner) checkIOMMU() error {
	v := kmod.CheckIOMMU(r.Host.Kernel, filepath.Join(r.Host.Paths.Root, "boot/loader.conf"))
	if v.Problem == "" {
		return nil
	}
	return failure.New(failure.Environment, errors.New("PCI pass-through is not available for bhyve: "+v.Problem+"; "+v.Fix))
}

// checkVirtFS checks that the bhyve to run, the one bhyve.conf names or
// the base system's, has virtio-9p. A bhyve.conf that cannot be read is
// left to the start of the guest to report.
func (r *Runner) checkVirtFS() error {
	program := r.Host.Paths.Bhyve
	if cfg, _, err := config.LoadBhyve(r.Host.Paths.BhyveConf(), 0); err == nil {
		if program, err = cfg.ProgramPath(r.Host.Paths); err != nil {
			return failure.New(failure.Config, err)
		}
	}
	ems, err := r.Host.Launcher.Emulations(program)
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if !slices.Contains(ems, "virtio-9p") {
		return failure.New(failure.Environment, fmt.Errorf(
			"The Virtio 9p (VirtFS) bhyve interface is not available in %s; update FreeBSD to 13.0 or later", program))
	}
	return nil
}

// stopGuest asks the VM manager to stop the guest and waits until it has
// cleaned up. With no manager it only repairs what a dead one left.
func (r *Runner) stopGuest() error {
	stoppedLegacy, err := r.stopLegacy("stopping it the way it stops")
	if err != nil {
		return err
	}
	pid, _, err := r.running()
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if pid == 0 {
		if !stoppedLegacy {
			r.Log.Warn("Guest is not running, hence not stopped")
		}
		return r.repair()
	}
	return r.fx().stop(r, pid)
}

// stopManaged is stopGuest's stop of the guest the VM manager PID pid
// runs, when the command acts.
func (r *Runner) stopManaged(pid int) error {
	dir := r.Host.Paths.RunDir
	// The whole wait, status included, is bounded by the grace period
	// the manager gives the guest, the kill grace and its cleanup.
	begin := time.Now()
	r.Log.Infof("Stopping guest %s managed by PID %d", host.VMName, pid)
	grace := r.stopWait() // what bhyve.conf says, unless the manager tells
	st, err := manager.Query(dir, false)
	answered := err == nil && st.StopWait > 0
	if answered {
		grace = time.Duration(st.StopWait) * time.Second
	}
	if r.stopGrace > 0 {
		grace = min(grace, r.stopGrace)
	}
	if answered {
		fmt.Fprintf(r.Out, " waiting up to %g s for the guest to power off...", grace.Seconds())
	}
	wait := manager.StopWait(grace)
	if err := manager.Stop(dir, r.stopGrace, wait-time.Since(begin)); err != nil {
		r.Log.Warnf("The VM manager PID %d did not stop the guest in %s (%v): killing it and cleaning up after it "+
			"(destroying the VM ends its bhyve)", pid, wait, err)
		g := manager.Leftover(dir)
		if err := manager.Kill(dir, pid); err != nil {
			return failure.New(failure.Environment, err)
		}
		r.recordStop(manager.LastStop{Time: time.Now(), Manner: manager.ManagerKilled,
			Grace: grace.Seconds(), After: time.Since(begin).Seconds()})
		err := r.repair()
		if g != 0 && !r.waitExit("bhyve", g) {
			r.Host.Launcher.Signal(g, unix.SIGKILL)
			r.waitExit("bhyve", g)
		}
		return err
	}
	// The manager answers once bhyve has exited and it has cleaned up,
	// and exits just after: the stop is over when it has.
	r.waitExit("VM manager", pid)
	r.Log.Info("Guest has stopped, the VM manager has finished")
	r.tellStop(begin)
	// What the manager could not release (a device that was gone from
	// the bus when it tried) is released now.
	return r.repair()
}

// stopWait is bhyve.conf's stop_wait_max, which the VM manager grants the
// guest to power off; the largest one allowed when the file cannot be read.
func (r *Runner) stopWait() time.Duration {
	cfg, _, err := config.LoadBhyve(r.Host.Paths.BhyveConf(), 0)
	if err != nil {
		return config.Bhyve{StopWaitMax: config.MaxStopWait}.StopWait()
	}
	return cfg.StopWait()
}

// findLegacy finds the processes of a guest the shell implementation runs.
func (r *Runner) findLegacy() (legacy.Guest, error) {
	ours, _, err := r.running()
	if err != nil {
		return legacy.Guest{}, failure.New(failure.Environment, err)
	}
	g, err := legacy.Find(r.Host.Procs, ours)
	return g, failure.New(failure.Environment, err)
}

// legacyBhyve gives the pid of a guest the shell implementation runs, or 0.
func (r *Runner) legacyBhyve() (int, error) {
	g, err := r.findLegacy()
	if err != nil || len(g.Bhyves) == 0 {
		return 0, err
	}
	return g.Bhyves[0], nil
}

// stopLegacy stops what of the shell implementation runs the way it
// stops its guest, and tells whether anything did; the VM and the devices
// it leaves are repair's. The guest has stopWait to power off, at most
// stopGrace on suspend.
func (r *Runner) stopLegacy(why string) (bool, error) {
	g, err := r.findLegacy()
	if err != nil || !g.Found() {
		return false, err
	}
	r.Log.Warnf("The shell implementation of wifibox runs (%v): %s", g, why)
	wait := r.stopWait()
	if r.stopGrace > 0 {
		wait = min(wait, r.stopGrace)
	}
	err = legacy.Stopper{Host: r.Host, Log: r.Log, StopWait: wait}.Stop(g)
	if err != nil {
		return true, failure.New(failure.Environment, err)
	}
	r.Log.Info("The shell implementation's guest has stopped")
	r.legacyStopped = true
	return true, nil
}

// repair removes what a VM manager killed before it could clean up left
// behind: its files, the VM, the devices bound to ppt. It is a no-op on a
// clean host.
func (r *Runner) repair() error {
	h := r.Host
	pid, stale, err := r.running()
	if err != nil || pid != 0 {
		return failure.New(failure.Environment, err)
	}
	warn := r.Log.Warnf
	if r.legacyStopped {
		warn = r.Log.Infof
	}
	if stale {
		if err := r.fx().removeStale(r); err != nil {
			return failure.New(failure.Environment, err)
		}
	}
	if exists, err := h.VMs.VMExists(host.VMName); err != nil {
		return failure.New(failure.Environment, err)
	} else if exists {
		warn("Repair: destroying the leftover VM %s", host.VMName)
		if err := h.VMs.DestroyVM(host.VMName); err != nil {
			return failure.New(failure.Environment, fmt.Errorf("destroy leftover VM %s: %w", host.VMName, err))
		}
	}
	// Interfaces a killed `start netif` created and marked, outside the
	// bridge: no guest runs to use them.
	if !r.reclaimed {
		reclaimed, err := r.netif().Reclaim()
		for _, name := range reclaimed {
			warn("Repair: destroyed %s, an interface a stopped wifibox left behind", name)
		}
		if err != nil {
			return failure.New(failure.Environment, err)
		}
		r.reclaimed = true
	}
	devices, err := h.PCI.Devices()
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	// Only wifibox's own devices: other bhyve guests may use ppt too.
	// Which are wifibox's only bhyve.conf says; without a usable one
	// stop and restart go on (only start needs it) and say what is left.
	cfg, _, err := config.LoadBhyve(h.Paths.BhyveConf(), 0)
	if err != nil {
		r.unknownDevices(devices)
		return nil
	}
	bound := ppt.Bound(devices, cfg.Passthru)
	if len(bound) == 0 {
		return nil
	}
	warn("Repair: releasing %v from ppt", bound)
	return failure.New(failure.Environment, ppt.Release(h.PCI, bound))
}

// unknownDevices warns, when bhyve.conf cannot be read (which the command
// has said), that the devices on ppt are left bound, and how to release
// them.
func (r *Runner) unknownDevices(devices []host.PCIDevice) {
	var onPPT []string
	for _, d := range devices {
		if ppt.OnPPT(d) {
			onPPT = append(onPPT, d.Selector.String())
		}
	}
	r.Log.Warn("Without a usable bhyve.conf wifibox cannot tell which devices on ppt are its own")
	for _, sel := range onPPT {
		r.Log.Warnf("%s is left on ppt; if it is wifibox's card, release it with `devctl clear driver -f %s`", sel, sel)
	}
}

// SuspendGrace is how long suspend lets the guest power off before it is
// forced off. The kernel does not wait for rc.suspend: acpi_ReqSleepState
// (sys/dev/acpica/acpi.c) arms susp_force_to to force the sleep 10 s after
// the request, and rc.suspend sleeps 3 s after its scripts, so the whole
// suspend must fit in about 5 s, whatever stop_wait_max says.
const SuspendGrace = 5 * time.Second
