package sim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/vmmapi"
)

// TestMain lets the test binary be the simulated bhyve the Launcher starts,
// and a worker process of the concurrency test.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case BhyveCommand:
			os.Exit(BhyveMain(os.Args[2:]))
		case workerCommand:
			os.Exit(worker(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// newHost creates a simulated host in a temporary directory.
func newHost(t *testing.T) (string, *host.Host) {
	t.Helper()
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	h, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// check fails the test unless err wraps want (nil when want is 0).
func check(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// same fails the test when got differs from want.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func koFile(dir, name string) string { return filepath.Join(dir, "boot/kernel", name+".ko") }

func fault(t *testing.T, dir, key, value string) {
	t.Helper()
	must(t, SetFault(dir, key, value))
}

func TestInit(t *testing.T) {
	dir, h := newHost(t)
	p := h.Paths
	for _, f := range []string{p.CoreConf(), p.BhyveConf(), p.ESPImage(), p.RootImage(), p.Firmware,
		filepath.Join(p.AppConfig(), "wpa_supplicant.conf"), koFile(dir, "vmm"), koFile(dir, "nmdm"), koFile(dir, "if_bridge")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if fi.Size() == 0 || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: size %d mode %v, want some bytes, not group/other writable", f, fi.Size(), fi.Mode())
		}
	}
	for _, d := range []string{p.Appliance(), p.RunAppliance(), filepath.Join(p.RunAppliance(), "log"), filepath.Dir(p.Log), p.Dev} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s: want a directory (%v)", d, err)
		}
	}
	if target, err := os.Readlink(p.AppConfig()); err != nil || target != "wpa_supplicant" {
		t.Errorf("app_config -> %q (%v), want wpa_supplicant", target, err)
	}
	conf, err := os.ReadFile(p.BhyveConf())
	must(t, err)
	want := "cpus=1\nmemory=128M\nconsole=yes\npassthru=\"3/0/0\"\npriority=50\nstop_wait_max=10\n"
	if string(conf) != want {
		t.Errorf("bhyve.conf:\n%s\nwant:\n%s", conf, want)
	}
	check(t, "init again", Init(dir), unix.EEXIST)
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of an empty directory: success, want an error")
	}
}

func TestModules(t *testing.T) {
	dir, h := newHost(t)
	k := h.Kernel
	for _, name := range []string{"vmm", "nmdm", "if_bridge"} {
		if m, err := k.Module(name); err != nil || m.Present {
			t.Errorf("Module(%s) = %+v, %v; want absent", name, m, err)
		}
	}
	if m, err := k.Module("if_tuntap"); err != nil || !m.Present || m.File != "" {
		t.Errorf("Module(if_tuntap) = %+v, %v; want built in", m, err)
	}
	path, err := k.SysctlString("kern.module_path")
	if want := dir + "/boot/kernel;" + dir + "/boot/modules"; path != want || err != nil {
		t.Errorf("kern.module_path = %q, %v; want %q", path, err, want)
	}
	_, err = k.SysctlInt("hw.vmm.maxcpu")
	check(t, "hw.vmm.maxcpu before vmm", err, unix.ENOENT)
	_, err = k.SysctlInt("hw.vmm.iommu.enable")
	check(t, "hw.vmm.iommu.enable before vmm", err, unix.ENOENT)

	check(t, "load missing file", k.Load(filepath.Join(dir, "boot/kernel/nosuch.ko")), unix.ENOENT)
	check(t, "unload absent", k.Unload("vmm"), unix.ENOENT)
	check(t, "unload built in", k.Unload("if_tuntap"), unix.EBUSY)
	check(t, "load vmm", k.Load(koFile(dir, "vmm")), 0)
	check(t, "load vmm again", k.Load(koFile(dir, "vmm")), unix.EEXIST)
	if m, err := k.Module("vmm"); err != nil || !m.Present || m.File != koFile(dir, "vmm") {
		t.Errorf("Module(vmm) = %+v, %v; want loaded from %s", m, err, koFile(dir, "vmm"))
	}
	for name, want := range map[string]int64{"hw.vmm.maxcpu": 16, "hw.vmm.iommu.enable": 1, "hw.vmm.amdvi.enable": 0} {
		if v, err := k.SysctlInt(name); v != want || err != nil {
			t.Errorf("%s = %d, %v; want %d", name, v, err, want)
		}
	}
	fault(t, dir, "iommu_disabled", "yes")
	if v, err := k.SysctlInt("hw.vmm.iommu.enable"); v != 0 || err != nil {
		t.Errorf("hw.vmm.iommu.enable with iommu_disabled = %d, %v; want 0", v, err)
	}

	fault(t, dir, "module_files_missing", "yes")
	path, err = k.SysctlString("kern.module_path")
	if want := filepath.Join(dir, "boot/missing") + ";" + filepath.Join(dir, "boot/modules"); path != want || err != nil {
		t.Errorf("kern.module_path with module_files_missing = %q, %v; want %q", path, err, want)
	}
	check(t, "load nmdm, files missing", k.Load(filepath.Join(dir, "boot/missing/nmdm.ko")), unix.ENOENT)
	fault(t, dir, "module_files_missing", "")
	check(t, "load nmdm", k.Load(koFile(dir, "nmdm")), 0)

	must(t, h.VMs.CreateVM("busy"))
	check(t, "unload vmm with a VM", k.Unload("vmm"), unix.EBUSY)
	must(t, h.VMs.DestroyVM("busy"))
	must(t, h.PCI.SetDriver(wifiCard, "ppt"))
	check(t, "unload vmm with a ppt device", k.Unload("vmm"), unix.EBUSY)
	must(t, h.PCI.ClearDriver(wifiCard))
	fault(t, dir, "vmm_busy", "yes")
	check(t, "unload vmm, vmm_busy", k.Unload("vmm"), unix.EBUSY)
	fault(t, dir, "vmm_busy", "no")
	check(t, "unload vmm", k.Unload("vmm"), 0)
	_, err = k.SysctlInt("hw.vmm.maxcpu")
	check(t, "hw.vmm.maxcpu after unload", err, unix.ENOENT)
	if m, err := k.Module("vmm"); err != nil || m.Present {
		t.Errorf("Module(vmm) after unload = %+v, %v; want absent", m, err)
	}
}

