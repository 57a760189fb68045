// Package bhyve owns what wifibox knows of the bhyve(8) program: the command
// line it runs the guest with (argument by argument as the shell
// implementation builds it, so guests see the same devices in the same
// slots) and the nice value of its priority. What its exit statuses mean
// is the VM manager's restart policy (manager's judge).
package bhyve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wifibox/wifibox/host"
)

// Spec is everything the command line depends on.
type Spec struct {
	Program      string // the bhyve binary
	CPUs         int
	Memory       string
	Console      string // bhyve's end of the nmdm pair; "" without console
	Firmware     string
	ESPImage     string
	RootImage    string
	Appliance    string // shared read-only as "config"
	RunAppliance string // shared read-write as "var"
	AppConfig    string // resolved target of app_config; "" when absent
	AppConfigRW  bool   // uds_passthru.conf exists: app_config read-write
	Tap          string
	Passthru     []host.Selector
}

// ArchSupported tells whether wifibox can run its guest on a machine of
// the given architecture (MACHINE_ARCH, hw.machine_arch: amd64, aarch64).
// Only amd64 can: arm64's bhyve takes another command line (its option
// string is "hCDSWk:f:o:p:c:s:m:U:", usr.sbin/bhyve/bhyverun.c: no -A,
// -H, -P or -l, no lpc device) and arm64's vmm has no ppt driver, so no
// PCI pass-through.
func ArchSupported(arch string) error {
	if arch == "amd64" {
		return nil
	}
	return fmt.Errorf("wifibox cannot run its guest on %s: it needs bhyve's PCI pass-through, which FreeBSD offers on amd64 only", arch)
}

// Getopt is bhyve's option string on amd64 (usr.sbin/bhyve/bhyverun.c,
// main): the letters it takes, a colon after those with an argument. The
// simulated bhyve parses its command line with it.
const Getopt = "aehuwxACDHIPSWYk:f:o:p:G:c:s:m:l:K:U:"

// The options wifibox gives bhyve.
const (
	OptCPUs   = 'c' // -c vcpus
	OptMemory = 'm' // -m size
	OptLPC    = 'l' // -l com1,DEV or -l bootrom,FILE: an LPC device
	OptSlot   = 's' // -s slot,emulation[,config]: a PCI device
	// Flags are the options without argument: -A (ACPI tables), -H
	// (yield the CPU on HLT), -P (exit on PAUSE), -S (wire the guest's
	// memory, which PCI pass-through needs), -u (RTC in UTC), -w
	// (ignore unimplemented MSRs).
	Flags    = "AHPSuw"
	OptWired = 'S'
)

// opt gives an option as the command line spells it: -c.
func opt(letter byte) string { return "-" + string(letter) }

// Args gives bhyve's argv, the program first.
func Args(s Spec) []string {
	args := []string{s.Program, opt(OptCPUs), strconv.Itoa(s.CPUs), opt(OptMemory), s.Memory, "-" + Flags}
	if s.Console != "" {
		args = append(args, opt(OptLPC), "com1,"+s.Console)
	}
	args = append(args, opt(OptSlot), "0,hostbridge", opt(OptSlot), "31,lpc", opt(OptLPC), "bootrom,"+s.Firmware)
	shares := []string{
		"virtio-blk," + s.ESPImage,
		"virtio-blk," + s.RootImage,
		"virtio-9p,config=" + s.Appliance + ",ro",
		"virtio-9p,var=" + s.RunAppliance,
	}
	if s.AppConfig != "" {
		mode := ",ro"
		if s.AppConfigRW {
			mode = ""
		}
		shares = append(shares, "virtio-9p,app_config="+s.AppConfig+mode)
	}
	for fn, dev := range shares {
		args = append(args, opt(OptSlot), fmt.Sprintf("4:%d,%s", fn, dev))
	}
	args = append(args, opt(OptSlot), "5:0,e1000,"+s.Tap)
	for fn, sel := range s.Passthru {
		args = append(args, opt(OptSlot), fmt.Sprintf("6:%d,passthru,%s", fn, sel.BSF()))
	}
	return append(args, host.VMName)
}

// Nice gives the nice value for bhyve.conf's priority (0 highest, 99
// lowest), with the shell implementation's integer arithmetic.
func Nice(priority int) int { return priority*40/99 - 20 }

// OtherVMs names the VMs other than wifibox's, from their nodes under
// /dev/vmm (the VMs of vmm(4): while one exists, vmm.ko cannot be
// unloaded). No /dev/vmm is no VM.
func OtherVMs(paths host.Paths) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(paths.VMDevice(host.VMName)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var others []string
	for _, e := range entries {
		if e.Name() != host.VMName {
			others = append(others, e.Name())
		}
	}
	return others, nil
}
