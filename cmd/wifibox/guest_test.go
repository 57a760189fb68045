package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sim"
)

// waitLog waits until the log has n lines matching pattern. It re-reads the
// log until a deadline: the guest's own timing drives these tests, and the
// deadline only bounds a failure.
func (h *simHost) waitLog(pattern string, n int) {
	h.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if len(re.FindAllString(h.log(), -1)) >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the log never had %d lines matching %q", n, pattern)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *simHost) managerPID() int {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, "var/run/wifibox/manager.pid"))
	if err != nil {
		h.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		h.t.Fatal(err)
	}
	return pid
}

// killAndWait kills a process with SIGKILL and waits until it is gone
// and reaped: a killed process whose leader thread is a zombie already may
// still hold its locks while its other threads exit.
func killAndWait(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("PID %d was not reaped", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGone waits until a process no longer exists.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("PID %d still exists", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// execLine gives bhyve's last command line from the trace.
func (h *simHost) execLine() string {
	h.t.Helper()
	lines := h.trace()
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "exec ") {
			return strings.TrimPrefix(lines[i], "exec ")
		}
	}
	h.t.Fatal("no exec in the trace")
	return ""
}

// TestCommandLines runs the guest with each configuration and checks
// bhyve's command line and priority.
func TestCommandLines(t *testing.T) {
	const (
		head = "/usr/sbin/bhyve -c 1 -m 128M -AHPSuw -l com1,/dev/nmdm-wifibox.1A -s 0,hostbridge -s 31,lpc " +
			"-l bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd " +
			"-s 4:0,virtio-blk,/usr/local/share/wifibox/esp.img -s 4:1,virtio-blk,/usr/local/share/wifibox/root.img " +
			"-s 4:2,virtio-9p,config=/usr/local/etc/wifibox/appliance,ro -s 4:3,virtio-9p,var=/var/run/wifibox/appliance "
		appConfig = "-s 4:4,virtio-9p,app_config=/usr/local/etc/wifibox/wpa_supplicant"
		tail      = " -s 5:0,e1000,tap0 -s 6:0,passthru,3/0/0 wifibox"
		bhyveConf = "cpus=1\nmemory=128M\nconsole=yes\npassthru=\"3/0/0\"\npriority=50\nstop_wait_max=10\n"
	)
	for _, tc := range []struct {
		name   string
		change func(h *simHost)
		want   string
		nice   int
	}{
		{"default", func(*simHost) {}, head + appConfig + ",ro" + tail, 0},
		{"console=no", func(h *simHost) {
			h.config("bhyve.conf", strings.Replace(bhyveConf, "console=yes", "console=no", 1))
		}, strings.Replace(head, "-l com1,/dev/nmdm-wifibox.1A ", "", 1) + appConfig + ",ro" + tail, 0},
		{"two passthru devices", func(h *simHost) {
			h.config("bhyve.conf", strings.Replace(bhyveConf, `"3/0/0"`, `"3/0/0 0/20/0"`, 1))
		}, head + appConfig + ",ro" + tail[:len(tail)-len(" wifibox")] + " -s 6:1,passthru,0/20/0 wifibox", 0},
		{"no app_config", func(h *simHost) {
			os.Remove(filepath.Join(h.dir, "usr/local/etc/wifibox/app_config"))
		}, strings.TrimSuffix(head, " ") + tail, 0},
		{"uds_passthru.conf", func(h *simHost) {
			h.config("appliance/uds_passthru.conf", "network=\"127.0.0.1:255.0.0.0\"\nsockets=\"\"\n")
		}, head + appConfig + tail, 0},
		{"resources", func(h *simHost) {
			h.config("bhyve.conf", "cpus=2\nmemory=256M\nconsole=yes\npassthru=3/0/0\npriority=75\n")
		}, strings.Replace(head, "-c 1 -m 128M", "-c 2 -m 256M", 1) + appConfig + ",ro" + tail, 10},
		{"bhyve=", func(h *simHost) {
			h.program("usr/local/sbin/bhyve-custom", 0o755)
			h.config("bhyve.conf", bhyveConf+"bhyve=/usr/local/sbin/bhyve-custom\n")
		}, strings.Replace(head, "/usr/sbin/bhyve", "/usr/local/sbin/bhyve-custom", 1) + appConfig + ",ro" + tail, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			tc.change(h)
			h.must("start")
			if diff := cmp.Diff(tc.want, h.execLine()); diff != "" {
				t.Errorf("bhyve's command line (-want +got):\n%s", diff)
			}
			stat, err := os.ReadFile("/proc/" + strconv.Itoa(h.guestPID()) + "/stat")
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Fields(string(stat)[strings.LastIndex(string(stat), ")")+2:])
			if got := fields[16]; got != strconv.Itoa(tc.nice) { // field 19: nice
				t.Errorf("bhyve runs at nice %s, want %d", got, tc.nice)
			}
		})
	}
}