// TestVMs runs vmmapi over the model of each release's libvmmapi.
func TestVMs(t *testing.T) {
	for _, tc := range []struct {
		release string
		noVMM   syscall.Errno // vm_create's errno without vmm; 0: it loads vmm
	}{
		{"1305000", 0}, // loads vmm as 14.x does (stable/13's vm_create)
		{"1403000", 0},
		{"1500068", 0},
	} {
		t.Run(tc.release, func(t *testing.T) {
			dir := t.TempDir()
			must(t, Init(dir))
			fault(t, dir, "osreldate", tc.release)
			h, err := Open(dir)
			must(t, err)
			v := h.VMs
			check(t, "create without vmm", v.CreateVM("wifibox"), tc.noVMM)
			if tc.noVMM == 0 {
				if m, err := h.Kernel.Module("vmm"); err != nil || m.File != koFile(dir, "vmm") {
					t.Errorf("vm_create loaded no vmm: %+v, %v", m, err)
				}
				must(t, v.DestroyVM("wifibox"))
			} else {
				must(t, h.Kernel.Load(koFile(dir, "vmm")))
			}
			check(t, "create bad name", v.CreateVM("a/b"), unix.EINVAL)
			check(t, "create empty name", v.CreateVM(""), unix.EINVAL)
			check(t, "create", v.CreateVM("wifibox"), 0)
			if ok, err := v.VMExists("wifibox"); !ok || err != nil {
				t.Errorf("VMExists = %v, %v; want true", ok, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "dev/vmm/wifibox")); err != nil {
				t.Error(err)
			}
			check(t, "create again", v.CreateVM("wifibox"), unix.EEXIST)
			check(t, "suspend missing", v.SuspendVM("other", host.SuspendPowerOff), unix.ENOENT)
			check(t, "suspend", v.SuspendVM("wifibox", host.SuspendPowerOff), 0)
			check(t, "suspend again", v.SuspendVM("wifibox", host.SuspendHalt), unix.EALREADY)
			check(t, "destroy", v.DestroyVM("wifibox"), 0)
			check(t, "destroy again", v.DestroyVM("wifibox"), unix.EINVAL)
			if ok, err := v.VMExists("wifibox"); ok || err != nil {
				t.Errorf("VMExists after destroy = %v, %v; want false", ok, err)
			}
		})
	}
}

