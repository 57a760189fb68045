package sim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// emulations are the device emulations of the simulated bhyve (`bhyve -s
// help` of FreeBSD 14 on amd64).
var emulations = []string{
	"ahci", "ahci-cd", "ahci-hd", "amd_hostbridge", "e1000", "fbuf", "hda",
	"hostbridge", "lpc", "nvme", "passthru", "uart", "virtio-9p", "virtio-blk",
	"virtio-console", "virtio-input", "virtio-net", "virtio-rnd", "virtio-scsi", "xhci",
}

// emulationsOf gives the emulations, without virtio-9p under the
// no_virtio_9p fault.
func emulationsOf(f faults) []string {
	return slices.DeleteFunc(slices.Clone(emulations), func(e string) bool {
		return f.noVirtio9p && e == "virtio-9p"
	})
}

// Emulations lists the simulated bhyve's device emulations.
func (s *system) Emulations(program string) ([]string, error) {
	var list []string
	err := s.run(program+" -s help", query, func(t *txn) error {
		list = emulationsOf(t.faults)
		return nil
	})
	return list, err
}

// Signal sends a signal to a process.
func (s *system) Signal(pid int, sig syscall.Signal) error {
	return s.run(fmt.Sprintf("signal %d %s", pid, unix.SignalName(sig)), traced, func(*txn) error {
		return unix.Kill(pid, sig)
	})
}

// readyFD is the descriptor on which the simulated bhyve reports that its
// guest runs: the first of exec.Cmd.ExtraFiles.
const readyFD = 3

// Launch starts the simulated bhyve with the given command line, in its own
// process group so a terminal's signals to the launching process's group
// do not reach it.
func (s *system) Launch(spec host.LaunchSpec) (host.Guest, error) {
	argv := make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		argv[i] = s.strip(a)
	}
	if err := s.run("exec "+strings.Join(argv, " "), traced, func(*txn) error { return nil }); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("launch simulated bhyve: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("launch simulated bhyve: %w", err)
	}
	cmd := exec.Command(exe, append([]string{BhyveCommand, s.dir}, spec.Argv...)...)
	cmd.Stdout, cmd.Stderr = spec.Output, spec.Output
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("launch simulated bhyve %s: %w", exe, err)
	}
	err = unix.Setpriority(unix.PRIO_PROCESS, cmd.Process.Pid, spec.Nice)
	if err != nil && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		cmd.Process.Kill()
		cmd.Wait()
		r.Close()
		return nil, fmt.Errorf("launch simulated bhyve: setpriority %d: %w", spec.Nice, err)
	}
	g := &guest{cmd: cmd, ready: make(chan struct{})}
	go func() {
		defer r.Close()
		if n, _ := r.Read(make([]byte, 1)); n > 0 {
			close(g.ready)
		}
	}()
	return g, nil
}

// guest is a launched simulated bhyve.
type guest struct {
	cmd   *exec.Cmd
	ready chan struct{}
}

func (g *guest) Pid() int               { return g.cmd.Process.Pid }
func (g *guest) Ready() <-chan struct{} { return g.ready }

// Wait waits for the simulated bhyve to exit and tells how it did.
func (g *guest) Wait() (host.ExitStatus, error) {
	err := g.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return host.ExitStatus{}, fmt.Errorf("wait for simulated bhyve %d: %w", g.Pid(), err)
	}
	ws, ok := g.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return host.ExitStatus{Signal: ws.Signal()}, nil
	}
	return host.ExitStatus{Code: g.cmd.ProcessState.ExitCode()}, nil
}