// program puts an executable file at path below the host, with mode.
func (h *simHost) program(path string, mode os.FileMode) {
	h.t.Helper()
	full := filepath.Join(h.dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("#!/bin/sh\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		h.t.Fatal(err)
	}
}

// TestCustomBhyveRefused: a bhyve= that others could change is not run:
// start fails with the configuration's exit status, says why and what to
// do, and creates nothing.
func TestCustomBhyveRefused(t *testing.T) {
	h := newHost(t)
	h.program("usr/local/sbin/bhyve-custom", 0o775)
	h.config("bhyve.conf", "passthru=3/0/0\nbhyve=/usr/local/sbin/bhyve-custom\n")
	from := len(h.trace())
	_, errOut, code := h.run("start", "guest")
	if code != 3 || !strings.Contains(errOut, "refusing to run bhyve=/usr/local/sbin/bhyve-custom: it is writable by group (mode 0775)") ||
		!strings.Contains(errOut, "chmod g-w /usr/local/sbin/bhyve-custom") {
		t.Errorf("start guest: exit %d, stderr %q", code, errOut)
	}
	for _, op := range h.trace()[from:] {
		if strings.HasPrefix(op, "exec ") || strings.HasPrefix(op, "vm_create") {
			t.Errorf("a refused bhyve= did %q", op)
		}
	}
}

// TestShellEnvIgnored: a BHYVE the shell implementation would have run
// (wifibox_env in rc.conf) is not run; start warns once, on the terminal
// and in the log, of what replaces it, and runs the base system's bhyve.
func TestShellEnvIgnored(t *testing.T) {
	h := newHost(t)
	cmd := exec.Command(binary, "-S", h.dir, "start")
	cmd.Env = append(os.Environ(), "BHYVE=/usr/local/sbin/bhyve-custom")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	const warning = "BHYVE=/usr/local/sbin/bhyve-custom is ignored (the shell implementation read it): set bhyve= in bhyve.conf to run another bhyve(8)"
	if n := strings.Count(string(out), warning); n != 1 {
		t.Errorf("start warned %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(h.log(), warning); n != 1 {
		t.Errorf("the log has the warning %d times, want once", n)
	}
	if line := h.execLine(); !strings.HasPrefix(line, "/usr/sbin/bhyve ") {
		t.Errorf("bhyve's command line: %s", line)
	}
}

// TestGuestReboots: exit status 0 starts the guest again at once.
func TestGuestReboots(t *testing.T) {
	h := newHost(t)
	h.fault("guest_exit_after_ms", "300")
	h.fault("guest_exit_status", "0")
	h.must("start")
	h.waitLog(`guest was rebooted`, 1)
	h.fault("guest_exit_after_ms", "")
	h.waitLog(`guest wifibox runs as PID`, 2)
	if !strings.Contains(h.log(), "restarting the guest in 1s") {
		t.Error("a guest that rebooted at once was not throttled")
	}
	if h.guestPID() == 0 {
		t.Error("guest not running after the reboot")
	}
}

// TestGuestStopsItself: power-off (1) and halt (2) end the manager and clean
// up; status then says the guest does not run.
func TestGuestStopsItself(t *testing.T) {
	for _, status := range []string{"1", "2"} {
		t.Run("exit "+status, func(t *testing.T) {
			h := newHost(t)
			h.fault("guest_exit_after_ms", "300")
			h.fault("guest_exit_status", status)
			h.must("start")
			manager := h.managerPID()
			waitGone(t, manager)
			ops := ops(h.trace(), 0)
			if diff := cmp.Diff([]string{"vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}, ops[len(ops)-2:]); diff != "" {
				t.Errorf("cleanup (-want +got):\n%s", diff)
			}
			if pid := h.guestPID(); pid != 0 {
				t.Errorf("status says PID %d runs", pid)
			}
		})
	}
}

// TestForcedPowerOff: a guest that ignores the power button is forced off
// after stop_wait_max.
func TestForcedPowerOff(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "console=yes\npassthru=3/0/0\nstop_wait_max=1\n")
	h.fault("ignore_power_button", "yes")
	h.must("start")
	from := len(h.trace())
	out, errOut, code := h.run("stop", "guest")
	if code != 0 || !strings.Contains(errOut, "WARNING: Guest wifibox was forced off after 1 s: the guest ignored the power button") {
		t.Errorf("stop does not say the guest was forced off: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	want := []string{"signal PID SIGTERM", "vm_suspend wifibox poweroff", "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	if diff := cmp.Diff(want, ops(h.trace(), from)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	out, _, _ = h.run("status", "-v")
	if !regexp.MustCompile(`(?m)^Last stop: .*: forced off after 1 s: the guest ignored the power button$`).MatchString(out) {
		t.Errorf("status -v does not show the last stop's manner:\n%s", out)
	}
	if r := h.stage(); r.LastStop == nil || r.LastStop.Manner != "forced off" || r.LastStop.Grace != 1 || r.LastStop.After < 1 {
		t.Errorf("status --json: last_stop %+v, want forced off after 1 s", r.LastStop)
	}
	// A guest that powers off is said to have done so.
	h.fault("ignore_power_button", "no")
	h.must("start")
	if _, errOut, _ := h.run("stop"); strings.Contains(errOut, "forced off") {
		t.Errorf("stop of a guest that powered off: %s", errOut)
	}
	if r := h.stage(); r.LastStop == nil || r.LastStop.Manner != "powered off" {
		t.Errorf("status --json after a power-off: last_stop %+v", r.LastStop)
	}
}

// TestRecoverKilledManager: after SIGKILL of the manager the next start
// repairs what it left and starts normally.
func TestRecoverKilledManager(t *testing.T) {
	h := newHost(t)
	h.must("start")
	bhyvePID := h.guestPID()
	killAndWait(t, h.managerPID())
	if pid := h.guestPID(); pid != 0 {
		t.Errorf("status names PID %d with the manager dead", pid)
	}
	from := len(h.trace())
	h.must("start")
	want := append([]string{"vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}, restartGuest...)
	if diff := cmp.Diff(want, ops(h.trace(), from)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	waitGone(t, bhyvePID) // the orphaned bhyve ends with its VM
	for _, repair := range []string{"Repair: removing the files", "Repair: destroying the leftover VM", "Repair: releasing"} {
		if !strings.Contains(h.log(), repair) {
			t.Errorf("the log does not say %q", repair)
		}
	}
	if h.guestPID() == 0 {
		t.Error("guest not running after the repair")
	}
}

// TestRecoverKilledBhyve: SIGKILL of bhyve is a crash: the kernel cannot
// reinitialise the VM (its vCPU stays active and unsuspended), so the
// manager destroys it before the next exec, and the guest runs again
// after the backoff with the card still on ppt. (The backoff's growth and
// ten kills in a row: manager's TestTransitions and TestCrashesRecover.)
func TestRecoverKilledBhyve(t *testing.T) {
	h := newHost(t)
	h.must("start")
	pid := h.guestPID()
	from := len(h.trace())
	syscall.Kill(pid, syscall.SIGKILL)
	h.waitLog(`guest wifibox runs as PID`, 2)
	got := ops(h.trace(), from)
	destroy, exec := slices.Index(got, "vm_destroy wifibox"), slices.Index(got, "exec")
	if destroy < 0 || exec < destroy || slices.Contains(got, "devctl_clear_driver pci0:3:0:0") {
		t.Errorf("operations after the kill: %q, want vm_destroy before exec and the card kept", got)
	}
	if !strings.Contains(h.log(), "guest crashed, killed by signal 9") {
		t.Error("the crash is not logged with its signal")
	}
	if got := h.guestPID(); got == 0 || got == pid {
		t.Errorf("guest PID after the restart = %d (was %d)", got, pid)
	}
}

// TestConcurrentStarts: several starts at once run one guest.
func TestConcurrentStarts(t *testing.T) {
	h := newHost(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = exec.Command(binary, "-S", h.dir, "start").Run()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("start %d: %v", i, err)
		}
	}
	var execs, creates int
	for _, op := range ops(h.trace(), 0) {
		switch {
		case op == "exec":
			execs++
		case strings.HasPrefix(op, "if_create"):
			creates++
		}
	}
	if execs != 1 || creates != 2 {
		t.Errorf("%d bhyve launched, %d interfaces created; want 1 and 2", execs, creates)
	}
	if h.guestPID() == 0 {
		t.Error("no guest runs")
	}
}

// TestBhyveFailsAtOnce: a bhyve that exits before the guest runs fails the
// start with bhyve's own message, and nothing is left behind.
func TestBhyveFailsAtOnce(t *testing.T) {
	h := newHost(t)
	h.must("start", "netif")
	h.must("stop", "guest")
	os.RemoveAll(filepath.Join(h.dir, "usr/local/etc/wifibox/appliance"))
	from := len(h.trace())
	out, errOut, code := h.run("start")
	if code == 0 || !strings.Contains(out, "FAILED") {
		t.Fatalf("start succeeded: %q %q", out, errOut)
	}
	if !strings.Contains(errOut, "bhyve exited before the guest ran") || !strings.Contains(errOut, "bhyve said: bhyve:") {
		t.Errorf("the error does not show bhyve's message: %q", errOut)
	}
	// The tap went down when the stopped guest's bhyve closed it
	// (tundtor): the netif part of start brings it up again.
	want := append(append([]string{"if_up tap0"}, restartGuest...), "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0")
	if diff := cmp.Diff(want, ops(h.trace(), from)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if pid := h.guestPID(); pid != 0 {
		t.Errorf("status says PID %d runs", pid)
	}
}

// TestStartRefused: each fault that keeps a guest from running fails the
// start with its cause and exit status 127, and leaves no VM and no
// device on ppt behind.
func TestStartRefused(t *testing.T) {
	for _, tc := range []struct{ fault, says string }{
		{"module_files_missing", "boot/missing/if_bridge.ko"},
		{"iommu_disabled", "PCI pass-through is not available for bhyve"},
		{"no_virtio_9p", "The Virtio 9p (VirtFS) bhyve interface is not available"},
		{"pci_device_missing", "PCI device not present: pci0:3:0:0"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			h := newHost(t)
			h.fault(tc.fault, "yes")
			out, errOut, code := h.run("start")
			if code != 127 || !strings.Contains(out, "FAILED") || !strings.Contains(errOut, tc.says) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			for _, op := range h.trace() {
				if strings.HasPrefix(op, "vm_create") || strings.HasPrefix(op, "devctl_set_driver") || strings.HasPrefix(op, "exec") {
					t.Errorf("the refused start went as far as %q", op)
				}
			}
		})
	}
}

// TestSuspendWithinKernelWait: with recovery=suspend_guest, a guest that
// ignores the power button and stop_wait_max=30, suspend forces the guest
// off after SuspendGrace and returns before the kernel forces the sleep
// (10 s after the request, acpi.c).
func TestSuspendWithinKernelWait(t *testing.T) {
	h := newHost(t)
	h.config("core.conf", "loglevel=info\nrecovery=suspend_guest\n")
	h.config("bhyve.conf", "console=yes\npassthru=3/0/0\nstop_wait_max=30\n")
	h.fault("ignore_power_button", "yes")
	h.must("start")
	from := len(h.trace())
	began := time.Now()
	h.must("suspend")
	if took := time.Since(began); took >= 10*time.Second {
		t.Errorf("suspend took %s, past the kernel's 10 s", took)
	}
	want := []string{"signal PID SIGTERM", "vm_suspend wifibox poweroff", "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	if diff := cmp.Diff(want, ops(h.trace(), from)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	for _, line := range []string{"the guest has at most 5s to power off", "grace period of 5s is over"} {
		if !strings.Contains(h.log(), line) {
			t.Errorf("the log does not say %q", line)
		}
	}
}

func TestModulesKeptUnderGuest(t *testing.T) {
	h := newHost(t)
	h.must("start")
	from := len(h.trace())
	h.fault("module_files_missing", "yes")
	h.run("start")
	h.fault("module_files_missing", "")
	h.must("start")
	for _, op := range h.trace()[from:] {
		if strings.HasPrefix(op, "kldunload") || strings.HasPrefix(op, "if_create") {
			t.Errorf("a start under a running guest did %q", op)
		}
	}
}

// TestRebootKeepsVM: a guest reboot and a crash restart keep the VM and
// the card on ppt, so the native driver never gets the card in between;
// stop releases both.
func TestRebootKeepsVM(t *testing.T) {
	h := newHost(t)
	h.fault("guest_exit_after_ms", "50")
	h.fault("guest_exit_status", "0")
	h.must("start")
	from := len(h.trace())
	h.waitLog(`guest was rebooted`, 2)
	h.fault("guest_exit_status", "3")
	h.waitLog(`guest crashed`, 1)
	h.fault("guest_exit_after_ms", "")
	h.waitLog(`guest wifibox runs as PID`, 4)
	for _, op := range h.trace()[from:] {
		if strings.HasPrefix(op, "vm_destroy") || strings.HasPrefix(op, "devctl_clear_driver") {
			t.Errorf("a reboot or crash restart did %q", op)
		}
	}
	from = len(h.trace())
	h.must("stop")
	released := 0
	for _, op := range h.trace()[from:] {
		if op == "vm_destroy wifibox" || op == "devctl_clear_driver pci0:3:0:0" {
			released++
		}
	}
	if released != 2 {
		t.Errorf("stop did not destroy the VM and release the card: %q", h.trace()[from:])
	}
}

// TestStartRefusedOnARM64: start refuses on arm64, whose bhyve has no PCI
// pass-through, before it loads or creates anything.
func TestStartRefusedOnARM64(t *testing.T) {
	h := newHost(t)
	h.fault("machine_arch", "aarch64")
	from := len(h.trace())
	out, errOut, code := h.run("start")
	if code != 127 || !strings.Contains(errOut, "cannot run its guest on aarch64") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if ops := h.trace()[from:]; len(ops) != 0 {
		t.Errorf("the refused start did %q", ops)
	}
}

// TestNoIOMMU: on a machine without an IOMMU (no ACPI DMAR or IVRS
// table; hw.vmm.iommu.enable says 1 all the same), doctor fails and start
// refuses, on Intel and on AMD, before vmm is loaded and after; start
// creates no VM. The AMD machine has the amdvi tunable, so that only the
// missing IOMMU is found.
func TestNoIOMMU(t *testing.T) {
	for _, cpu := range []string{"intel", "amd"} {
		h := newHost(t)
		h.fault("iommu", "none")
		h.fault("cpu", cpu)
		h.fault("amdvi_enable", "yes")
		if err := os.WriteFile(filepath.Join(h.dir, "boot/loader.conf"), []byte("hw.vmm.amdvi.enable=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, loaded := range []bool{false, true} {
			if loaded { // the refused start may have left it loaded
				sh, err := sim.Open(h.dir)
				var m host.Module
				if err == nil {
					m, err = sh.Kernel.Module("vmm")
				}
				if err == nil && !m.Present {
					err = sh.Kernel.Load(filepath.Join(h.dir, "boot/kernel/vmm.ko"))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			out, _, code := h.run("doctor", "-q")
			if code == 0 || !strings.Contains(out, "FAIL IOMMU: ") {
				t.Errorf("%s, vmm loaded %v: doctor exit %d, %q; want a failure naming the IOMMU", cpu, loaded, code, out)
			}
			from := len(h.trace())
			out, errOut, code := h.run("start")
			if code != 127 || !strings.Contains(errOut, "PCI pass-through is not available for bhyve") {
				t.Errorf("%s, vmm loaded %v: start exit %d\nstdout: %s\nstderr: %s", cpu, loaded, code, out, errOut)
			}
			for _, op := range h.trace()[from:] {
				// Refused before any change to the host.
				if strings.HasPrefix(op, "vm_create") || strings.HasPrefix(op, "kldload") || strings.HasPrefix(op, "if_create") {
					t.Errorf("%s, vmm loaded %v: the refused start went as far as %q", cpu, loaded, op)
				}
			}
		}
	}
}

// TestStartOverStoppingManager: a start after a stop that was killed
// mid-way, while the manager still powers the guest off, waits for it
// and starts the guest afresh.
func TestStartOverStoppingManager(t *testing.T) {
	h := newHost(t)
	h.must("start")
	h.fault("poweroff_delay_ms", "500")
	stop := exec.Command(binary, "-S", h.dir, "stop")
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	h.waitLog(`VM manager: stopping guest`, 1)
	stop.Process.Kill()
	stop.Wait()
	old := h.managerPID()
	h.must("start")
	if !strings.Contains(h.log(), "is stopping the guest: waiting") {
		t.Error("start did not wait for the stopping manager")
	}
	if pid := h.managerPID(); pid == old || alive(old) || h.guestPID() == 0 {
		t.Errorf("after the start: manager %d (was %d, alive %v), guest %d", pid, old, alive(old), h.guestPID())
	}
}

// TestFrozenManager: wait against a stopped (SIGSTOP) manager exits 127
// with status's message; start over it exits 127 while its bhyve runs,
// and once its bhyve is gone kills it, repairs and starts afresh.
func TestFrozenManager(t *testing.T) {
	h := newHost(t)
	h.must("start")
	m, g := h.managerPID(), h.guestPID()
	syscall.Kill(m, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(m, syscall.SIGKILL) })
	_, errOut, code := h.run("wait", "-t", "5")
	if code != 127 || !strings.Contains(errOut, "The VM manager PID "+strconv.Itoa(m)+" is not answering") {
		t.Errorf("wait: exit %d %q, want 127 and status's message", code, errOut)
	}
	_, errOut, code = h.run("start")
	if code != 127 || !strings.Contains(errOut, "is not answering") {
		t.Errorf("start while its bhyve runs: exit %d %q, want 127", code, errOut)
	}
	syscall.Kill(g, syscall.SIGKILL)
	h.must("start")
	waitGone(t, m)
	if pid := h.guestPID(); pid == 0 || pid == g {
		t.Errorf("guest after the start: %d (was %d)", pid, g)
	}
}

// TestRestartVMMKept: when the kernel keeps vmm.ko (the boot loader loaded
// it; another program's VM holds it), restart vmm restarts the guest in a
// new VM and exits 0 with a warning that names the cause; a preloaded
// vmm.ko is not blamed on other guests. stop vmm says the same and stops
// the rest.
func TestRestartVMMKept(t *testing.T) {
	for _, tc := range []struct{ fault, says string }{
		{"vmm_preloaded", "the boot loader loaded it"},
		{"vmm_busy", "the kernel refuses (EBUSY)"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			h := newHost(t)
			h.fault(tc.fault, "yes")
			h.must("start")
			before := h.guestPID()
			from := len(h.trace())
			out, errOut, code := h.run("restart", "vmm")
			if code != 0 || !strings.HasSuffix(out, "OK\n") {
				t.Fatalf("restart vmm: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if !strings.Contains(errOut, "WARNING: vmm.ko could not be unloaded") || !strings.Contains(errOut, tc.says) {
				t.Errorf("restart vmm does not warn with the cause %q:\n%s", tc.says, errOut)
			}
			if strings.Contains(errOut, "other bhyve guests") || (tc.fault == "vmm_preloaded" && strings.Contains(errOut, "another VM")) {
				t.Errorf("restart vmm blames other guests:\n%s", errOut)
			}
			want := join(stopGuest, unloadVMM, restartGuest)
			if diff := cmp.Diff(want, ops(h.trace(), from)); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
			if pid := h.guestPID(); pid == 0 || pid == before {
				t.Errorf("guest after restart vmm: PID %d (before: %d)", pid, before)
			}
			// The resume of the default recovery is restart vmm.
			before = h.guestPID()
			if _, errOut, code := h.run("resume"); code != 0 || !strings.Contains(errOut, tc.says) {
				t.Errorf("resume: exit %d\nstderr: %s", code, errOut)
			}
			if pid := h.guestPID(); pid == 0 || pid == before {
				t.Errorf("guest after resume: PID %d (before: %d)", pid, before)
			}
			out, errOut, code = h.run("stop", "vmm")
			if code != 0 || !strings.Contains(errOut, tc.says) || h.guestPID() != 0 {
				t.Errorf("stop vmm: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}
