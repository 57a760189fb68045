package lifecycle

import (
	"os"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/manager"
)

// Effects is what a command does besides the host's calls (host.Host):
// the command lock and the progress line, the VM manager it spawns, asks
// and stops, the netif journal and the run files. A Runner acts (Act)
// unless it is given DryRun's, which does none of it: its host only
// records (package dryrun), and the VM manager's work is done on that
// host in this process. The Runner never asks which it has.
type Effects interface {
	// run runs a command's steps (run's doc).
	run(r *Runner, name, verb string, steps func(step func(func() error) error) error) error
	// lock takes the command lock for the command name.
	lock(r *Runner, name string) (unlock func(), err error)
	// netif is the netif target on h.
	netif(h *host.Host) ifnet.Netif
	// running tells whether a VM manager runs (manager.Running).
	running(dir string) (pid int, stale bool, err error)
	// query asks the running VM manager for its status (manager.Query).
	query(dir string) (manager.Status, error)
	// handover takes the relay's sockets from the running VM manager
	// (takeSockets).
	handover(r *Runner)
	// spawn starts the VM manager, once the launch's checks passed.
	spawn(r *Runner) error
	// stop stops the guest the VM manager PID pid runs.
	stop(r *Runner, pid int) error
	// removeStale removes the files of a VM manager that died.
	removeStale(r *Runner) error
	// record writes what ran before a suspend (record's doc).
	record(r *Runner, what ran) error
	// forget removes the suspend's record once it has been read.
	forget(path string)
}

// Act is the Effects of a command that acts.
var Act Effects = acting{}

type acting struct{}

func (acting) run(r *Runner, name, verb string, steps func(step func(func() error) error) error) error {
	return r.runLocked(name, verb, steps)
}
func (acting) lock(r *Runner, name string) (func(), error) { return r.takeLock(name) }
func (acting) netif(h *host.Host) ifnet.Netif              { return ifnet.NewNetif(h.Net, h.Paths) }
func (acting) running(dir string) (int, bool, error)       { return manager.Running(dir) }
func (acting) query(dir string) (manager.Status, error)    { return manager.Query(dir, false) }
func (acting) handover(r *Runner)                          { r.handover() }
func (acting) spawn(r *Runner) error                       { return r.spawn() }
func (acting) stop(r *Runner, pid int) error               { return r.stopManaged(pid) }
func (acting) record(r *Runner, what ran) error            { return r.writeRecord(what) }
func (acting) forget(path string)                          { os.Remove(path) }

func (acting) removeStale(r *Runner) error {
	r.Log.Warn("Repair: removing the files of a VM manager that died")
	return manager.RemoveStale(r.Host.Paths.RunDir)
}

// DryRun is the Effects of `wifibox -n`, for one command: no lock, no
// progress line (the operations are the output), no journal, no file
// written or removed; the VM manager is asked nothing, and its start and
// stop are done in this process (manager.DryLaunch, manager.DryStop).
func DryRun() Effects { return &dryRun{} }

type dryRun struct {
	// stopped: the dry run has stopped the guest its VM manager runs, so
	// none runs from then on.
	stopped bool
}

func (*dryRun) run(_ *Runner, _, _ string, steps func(step func(func() error) error) error) error {
	return steps(func(f func() error) error { return f() })
}
func (*dryRun) lock(*Runner, string) (func(), error) { return func() {}, nil }
func (*dryRun) query(string) (manager.Status, error) { return manager.Status{}, nil }
func (*dryRun) handover(*Runner)                     {}
func (*dryRun) removeStale(*Runner) error            { return nil }
func (*dryRun) record(*Runner, ran) error            { return nil }
func (*dryRun) forget(string)                        {}

func (d *dryRun) spawn(r *Runner) error {
	return failure.New(failure.Environment, manager.DryLaunch(r.Host, r.Log))
}

func (d *dryRun) netif(h *host.Host) ifnet.Netif {
	nf := Act.netif(h)
	nf.Journal = ""
	return nf
}

func (d *dryRun) running(dir string) (int, bool, error) {
	if d.stopped {
		return 0, false, nil
	}
	return manager.Running(dir)
}

func (d *dryRun) stop(r *Runner, _ int) error {
	st, err := manager.Query(r.Host.Paths.RunDir, false)
	if err == nil {
		err = manager.DryStop(r.Host, r.Log, st)
	}
	d.stopped = true
	return failure.New(failure.Environment, err)
}
