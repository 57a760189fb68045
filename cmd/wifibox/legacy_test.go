package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wifibox/wifibox/sim"
)

// legacyHost is a simulated host on which the shell implementation runs
// its guest (`wifibox sim legacy`).
type legacyHost struct {
	*simHost
	daemon, script, bhyve, relay, socat int
}

// legacyHostOnly is a simulated host whose processes of the shell
// implementation never outlive the test: stop ends them, and what a
// failing stop leaves is killed.
func legacyHostOnly(t *testing.T) *legacyHost {
	t.Helper()
	h := &legacyHost{simHost: newHost(t)}
	t.Cleanup(func() {
		exec.Command(binary, "-S", h.dir, "stop").Run()
		pids, _ := sim.Registered(h.dir)
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("PID %d (%s) outlived the test's stop; killed", pid, h.title(pid))
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return h
}

func newLegacyHost(t *testing.T) *legacyHost {
	t.Helper()
	h := legacyHostOnly(t)
	if out := h.must("sim", "legacy", h.dir); !strings.Contains(out, "shell implementation") {
		t.Fatalf("sim legacy said %q", out)
	}
	for _, pid := range h.registered() {
		title := h.title(pid)
		switch {
		case regexp.MustCompile(`^daemon: wifibox-vm-manager\[\d+\]$`).MatchString(title):
			h.daemon = pid
		case title == "/bin/sh /usr/local/sbin/wifibox _manage_vm":
			h.script = pid
		case title == "bhyve: wifibox":
			h.bhyve = pid
		case regexp.MustCompile(`^daemon: wifibox-uds-passthru\[\d+\]$`).MatchString(title):
			h.relay = pid
		case strings.HasPrefix(title, "/usr/local/bin/socat "):
			h.socat = pid
		}
	}
	if h.daemon == 0 || h.script == 0 || h.bhyve == 0 || h.relay == 0 || h.socat == 0 {
		t.Fatalf("sim legacy left %v: %+v", h.titles(), h)
	}
	if want := "daemon: wifibox-vm-manager[" + strconv.Itoa(h.script) + "]"; h.title(h.daemon) != want {
		t.Errorf("daemon's title %q, want %q (daemon(8) names its child)", h.title(h.daemon), want)
	}
	return h
}

func (h *legacyHost) registered() []int {
	h.t.Helper()
	pids, err := sim.Registered(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	return pids
}

func (h *legacyHost) title(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", " ")
}

func (h *legacyHost) titles() map[int]string {
	m := map[int]string{}
	for _, pid := range h.registered() {
		if alive(pid) {
			m[pid] = h.title(pid)
		}
	}
	return m
}

// checkNoneLeft checks that no process of the shell implementation runs.
func (h *legacyHost) checkNoneLeft() {
	h.t.Helper()
	for _, pid := range h.registered() {
		waitGone(h.t, pid) // bounded: fails the test after 20 s
	}
}

// checkClean checks that no VM, ppt binding or interface is left.
func (h *legacyHost) checkClean() {
	h.t.Helper()
	r := h.statusJSON()
	if r.Running || r.Bridge.Exists || len(r.Devices) != 1 || r.Devices[0].Driver != "iwlwifi0" {
		h.t.Errorf("left behind: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "dev/vmm/wifibox")); !os.IsNotExist(err) {
		h.t.Errorf("the VM is left: %v", err)
	}
}

type jsonReport struct {
	Running    bool   `json:"running"`
	Stage      string `json:"stage"`
	State      string `json:"state"`
	ManagerPID int    `json:"manager_pid"`
	GuestPID   int    `json:"guest_pid"`
	Bridge     struct {
		Exists bool   `json:"exists"`
		Tap    string `json:"tap"`
	} `json:"bridge"`
	Devices []struct {
		Driver string `json:"driver"`
	} `json:"devices"`
	Legacy *struct {
		Managers []int `json:"vm_managers"`
		Bhyves   []int `json:"bhyve"`
		Relays   []int `json:"relays"`
	} `json:"legacy"`
}

func (h *legacyHost) statusJSON() jsonReport {
	h.t.Helper()
	out, _, _ := h.run("status", "--json")
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		h.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return r
}

// TestLegacyStatus: status, status -v, status --json and doctor say that
// the shell implementation runs the guest, under which pids.
func TestLegacyStatus(t *testing.T) {
	h := newLegacyHost(t)
	out, errOut, code := h.run("status")
	if want := "wifibox is run as PID " + strconv.Itoa(h.bhyve) + ".\n"; out != want || code != 0 {
		t.Errorf("status: %q, exit %d; want %q, 0", out, code, want)
	}
	for _, want := range []string{"shell implementation", "bhyve PID " + strconv.Itoa(h.bhyve),
		"VM manager (daemon) PID " + strconv.Itoa(h.daemon), "socket relay (daemon) PID " + strconv.Itoa(h.relay), "service wifibox restart"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("status's warning %q lacks %q", errOut, want)
		}
	}
	out = h.must("status", "-v")
	if !strings.Contains(out, "Shell impl.:  bhyve PID "+strconv.Itoa(h.bhyve)) && !strings.Contains(out, "Shell impl.: bhyve PID "+strconv.Itoa(h.bhyve)) {
		t.Errorf("status -v:\n%s", out)
	}
	if !strings.Contains(out, "Stage:       running: run by the shell implementation, PID "+strconv.Itoa(h.bhyve)) {
		t.Errorf("status -v does not show the stage as running by the shell implementation:\n%s", out)
	}
	r := h.statusJSON()
	if !r.Running || r.GuestPID != h.bhyve || r.ManagerPID != 0 || r.Legacy == nil || r.Stage != "running" ||
		r.State != "run by the shell implementation" ||
		!slices.Equal(r.Legacy.Managers, []int{h.daemon}) || !slices.Equal(r.Legacy.Bhyves, []int{h.bhyve}) ||
		!slices.Equal(r.Legacy.Relays, []int{h.relay}) {
		t.Errorf("status --json: %+v", r)
	}
	out, _, _ = h.run("doctor")
	if !strings.Contains(out, "bhyve PID "+strconv.Itoa(h.bhyve)) {
		t.Errorf("doctor does not tell of the shell implementation's guest:\n%s", out)
	}
	// wait and console say that the guest is the shell implementation's,
	// and what to do.
	for _, args := range [][]string{{"wait"}, {"console"}} {
		_, errOut, code := h.run(args...)
		if code == 0 || !strings.Contains(errOut, "run by the shell implementation, PID "+strconv.Itoa(h.bhyve)) ||
			!strings.Contains(errOut, "`wifibox start`") {
			t.Errorf("%s: exit %d, %q", args[0], code, errOut)
		}
	}
}

// TestLegacyExited: once the shell implementation's guest has exited
// (its daemon(8) ran this wifibox's _manage_vm, which ended it), status
// says what is left, its socket relay, and the advice works: restart stops
// the relay and its socat.
func TestLegacyExited(t *testing.T) {
	h := newLegacyHost(t)
	// The guest powers off: the script exits, daemon runs `wifibox
	// _manage_vm` again, which is now this wifibox's and ends the daemon.
	syscall.Kill(h.bhyve, syscall.SIGTERM)
	waitGone(t, h.bhyve)
	waitGone(t, h.daemon)
	_, errOut, code := h.run("status")
	if code != 1 || !strings.Contains(errOut, "service wifibox restart") {
		t.Errorf("status: exit %d, %q", code, errOut)
	}
	if !alive(h.socat) {
		t.Fatalf("the relay's socat PID %d has gone by itself", h.socat)
	}
	h.run("restart")
	h.checkNoneLeft()
}

// TestLegacyStop: stop stops the shell implementation's guest the way it
// does (its VM manager first, then bhyve, the relays last), then tears down
// as usual: no process, VM, ppt binding or interface is left.
func TestLegacyStop(t *testing.T) {
	h := newLegacyHost(t)
	from := len(h.trace())
	out, errOut, code := h.run("stop")
	if code != 0 || out != "Stopping wifibox.....OK\n" {
		t.Fatalf("stop: %q, exit %d\n%s", out, code, errOut)
	}
	got := h.trace()[from:]
	want := []string{
		"signal " + strconv.Itoa(h.daemon) + " SIGTERM",
		"signal " + strconv.Itoa(h.bhyve) + " SIGTERM",
		"signal " + strconv.Itoa(h.relay) + " SIGTERM",
		"vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0",
	}
	if !slices.Equal(got[:min(len(got), len(want))], want) || !slices.Equal(got[len(want):], stopNetif) {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(append(want, stopNetif...), "\n"))
	}
	h.checkNoneLeft()
	h.checkClean()
}

// TestLegacyForcedPowerOff: a guest that ignores the power button is
// forced off after stop_wait_max, and only then is its VM destroyed.
func TestLegacyForcedPowerOff(t *testing.T) {
	h := newLegacyHost(t)
	h.config("bhyve.conf", "passthru=\"3/0/0\"\nstop_wait_max=1\n")
	h.fault("ignore_power_button", "yes")
	from := len(h.trace())
	h.must("stop", "guest")
	got := strings.Join(h.trace()[from:], "\n")
	if !strings.Contains(got, "signal "+strconv.Itoa(h.bhyve)+" SIGTERM\nvm_suspend wifibox poweroff\n") ||
		!strings.Contains(got, "poweroff\nsignal "+strconv.Itoa(h.relay)+" SIGTERM\nvm_destroy wifibox") {
		t.Errorf("trace:\n%s", got)
	}
	h.checkNoneLeft()
}

// TestLegacyTakeOver: start and restart stop the shell implementation's
// guest, then leave exactly one guest, run by wifibox's VM manager.
func TestLegacyTakeOver(t *testing.T) {
	for _, cmd := range []string{"start", "restart"} {
		t.Run(cmd, func(t *testing.T) {
			h := newLegacyHost(t)
			h.must(cmd)
			h.checkNoneLeft()
			r := h.statusJSON()
			if !r.Running || r.ManagerPID == 0 || r.Legacy != nil || r.GuestPID == h.bhyve || !r.Bridge.Exists {
				t.Errorf("after %s: %+v", cmd, r)
			}
			trace := h.trace()
			destroyed := slices.Index(trace, "vm_destroy wifibox")
			created := slices.Index(trace, "vm_create wifibox")
			if destroyed < 0 || created < destroyed ||
				slices.Index(trace, "signal "+strconv.Itoa(h.bhyve)+" SIGTERM") > destroyed {
				t.Errorf("the old VM is not destroyed after its bhyve stopped and before the new one:\n%s", strings.Join(trace, "\n"))
			}
			if n := strings.Count(strings.Join(trace, "\n"), "\nexec "); n != 1 {
				t.Errorf("%d bhyve launched by wifibox, want 1", n)
			}
		})
	}
}

// TestLegacyManageVM: when the shell implementation's guest reboots, its
// daemon(8) runs `wifibox _manage_vm` again, which is now this wifibox: it
// stops the daemon, says so, and the loop ends.
func TestLegacyManageVM(t *testing.T) {
	h := legacyHostOnly(t)
	h.fault("guest_exit_after_ms", "100")
	h.fault("guest_exit_status", "0") // a reboot: the script exits 1, daemon runs it again
	h.must("sim", "legacy", h.dir)
	// The daemon lives on for the second daemon(8) waits before it runs
	// its command again; the order of the table is not the order of start.
	daemon := 0
	for _, pid := range h.registered() {
		if regexp.MustCompile(`^daemon: wifibox-vm-manager\[\d+\]$`).MatchString(h.title(pid)) {
			daemon = pid
		}
	}
	if daemon == 0 {
		t.Fatalf("no daemon: wifibox-vm-manager among %v", h.titles())
	}
	waitGone(t, daemon)
	if n := strings.Count(h.log(), "ran `wifibox _manage_vm`"); n != 1 {
		t.Errorf("_manage_vm ran %d times, want once:\n%s", n, h.log())
	}
	if !strings.Contains(h.log(), "service wifibox start") {
		t.Errorf("the log does not say what to run:\n%s", h.log())
	}
	if n := strings.Count(strings.Join(h.trace(), "\n"), "signal "+strconv.Itoa(daemon)+" SIGTERM"); n != 1 {
		t.Errorf("daemon signalled %d times, want once", n)
	}
	h.must("stop")
	h.checkNoneLeft()
}

// TestManageVMReturns: `wifibox _manage_vm` not run by that daemon says
// what it is and returns at once, exit status 1: it never loops.
func TestManageVMReturns(t *testing.T) {
	h := newHost(t)
	begin := time.Now()
	_, errOut, code := h.run("_manage_vm")
	// A generous bound for a loaded machine: it does no waiting at all.
	if elapsed := time.Since(begin); elapsed > 2*time.Second {
		t.Errorf("_manage_vm took %v", elapsed)
	}
	if code != 1 || !strings.Contains(errOut, "shell implementation") {
		t.Errorf("_manage_vm: exit %d, %q", code, errOut)
	}
}

// TestUnknownLogLevel: loglevel=warning warns, names the valid values and
// stops neither status nor start.
func TestUnknownLogLevel(t *testing.T) {
	h := newHost(t)
	h.config("core.conf", "loglevel=warning\n")
	_, errOut, code := h.run("status")
	if code != 1 || !strings.Contains(errOut, `malformed loglevel value: "warning", expected: none, error, warn, info or debug; using warn`) {
		t.Errorf("status: exit %d, %q", code, errOut)
	}
	h.must("start")
	if h.guestPID() == 0 {
		t.Error("start did not start the guest")
	}
}

// TestBrokenBhyveConf: stop, restart and status work whatever bhyve.conf
// and uds_passthru.conf say; a missing or invalid one is a warning, and the
// bridge and its tap go. Only start refuses a broken bhyve.conf; with a
// broken uds_passthru.conf the guest runs without the pass-through.
func TestBrokenBhyveConf(t *testing.T) {
	for _, c := range []struct{ name, file, content string }{
		{"invalid", "bhyve.conf", "cpus=$(touch /tmp/x)\n"},
		{"missing", "bhyve.conf", ""},
		{"invalid uds", "appliance/uds_passthru.conf", "sockets=$(touch /tmp/x)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			h.must("start")
			path := filepath.Join(h.dir, "usr/local/etc/wifibox", c.file)
			if c.content == "" {
				os.Remove(path)
			} else {
				h.config(c.file, c.content)
			}
			if _, errOut, code := h.run("status"); code != 0 || !strings.Contains(errOut, filepath.Base(c.file)) {
				t.Errorf("status: exit %d, %q", code, errOut)
			}
			_, errOut, code := h.run("stop")
			if code != 0 || !strings.Contains(errOut, filepath.Base(c.file)) {
				t.Errorf("stop: exit %d, %q", code, errOut)
			}
			trace := strings.Join(h.trace(), "\n")
			if !strings.HasSuffix(trace, "if_destroy tap0\nif_destroy wifibox0") {
				t.Errorf("trace:\n%s", trace)
			}
			// Again, on a stopped host: the same, nothing to do.
			if _, errOut, code := h.run("stop"); code != 0 {
				t.Errorf("second stop: exit %d, %q", code, errOut)
			}
			// restart with no guest: 1, as the spec says, not 3.
			if _, errOut, code := h.run("restart"); code != 1 {
				t.Errorf("restart: exit %d, %q", code, errOut)
			}
			want := 3
			if c.file != "bhyve.conf" {
				want = 0
			}
			if _, _, code := h.run("start"); code != want {
				t.Errorf("start with a broken %s: exit %d, want %d", c.file, code, want)
			}
		})
	}
}

// TestLegacyDryRun: -n shows how the shell implementation's guest would be
// stopped, and stops nothing.
func TestLegacyDryRun(t *testing.T) {
	h := newLegacyHost(t)
	out := h.must("-n", "stop")
	want := "signal " + strconv.Itoa(h.daemon) + " SIGTERM\n# assumed: process " + strconv.Itoa(h.daemon) + " exits\n" +
		"signal " + strconv.Itoa(h.bhyve) + " SIGTERM\n"
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "vm_destroy wifibox\n") {
		t.Errorf("-n stop:\n%s", out)
	}
	for _, pid := range []int{h.daemon, h.script, h.bhyve, h.relay, h.socat} {
		if !alive(pid) {
			t.Errorf("-n stop ended PID %d", pid)
		}
	}
}

// TestLegacySuspend: suspend stops the shell implementation's guest within
// the suspend's bound too, whatever its stop_wait_max.
func TestLegacySuspend(t *testing.T) {
	h := newLegacyHost(t)
	h.config("core.conf", "recovery=suspend_guest\n")
	h.config("bhyve.conf", "passthru=3/0/0\nstop_wait_max=30\n")
	h.fault("ignore_power_button", "yes")
	began := time.Now()
	h.must("suspend")
	if took := time.Since(began); took >= 10*time.Second {
		t.Errorf("suspend took %s, past the kernel's 10 s", took)
	}
	if !strings.Contains(strings.Join(h.trace(), "\n"), "vm_suspend wifibox poweroff") {
		t.Error("the guest was not forced off")
	}
	h.checkNoneLeft()
}
