// Package legacy owns what wifibox knows of a guest run by the shell
// implementation (pgj/freebsd-wifibox, net/wifibox-core up to 0.17), which
// a user upgrading may leave running: its processes, found by their titles
// the way that implementation finds them (pgrep -fx), and how it stops
// them. Its VM manager is `daemon -r -t wifibox-vm-manager wifibox
// _manage_vm`, titled `daemon: wifibox-vm-manager[PID]` by daemon(8); its
// bhyve titles itself `bhyve: wifibox`; its socket relays are socat under
// `daemon: wifibox-uds-passthru[PID]`. It keeps no pid files: the titles
// are all there is. The VM, the ppt bindings, the bridge and its tap are
// the same as wifibox's, and wifibox's repair and teardown handle them.
package legacy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/host"
)

// The titles, as the shell implementation's pgrep -fx patterns match them.
var (
	managerTitle = regexp.MustCompile(`^daemon: wifibox-vm-manager\[[0-9]*\]$`)
	relayTitle   = regexp.MustCompile(`^daemon: wifibox-uds-passthru\[[0-9]*\]$`)
)

// Guest is what of the shell implementation runs.
type Guest struct {
	Managers []int `json:"vm_managers"` // daemon: wifibox-vm-manager[N]
	Bhyves   []int `json:"bhyve"`       // bhyve: wifibox, not run by wifibox's VM manager
	Relays   []int `json:"relays"`      // daemon: wifibox-uds-passthru[N]
}

// Found tells whether any of its processes runs.
func (g Guest) Found() bool { return len(g.Managers)+len(g.Bhyves)+len(g.Relays) > 0 }

// Listed gives the guest for a report whose lists are [] when empty.
func (g Guest) Listed() *Guest {
	for _, l := range []*[]int{&g.Managers, &g.Bhyves, &g.Relays} {
		if *l == nil {
			*l = []int{}
		}
	}
	return &g
}

// String describes the processes for the user.
func (g Guest) String() string {
	var parts []string
	for _, p := range []struct {
		what string
		pids []int
	}{{"bhyve", g.Bhyves}, {"VM manager (daemon)", g.Managers}, {"socket relay (daemon)", g.Relays}} {
		if len(p.pids) > 0 {
			parts = append(parts, fmt.Sprintf("%s PID %s", p.what, strings.Trim(fmt.Sprint(p.pids), "[]")))
		}
	}
	return strings.Join(parts, ", ")
}

// IsManager tells whether a title is the shell implementation's VM
// manager, the daemon(8) running `wifibox _manage_vm`.
func IsManager(title string) bool { return managerTitle.MatchString(title) }

// Find finds the shell implementation's processes. ours is the pid of
// wifibox's VM manager (0 when none runs): the bhyve it runs has the same
// title and is not the shell implementation's.
func Find(p host.Procs, ours int) (Guest, error) {
	list, err := p.Processes()
	if err != nil {
		return Guest{}, err
	}
	var g Guest
	for _, proc := range list {
		switch {
		case managerTitle.MatchString(proc.Title):
			g.Managers = append(g.Managers, proc.PID)
		case relayTitle.MatchString(proc.Title):
			g.Relays = append(g.Relays, proc.PID)
		case isBhyve(proc.Title) && (ours == 0 || proc.PPID != ours):
			g.Bhyves = append(g.Bhyves, proc.PID)
		}
	}
	return g, nil
}

// isBhyve tells whether a title is the guest's bhyve: `bhyve: wifibox`,
// or, before bhyve titles itself, its command line, the program bhyve
// with the VM's name last, as the shell implementation runs it
// (`${BHYVE} ${_bhyve_args}`, WIFIBOX_VM last). bhyve 14 calls
// setproctitle only after it has set up its devices and started its
// vCPUs (usr.sbin/bhyve/bhyverun.c main), so a bhyve still initialising
// has no title yet.
func isBhyve(title string) bool {
	if title == host.BhyveTitle {
		return true
	}
	args := strings.Fields(title)
	return len(args) > 1 && path.Base(args[0]) == "bhyve" && args[len(args)-1] == host.VMName
}

