// Package launch owns the running of bhyve on FreeBSD: the implementation
// of host.Launcher that starts the bhyve program in its own process group
// at the configured nice value, tells when the guest is ready by watching
// the routing socket for the link of bhyve's tap coming up (bhyve itself
// gives no sign), reports how the process ended, signals processes, and
// lists the device emulations the bhyve program offers. The routing
// socket and the interface list are read through the system-call seam
// (sys.Sys, with rtsock and ifnet), so the same code runs on FreeBSD and
// over the kernel model of the simulated host.
package launch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// Launcher is the FreeBSD implementation of host.Launcher.
type Launcher struct {
	// Sys is the kernel: its routing socket and interface list.
	Sys sys.Sys
	// Command makes the command that runs bhyve's argv; nil runs
	// argv[0] with the rest as its arguments. The simulated host runs
	// its simulated bhyve so.
	Command func(argv []string) *exec.Cmd
}

var _ host.Launcher = (*Launcher)(nil)

// Launch starts bhyve with spec.Argv (argv[0] is the program's path), its
// standard output and error going to spec.Output and its standard input
// reading /dev/null. It runs in a process group of its own, so signals a
// terminal sends to wifibox's group (^C) do not reach it; wifibox stops
// it with Signal.
//
// The nice value is set with setpriority(2) as soon as the process has
// started: Go's exec offers no hook between fork and exec, and changing
// wifibox's own nice value for a child to inherit would slow every thread
// of wifibox meanwhile (FreeBSD's nice value is the whole process's). So
// bhyve's first steps (reading its options, opening the VM) run at
// wifibox's priority; FreeBSD's setpriority applies to every thread of the
// process and threads created later inherit it, so the vCPU threads, which
// bhyve starts after its devices, all run at spec.Nice. If setpriority
// fails, bhyve is killed and reaped before the error is returned.
//
// Ready closes when the link of every tap that bhyve's command line names
// as the backend of an e1000 or virtio-net device has come up: if_tuntap
// raises the link when bhyve opens /dev/tapN while it initialises that
// device, and the kernel announces it with an RTM_IFINFO message on the
// routing sockets, one of which Launch opens before starting bhyve so the
// message cannot be missed. Devices in later slots (wifibox passes the
// Wi-Fi card through in a slot after the tap's) are still being set up at
// that moment; a failure there makes bhyve exit soon after, which Wait
// reports. When the command line names no tap, the tap's index cannot be
// found, the routing socket cannot be opened, or reading it fails, Ready
// falls back to closing as soon as bhyve has started (exec succeeded) and
// a line saying why goes to spec.Output.
func (l *Launcher) Launch(spec host.LaunchSpec) (host.Guest, error) {
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("launch bhyve: empty command line: %w", unix.EINVAL)
	}
	program := spec.Argv[0]
	out := shareable(spec.Output)
	watch, reason := l.watchTaps(spec.Argv)
	if watch == nil {
		note(out, reason)
	}
	cmd := exec.Command(program, spec.Argv[1:]...)
	if l.Command != nil {
		cmd = l.Command(spec.Argv)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		if watch != nil {
			watch.stop()
		}
		return nil, fmt.Errorf("launch bhyve: start %s: %w", program, err)
	}
	pid := cmd.Process.Pid
	if err := unix.Setpriority(unix.PRIO_PROCESS, pid, spec.Nice); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		if watch != nil {
			watch.stop()
		}
		return nil, fmt.Errorf("launch bhyve: set the nice value of process %d to %d: setpriority: %w", pid, spec.Nice, err)
	}
	g := &guest{cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	if watch == nil {
		close(g.ready)
	} else {
		go watch.run(g.ready, out)
	}
	go g.reap(watch)
	return g, nil
}

// guest is a launched bhyve process.
type guest struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	done   chan struct{} // closed once status and err are set
	status host.ExitStatus
	err    error
}

func (g *guest) Pid() int               { return g.cmd.Process.Pid }
func (g *guest) Ready() <-chan struct{} { return g.ready }

// Wait waits until bhyve has exited and tells how it ended. By then the
// watch of its tap has stopped: a Ready not closed yet stays open.
func (g *guest) Wait() (host.ExitStatus, error) {
	<-g.done
	return g.status, g.err
}