// libvmmapiOf gives a fresh simulated host answering as release, its
// kernel and its libvmmapi.
func libvmmapiOf(t *testing.T, release string) (string, *Kernel, *vmmapi.Library) {
	t.Helper()
	dir := t.TempDir()
	must(t, Init(dir))
	fault(t, dir, "osreldate", release)
	k, err := NewKernel(dir)
	must(t, err)
	lib, err := k.Libvmmapi()
	must(t, err)
	return dir, k, lib
}

// TestVMOpen: vm_open of no VM keeps open's errno (ENOENT) and destroys
// nothing on every release, 13.x included (freebsd-src
// stable/13:lib/libvmmapi/vmmapi.c vm_open), and vm_close is there on
// each.
func TestVMOpen(t *testing.T) {
	for _, release := range []string{"1305000", "1403000", "1500068"} {
		dir, k, lib := libvmmapiOf(t, release)
		if _, err := k.Kldload(koFile(dir, "vmm")); err != nil {
			t.Fatal(err)
		}
		if ctx := lib.VMOpen("nosuch"); ctx != 0 || lib.Errno() != abi.ENOENT {
			t.Errorf("%s: vm_open of no VM = %#x, errno %v; want 0, ENOENT", release, ctx, lib.Errno())
		}
		if lib.VMClose == nil {
			t.Errorf("%s: no vm_close", release)
		}
	}
}

func TestPCI(t *testing.T) {
	dir, h := newHost(t)
	p := h.PCI
	devs, err := p.Devices()
	must(t, err)
	var units []string
	for _, d := range devs {
		units = append(units, fmt.Sprintf("%s %04x:%04x %02x/%02x %s", d.Selector, d.Vendor, d.Device, d.Class, d.Subclass, d.DriverUnit()))
	}
	want := []string{
		"pci0:0:0:0 8086:3e30 06/00 hostb0",
		"pci0:0:20:0 8086:a36d 0c/03 xhci0",
		"pci0:1:0:0 144d:a808 01/08 nvme0",
		"pci0:3:0:0 8086:2723 02/80 iwlwifi0",
	}
	same(t, "Devices", want, units)

	check(t, "ppt without vmm", p.SetDriver(wifiCard, "ppt"), unix.ENOENT)
	check(t, "unknown driver", p.SetDriver(wifiCard, "nosuch"), unix.ENOENT)
	check(t, "missing device", p.SetDriver(host.Selector{Bus: 9}, "iwlwifi"), unix.ENOENT)
	must(t, h.Kernel.Load(koFile(dir, "vmm")))
	check(t, "ppt", p.SetDriver(wifiCard, "ppt"), 0)
	check(t, "ppt again", p.SetDriver(wifiCard, "ppt"), 0)
	check(t, "ppt on xhci", p.SetDriver(host.Selector{Slot: 20}, "ppt"), 0)
	driverOf := func(sel host.Selector) string {
		t.Helper()
		devs, err := p.Devices()
		must(t, err)
		for _, d := range devs {
			if d.Selector == sel {
				return d.DriverUnit()
			}
		}
		return "absent"
	}
	if got := driverOf(wifiCard) + " " + driverOf(host.Selector{Slot: 20}); got != "ppt0 ppt1" {
		t.Errorf("drivers = %s, want ppt0 ppt1", got)
	}
	check(t, "clear", p.ClearDriver(wifiCard), 0)
	check(t, "clear again", p.ClearDriver(wifiCard), 0)
	if got := driverOf(wifiCard); got != "iwlwifi0" {
		t.Errorf("driver after clear = %s, want iwlwifi0", got)
	}
	fault(t, dir, "pci_device_missing", "yes")
	if got := driverOf(wifiCard); got != "absent" {
		t.Errorf("Wi-Fi card with pci_device_missing: %s, want absent", got)
	}
	check(t, "ppt on missing", p.SetDriver(wifiCard, "ppt"), unix.ENOENT)
	check(t, "clear missing", p.ClearDriver(wifiCard), unix.ENOENT)
}