// Stopper stops the shell implementation's processes.
type Stopper struct {
	Host *host.Host
	Log  *logrus.Logger
	// StopWait is how long bhyve may take to power off after SIGTERM
	// (bhyve.conf's stop_wait_max) before it is forced off.
	StopWait time.Duration
}

// exitWait bounds the wait for a process that has been told to go (a
// daemon after SIGTERM, bhyve after the forced power-off).
const exitWait = 5 * time.Second

// Stop stops the guest as the shell implementation's stop does, its VM
// manager first so that nothing is started again: SIGTERM to each
// daemon(8) VM manager (which passes it to the script and exits), SIGTERM
// to bhyve (the guest's power button), a wait of StopWait, then a forced
// power-off; the socket relays last. The VM and the devices are left to
// wifibox's repair; Stop fails rather than leave a VM to be destroyed
// under a bhyve still running.
func (s Stopper) Stop(g Guest) error {
	for _, pid := range g.Managers {
		s.Log.Infof("Stopping the shell implementation's VM manager (daemon) PID %d, so that it starts nothing again", pid)
		if err := s.end(pid, exitWait); err != nil {
			return err
		}
	}
	for _, pid := range g.Bhyves {
		if err := s.stopBhyve(pid); err != nil {
			return err
		}
	}
	for _, pid := range g.Relays {
		s.Log.Infof("Stopping the shell implementation's socket relay (daemon) PID %d", pid)
		if err := s.end(pid, exitWait); err != nil {
			return err
		}
	}
	return nil
}

// end sends SIGTERM to a process and waits for it to exit, SIGKILL after
// wait.
func (s Stopper) end(pid int, wait time.Duration) error {
	gone, err := s.signal(pid, syscall.SIGTERM, wait)
	if err != nil || gone {
		return err
	}
	s.Log.Warnf("Process %d did not exit %s after SIGTERM, killing it", pid, wait)
	gone, err = s.signal(pid, syscall.SIGKILL, exitWait)
	if err == nil && !gone {
		err = fmt.Errorf("process %d does not exit even after SIGKILL; stop it, then run the command again", pid)
	}
	return err
}

// signal sends a signal and waits for the process to exit.
func (s Stopper) signal(pid int, sig syscall.Signal, wait time.Duration) (gone bool, err error) {
	if err := s.Host.Launcher.Signal(pid, sig); errors.Is(err, syscall.ESRCH) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("send %v to process %d: %w", sig, pid, err)
	}
	return s.Host.Procs.WaitExit(pid, wait)
}

// stopBhyve powers the guest off as the script's vm_stop does.
func (s Stopper) stopBhyve(pid int) error {
	s.Log.Infof("Stopping guest %s run by the shell implementation as PID %d", host.VMName, pid)
	gone, err := s.signal(pid, syscall.SIGTERM, s.StopWait)
	if err != nil || gone {
		return err
	}
	s.Log.Infof("Grace period is over, forcing shutdown of guest %s", host.VMName)
	err = s.Host.VMs.SuspendVM(host.VMName, host.SuspendPowerOff)
	if err != nil && !errors.Is(err, syscall.EALREADY) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("force off guest %s: %w", host.VMName, err)
	}
	gone, err = s.Host.Procs.WaitExit(pid, exitWait)
	if err == nil && !gone {
		err = fmt.Errorf("bhyve PID %d still runs %s after the forced power-off; the VM is left to it: "+
			"stop it (kill -KILL %d), then run `wifibox stop` again", pid, exitWait, pid)
	}
	return err
}

// IsManagerProcess tells whether pid is the shell implementation's VM
// manager, the daemon(8) whose respawn loop runs `wifibox _manage_vm`.
func IsManagerProcess(p host.Procs, pid int) (bool, error) {
	list, err := p.Processes()
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(list, func(proc host.Process) bool { return proc.PID == pid })
	return i >= 0 && IsManager(list[i].Title), nil
}
