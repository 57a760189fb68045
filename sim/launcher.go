package sim

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/trace"
	run "github.com/wifibox/wifibox/launch"
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

// Configure records the run of /etc/pccard_ether for the interface: devd
// runs on the simulated host, which has booted.
func (s *system) Configure(iface string) (bool, error) {
	err := s.run(trace.Run(host.PccardEtherFor(iface)), traced, func(*txn) error { return nil })
	return err == nil, err
}

// Signal sends a signal to a process.
func (s *system) Signal(pid int, sig syscall.Signal) error {
	return s.run(trace.Signal(pid, sig), traced, func(*txn) error {
		return unix.Kill(pid, sig)
	})
}

// Launch starts the simulated bhyve with the given command line through
// launch's Launcher over the kernel model, so its readiness is what it is
// on FreeBSD: the link of its tap coming up when the simulated bhyve opens
// /dev/tapN. A nice value below 0 needs root; a simulated host run by
// another user runs bhyve at 0 then.
func (s *system) Launch(spec host.LaunchSpec) (host.Guest, error) {
	argv := make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		argv[i] = s.strip(a)
	}
	if err := s.run(trace.Exec(argv), traced, func(*txn) error { return nil }); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("launch simulated bhyve: %w", err)
	}
	if os.Geteuid() != 0 {
		spec.Nice = max(spec.Nice, 0)
	}
	l := &run.Launcher{Sys: newKernel(s), Command: func(argv []string) *exec.Cmd {
		return exec.Command(exe, append([]string{BhyveCommand, s.dir}, argv...)...)
	}}
	return l.Launch(spec)
}