func TestNet(t *testing.T) {
	dir, h := newHost(t)
	n := h.Net
	create := func(kind, want string) {
		t.Helper()
		name, err := n.CreateInterface(kind)
		if name != want || err != nil {
			t.Errorf("CreateInterface(%s) = %q, %v; want %s", kind, name, err, want)
		}
	}
	create("tap", "tap0")
	create("tap", "tap1")
	must(t, n.DestroyInterface("tap0"))
	create("tap", "tap0")
	_, err := n.CreateInterface("bridge")
	check(t, "bridge without if_bridge", err, unix.EINVAL)
	_, err = n.CreateInterface("vlan")
	check(t, "vlan", err, unix.EINVAL)
	must(t, h.Kernel.Load(koFile(dir, "if_bridge")))
	create("bridge", "bridge0")
	check(t, "rename", n.RenameInterface("bridge0", "wifibox0"), 0)
	create("bridge", "bridge1") // bridge0's unit stays with wifibox0
	check(t, "rename missing", n.RenameInterface("bridge0", "x"), unix.ENXIO)
	check(t, "rename to taken", n.RenameInterface("bridge1", "wifibox0"), unix.EEXIST)
	check(t, "rename to empty", n.RenameInterface("bridge1", ""), unix.EINVAL)
	check(t, "rename too long", n.RenameInterface("bridge1", "abcdefghijklmnop"), unix.EINVAL)
	check(t, "rename to itself", n.RenameInterface("bridge1", "bridge1"), 0)
	check(t, "destroy missing", n.DestroyInterface("tap9"), unix.ENXIO)
	check(t, "destroy lo0", n.DestroyInterface("lo0"), unix.EINVAL)
	check(t, "destroy em0", n.DestroyInterface("em0"), unix.EINVAL)
	check(t, "up missing", n.SetUp("tap9"), unix.ENXIO)
	check(t, "up", n.SetUp("wifibox0"), 0)
	if i, err := n.Interface("wifibox0"); err != nil || i != (host.Interface{Name: "wifibox0", Index: 5, Kind: "bridge", Up: true}) {
		t.Errorf("Interface(wifibox0) = %+v, %v", i, err)
	}
	_, err = n.Interface("tap9")
	check(t, "describe missing", err, unix.ENXIO)

	check(t, "add to missing", n.AddMember("bridge7", "tap0"), unix.ENXIO)
	check(t, "add to non-bridge", n.AddMember("tap1", "tap0"), unix.EINVAL)
	check(t, "add missing", n.AddMember("wifibox0", "tap9"), unix.ENOENT)
	check(t, "add itself", n.AddMember("wifibox0", "wifibox0"), unix.EINVAL)
	check(t, "add loopback", n.AddMember("wifibox0", "lo0"), unix.EINVAL)
	check(t, "add", n.AddMember("wifibox0", "tap0"), 0)
	check(t, "add em0", n.AddMember("wifibox0", "em0"), 0)
	check(t, "add again", n.AddMember("wifibox0", "tap0"), unix.EEXIST)
	check(t, "add to another", n.AddMember("bridge1", "tap0"), unix.EBUSY)
	check(t, "delete non-member", n.DeleteMember("wifibox0", "tap1"), unix.ENOENT)
	_, err = n.Members("tap0")
	check(t, "members of a tap", err, unix.EINVAL)
	members := func(bridge string, want ...string) {
		t.Helper()
		got, err := n.Members(bridge)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Members(%s) = %q, %v; want %q", bridge, got, err, want)
		}
	}
	members("wifibox0", "tap0", "em0")
	check(t, "delete", n.DeleteMember("wifibox0", "em0"), 0)
	members("wifibox0", "tap0")
	must(t, n.RenameInterface("tap0", "tapx"))
	members("wifibox0", "tapx")
	must(t, n.DestroyInterface("tapx"))
	members("wifibox0")
	must(t, n.AddMember("wifibox0", "tap1"))
	must(t, n.DestroyInterface("wifibox0"))
	check(t, "add after its bridge is gone", n.AddMember("bridge1", "tap1"), 0)

	list, err := n.Interfaces()
	must(t, err)
	var kinds []string
	for _, i := range list {
		kinds = append(kinds, i.Name+" "+i.Kind)
	}
	same(t, "Interfaces", []string{"lo0 loopback", "em0 ether", "tap1 tap", "bridge1 bridge"}, kinds)
	must(t, h.Kernel.Unload("if_bridge"))
	check(t, "bridge after if_bridge unload", n.SetUp("bridge1"), unix.ENXIO)
}