// reap waits for bhyve to exit, stops the watch of its tap and records
// how it ended.
func (g *guest) reap(watch *linkWatch) {
	err := g.cmd.Wait()
	if watch != nil {
		watch.stop()
		<-watch.done
	}
	var exitErr *exec.ExitError
	switch {
	case g.cmd.ProcessState == nil:
		g.err = fmt.Errorf("wait for bhyve (process %d): %w", g.Pid(), err)
	case err != nil && !errors.As(err, &exitErr):
		// It ended, but copying its output failed.
		g.status = exitStatus(g.cmd.ProcessState.Sys())
		g.err = fmt.Errorf("bhyve (process %d) exited (%s), but its output was lost: %w", g.Pid(), g.status, err)
	default:
		g.status = exitStatus(g.cmd.ProcessState.Sys())
	}
	close(g.done)
}

// exitStatus reads the wait status of an ended process.
func exitStatus(sys any) host.ExitStatus {
	ws, _ := sys.(syscall.WaitStatus)
	if ws.Signaled() {
		return host.ExitStatus{Signal: ws.Signal()}
	}
	return host.ExitStatus{Code: ws.ExitStatus()}
}

// Signal sends a signal to a process (kill(2)). ESRCH means the process
// no longer exists.
func (l *Launcher) Signal(pid int, sig syscall.Signal) error {
	if err := unix.Kill(pid, sig); err != nil {
		return fmt.Errorf("send signal %d (%v) to process %d: kill: %w", int(sig), sig, pid, err)
	}
	return nil
}

// Emulations runs `program -s help` and returns the device emulations it
// lists: bhyve prints the name of each, one a line
// (pci_print_supported_devices in usr.sbin/bhyve/pci_emul.c), and exits 0.
func (l *Launcher) Emulations(program string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(program, "-s", "help")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("list the device emulations of %s: %s -s help: %w%s", program, program, err, stderrNote(stderr.Bytes()))
	}
	list := parseEmulations(stdout.String())
	if len(list) == 0 {
		return nil, fmt.Errorf("list the device emulations of %s: %s -s help printed none%s; is it bhyve?", program, program, stderrNote(stderr.Bytes()))
	}
	return list, nil
}

// devdPidFile is devd's pid file, which devd holds locked while it runs
// (pidfile(3)).
const devdPidFile = "/var/run/devd.pid"

// Configure runs /etc/pccard_ether for an interface wifibox has just
// created, as devd(8) would have, when devd runs.
//
// Why wifibox runs it: wifibox0 is a bridge, created as bridge0 (the
// cloner names it, SIOCIFCREATE2) and renamed. if_attach announces the
// interface to devd by the name it attaches with, bridge0 (freebsd-src
// 14.x and 15.0: sys/net/if.c, if_attach_internal: devctl_notify "IFNET"
// ATTACH); the rename announces only a RENAME (if_rename: devctl_notify
// "IFNET" RENAME name=wifibox0), for which devd.conf has no rule. devd
// runs `/etc/pccard_ether bridge0 start` (sbin/devd/devd.conf), which
// finds no bridge0 (libexec/rc/pccard_ether, pccard_ether_start:
// ifexists) and does nothing. So once the system has booted, nothing
// applies ifconfig_wifibox0 to a wifibox0 created anew (restart,
// recovery, the VM manager's network repair), and dhclient, which exits
// with its interface, is not started again. wifibox runs devd's action
// for the name devd never saw. While the system boots, before devd runs
// (rc.d/devd comes after netif), netif configures every interface there
// is, wifibox0 included, which wifibox creates before netif runs.
//
// forcestart: wifibox has brought wifibox0 up already, and pccard_ether
// start leaves an interface that is up alone. It is started in a session
// of its own and not waited for: with ifconfig_wifibox0=SYNCDHCP it
// waits for a lease, which the guest gives only once it is up.
func (l *Launcher) Configure(iface string) (bool, error) {
	if !devdRuns() {
		return false, nil
	}
	argv := host.PccardEtherFor(iface)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("configure %s as rc.conf says: %s: %w", iface, strings.Join(argv, " "), err)
	}
	go cmd.Wait()
	return true, nil
}

// devdRuns tells whether devd runs: a process holds its pid file locked.
func devdRuns() bool {
	f, err := os.Open(devdPidFile)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}

// parseEmulations reads the output of `bhyve -s help`: one emulation
// name a line.
func parseEmulations(out string) []string {
	var list []string
	for _, line := range strings.Split(out, "\n") {
		if name := strings.TrimSpace(line); name != "" {
			list = append(list, name)
		}
	}
	return list
}

// stderrNote quotes what a program wrote to its standard error, if
// anything.
func stderrNote(stderr []byte) string {
	if s := strings.TrimSpace(string(stderr)); s != "" {
		return fmt.Sprintf(" (it said: %s)", s)
	}
	return ""
}