func TestStateSurvivesOpen(t *testing.T) {
	dir, h := newHost(t)
	must(t, h.Kernel.Load(koFile(dir, "if_bridge")))
	_, err := h.Net.CreateInterface("bridge")
	must(t, err)
	again, err := Open(dir)
	must(t, err)
	if m, err := again.Kernel.Module("if_bridge"); err != nil || !m.Present {
		t.Errorf("if_bridge after Open: %+v, %v; want loaded", m, err)
	}
	if _, err := again.Net.Interface("bridge0"); err != nil {
		t.Errorf("bridge0 after Open: %v", err)
	}
}

func TestSetFault(t *testing.T) {
	dir, _ := newHost(t)
	if err := SetFault(dir, "nosuch", "yes"); err == nil {
		t.Error("unknown fault: success, want an error")
	}
	if err := SetFault(dir, "vmm_busy", "maybe"); err == nil {
		t.Error("vmm_busy=maybe: success, want an error")
	}
	must(t, SetFault(dir, "poweroff_delay_ms", "5"))
	f, err := readFaults(dir)
	must(t, err)
	if f.poweroffDelay.Milliseconds() != 5 {
		t.Errorf("poweroff delay %v, want 5ms", f.poweroffDelay)
	}
}

func TestTrace(t *testing.T) {
	dir, h := newHost(t)
	must(t, h.Kernel.Load(koFile(dir, "vmm")))
	must(t, h.Kernel.Load(koFile(dir, "if_bridge")))
	check(t, "load vmm again", h.Kernel.Load(koFile(dir, "vmm")), unix.EEXIST)
	_, err := h.Kernel.Module("vmm") // queries are not traced
	must(t, err)
	b, err := h.Net.CreateInterface("bridge")
	must(t, err)
	must(t, h.Net.RenameInterface(b, "wifibox0"))
	tap, err := h.Net.CreateInterface("tap")
	must(t, err)
	_, err = h.Net.CreateInterface("vlan")
	check(t, "create vlan", err, unix.EINVAL)
	must(t, h.Net.SetUp("wifibox0"))
	must(t, h.Net.AddMember("wifibox0", tap))
	must(t, h.PCI.SetDriver(wifiCard, "ppt"))
	must(t, h.VMs.CreateVM("wifibox"))
	must(t, h.VMs.SuspendVM("wifibox", host.SuspendPowerOff))
	must(t, h.VMs.DestroyVM("wifibox"))
	must(t, h.PCI.ClearDriver(wifiCard))
	must(t, h.Net.DeleteMember("wifibox0", tap))
	must(t, h.Net.DestroyInterface(tap))
	must(t, h.Kernel.Unload("vmm"))
	got, err := ReadTrace(dir)
	must(t, err)
	want := []string{
		"kldload /boot/kernel/vmm.ko",
		"kldload /boot/kernel/if_bridge.ko",
		"kldload /boot/kernel/vmm.ko",
		"if_create bridge bridge0",
		"if_rename bridge0 wifibox0",
		"if_create tap tap0",
		"if_create vlan",
		"if_up wifibox0",
		"bridge_add wifibox0 tap0",
		"devctl_set_driver pci0:3:0:0 ppt",
		"vm_create wifibox",
		"vm_suspend wifibox poweroff",
		"vm_destroy wifibox",
		"devctl_clear_driver pci0:3:0:0",
		"bridge_del wifibox0 tap0",
		"if_destroy tap0",
		"kldunload vmm",
	}
	same(t, "trace", want, got)
}

// workerCommand makes the test binary create taps on a simulated host:
// `workerCommand DIR N` creates N and prints nothing.
const workerCommand = "__sim-test-worker"

func worker(args []string) int {
	h, err := Open(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, _ := strconv.Atoi(args[1])
	for range n {
		if _, err := h.Net.CreateInterface("tap"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestConcurrency creates taps from several goroutines and several processes
// at once; every tap must get its own name.
func TestConcurrency(t *testing.T) {
	dir, h := newHost(t)
	const goroutines, processes, each = 4, 3, 15
	exe, err := os.Executable()
	must(t, err)
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	for range processes {
		cmd := exec.Command(exe, workerCommand, dir, strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := h.Net.CreateInterface("tap"); err != nil {
					t.Error(err)
				}
				if _, err := h.Kernel.Module("if_tuntap"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	list, err := h.Net.Interfaces()
	must(t, err)
	names := map[string]bool{}
	for _, i := range list {
		if i.Kind == "tap" {
			names[i.Name] = true
		}
	}
	const total = (goroutines + processes) * each
	for unit := range total {
		if !names[fmt.Sprintf("tap%d", unit)] {
			t.Errorf("tap%d missing", unit)
		}
	}
	if len(names) != total {
		t.Errorf("%d taps, want %d", len(names), total)
	}
	trace, err := ReadTrace(dir)
	must(t, err)
	if len(trace) != total {
		t.Errorf("%d trace lines, want %d", len(trace), total)
	}
}

// ppt refuses to let a device go while it is assigned to a VM that exists
// (ppt_detach), as the simulated bhyve assigns it; destroying the VM ends
// the assignment.
func TestPPTAssignedToVM(t *testing.T) {
	dir, h := newHost(t)
	must(t, h.Kernel.Load(koFile(dir, "vmm")))
	must(t, h.PCI.SetDriver(wifiCard, "ppt"))
	must(t, h.VMs.CreateVM("wifibox"))
	s, err := openSystem(dir)
	must(t, err)
	must(t, s.run("assign", internal, func(t *txn) error {
		t.st.VMs["wifibox"].PPT = []host.Selector{wifiCard}
		return nil
	}))
	check(t, "clear while assigned", h.PCI.ClearDriver(wifiCard), unix.EBUSY)
	check(t, "set another driver while assigned", h.PCI.SetDriver(wifiCard, "iwlwifi"), unix.EBUSY)
	must(t, h.VMs.DestroyVM("wifibox"))
	check(t, "clear after the VM is gone", h.PCI.ClearDriver(wifiCard), 0)
	devs, err := h.PCI.Devices()
	must(t, err)
	for _, d := range devs {
		if d.Selector == wifiCard && d.DriverUnit() != "iwlwifi0" {
			t.Errorf("card after clear: %q", d.DriverUnit())
		}
	}
}

// A name longer than VM_MAX_NAMELEN: 15.0's vm_create refuses it itself
// (ENAMETOOLONG, its VMMCTL_VM_CREATE buffer), older ones pass it to
// hw.vmm.create, which answers EINVAL.
func TestVMCreateLongName(t *testing.T) {
	long := strings.Repeat("v", abi.VM_MAX_NAMELEN+1)
	for release, want := range map[string]abi.Errno{"1403000": abi.EINVAL, "1500068": abi.ENAMETOOLONG} {
		_, _, lib := libvmmapiOf(t, release)
		if r := lib.VMCreate(long); r != -1 || lib.Errno() != want {
			t.Errorf("%s: vm_create of %d characters = %d, errno %v; want -1, %v", release, len(long), r, lib.Errno(), want)
		}
	}
}

// TestProcessTable: the model answers kern.proc.proc with a kinfo_proc
// for each registered process that runs and kern.proc.args with its
// arguments, which procs decodes into the table legacy.Find reads; the
// wait for its exit ends when it is killed.
func TestProcessTable(t *testing.T) {
	dir, h := newHost(t)
	cmd := exec.Command("sleep", "60")
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Start returns once the child is forked, perhaps before it has
	// exec'd sleep: until then its arguments are the test's own.
	cmdline := fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)
	for began := time.Now(); ; time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(cmdline); string(b) == "sleep\x0060\x00" {
			break
		}
		if time.Since(began) > 10*time.Second {
			t.Fatal("sleep 60 has not exec'd after 10s")
		}
	}
	s := &system{dir: dir}
	must(t, s.register(cmd.Process.Pid))
	list, err := h.Procs.Processes()
	must(t, err)
	want := []host.Process{{PID: cmd.Process.Pid, PPID: os.Getpid(), Title: "sleep 60"}}
	same(t, "Processes", want, list)
	k, err := NewKernel(dir)
	must(t, err)
	_, err = k.Sysctl("kern.proc.args", 1<<22+1)
	check(t, "kern.proc.args of no process", err, unix.ESRCH)
	if exited, err := h.Procs.WaitExit(cmd.Process.Pid, time.Millisecond); exited || err != nil {
		t.Errorf("WaitExit of a process that runs = %v, %v; want false", exited, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if exited, err := h.Procs.WaitExit(cmd.Process.Pid, time.Minute); !exited || err != nil {
		t.Errorf("WaitExit of a killed process = %v, %v; want true", exited, err)
	}
	list, err = h.Procs.Processes()
	if err != nil || len(list) != 0 {
		t.Errorf("Processes after the exit = %v, %v; want none", list, err)
	}
}
