package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sim"
)

// binary is the wifibox program the tests run, built once.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wbbin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wifibox")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// simHost is a simulated FreeBSD host in a fresh directory. The directory's
// path is short: the control socket's path must fit a sockaddr_un.
type simHost struct {
	t   *testing.T
	dir string
}

func newHost(t *testing.T) *simHost {
	t.Helper()
	dir, err := os.MkdirTemp("", "wb")
	if err != nil {
		t.Fatal(err)
	}
	h := &simHost{t: t, dir: dir}
	t.Cleanup(func() {
		// Stop whatever the test left running, then remove the host.
		exec.Command(binary, "-S", dir, "stop").Run()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "var/log/wifibox.log")); err == nil {
				t.Logf("wifibox.log:\n%s", log)
			}
		}
		os.RemoveAll(dir)
	})
	if _, _, code := h.run("sim", "init", dir); code != 0 {
		t.Fatalf("sim init failed")
	}
	return h
}

// run runs wifibox on the host and gives its output and exit status.
func (h *simHost) run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	cmd := exec.Command(binary, append([]string{"-S", h.dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		h.t.Fatalf("run wifibox %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// must runs wifibox and fails the test unless it succeeds.
func (h *simHost) must(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("wifibox %v: exit status %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func (h *simHost) trace() []string {
	h.t.Helper()
	lines, err := sim.ReadTrace(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	return lines
}

func (h *simHost) fault(key, value string) {
	h.t.Helper()
	if err := sim.SetFault(h.dir, key, value); err != nil {
		h.t.Fatal(err)
	}
}

func (h *simHost) config(name, content string) {
	h.t.Helper()
	path := filepath.Join(h.dir, "usr/local/etc/wifibox", name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *simHost) log() string {
	data, _ := os.ReadFile(filepath.Join(h.dir, "var/log/wifibox.log"))
	return string(data)
}

var pidPattern = regexp.MustCompile(`^signal \d+ `)

// ops gives the trace lines from index from on, with pids as PID and
// bhyve's command line as `exec`.
func ops(lines []string, from int) []string {
	var out []string
	for _, l := range lines[from:] {
		switch {
		case strings.HasPrefix(l, "exec "):
			l = "exec"
		case strings.HasPrefix(l, "signal "):
			l = pidPattern.ReplaceAllString(l, "signal PID ")
		}
		out = append(out, l)
	}
	return out
}

// notRun is status's answer when no guest runs, with why when there is
// more to say.
var notRun = regexp.MustCompile(`^wifibox is not run\.\n(.+\n)?$`)

// guestPID gives the pid status reports, or 0.
func (h *simHost) guestPID() int {
	h.t.Helper()
	out, _, code := h.run("status")
	m := regexp.MustCompile(`^wifibox is run as PID (\d+)\.\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		if !notRun.MatchString(out) || code != 1 {
			h.t.Fatalf("status: %q, exit %d", out, code)
		}
		return 0
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// alive tells whether a process exists and has not exited: a zombie,
// which waits for init to reap it, is not alive. A Go process's main
// thread shows as a zombie while its other threads still exit, holding
// its files (and their locks): it is alive until they have gone.
func alive(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	if !strings.HasPrefix(s[strings.LastIndex(s, ")")+1:], " Z") {
		return true
	}
	tasks, _ := os.ReadDir(dir + "/task")
	return len(tasks) > 1
}

var (
	startNetif = []string{
		"kldload /boot/kernel/if_bridge.ko",
		"if_create bridge bridge0", "if_descr bridge0 wifibox", "if_rename bridge0 wifibox0", "if_up wifibox0",
		"if_create tap tap0", "if_descr tap0 wifibox", "bridge_add wifibox0 tap0", "if_up tap0",
		"run /etc/pccard_ether wifibox0 forcestart",
	}
	loadVMM    = []string{"kldload /boot/kernel/vmm.ko"}
	startGuest = []string{
		"kldload /boot/kernel/nmdm.ko",
		"vm_create wifibox", "devctl_set_driver pci0:3:0:0 ppt", "if_up tap0", "exec",
	}
	restartGuest = []string{"vm_create wifibox", "devctl_set_driver pci0:3:0:0 ppt", "if_up tap0", "exec"}
	stopGuest    = []string{"signal PID SIGTERM", "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	stopNetif    = []string{"bridge_del wifibox0 tap0", "if_destroy tap0", "if_destroy wifibox0"}
	unloadVMM    = []string{"kldunload vmm"}
)

func join(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// TestTargets checks every row of the target table of man/wifibox.8
// (DESCRIPTION, Targets) on the trace: the operations, their order, and the
// final state.
func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   [][]string // commands run first
		args    []string
		code    int
		want    []string
		running bool
	}{
		{"start", nil, []string{"start"}, 0, join(startNetif, loadVMM, startGuest), true},
		{"start netif", nil, []string{"start", "netif"}, 0, join(startNetif, loadVMM, startGuest), true},
		{"start guest", [][]string{{"start", "netif"}, {"stop", "guest"}}, []string{"start", "guest"}, 0, restartGuest, true},
		{"start guest without netif", nil, []string{"start", "guest"}, 5, loadVMM, false},
		{"start vmm", [][]string{{"start"}, {"stop", "vmm"}}, []string{"start", "vmm"}, 0, join(loadVMM, restartGuest), true},
		{"start running", [][]string{{"start"}}, []string{"start", "guest"}, 0, nil, true},
		{"stop", [][]string{{"start"}}, []string{"stop"}, 0, join(stopGuest, stopNetif), false},
		{"stop netif", [][]string{{"start"}}, []string{"stop", "netif"}, 0, join(stopGuest, stopNetif), false},
		{"stop guest", [][]string{{"start"}}, []string{"stop", "guest"}, 0, stopGuest, false},
		{"stop vmm", [][]string{{"start"}}, []string{"stop", "vmm"}, 0, join(stopGuest, unloadVMM), false},
		{"stop stopped", nil, []string{"stop", "guest"}, 0, nil, false},
		{"restart", [][]string{{"start"}}, []string{"restart"}, 0,
			join(stopGuest, stopNetif, startNetif[1:], restartGuest), true},
		{"restart guest", [][]string{{"start"}}, []string{"restart", "guest"}, 0, join(stopGuest, restartGuest), true},
		{"restart vmm", [][]string{{"start"}}, []string{"restart", "vmm"}, 0,
			join(stopGuest, unloadVMM, loadVMM, restartGuest), true},
		{"restart stopped", nil, []string{"restart"}, 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			for _, args := range tc.setup {
				h.must(args...)
			}
			from := len(h.trace())
			out, errOut, code := h.run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if diff := cmp.Diff(tc.want, ops(h.trace(), from)); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
			pid := h.guestPID()
			if (pid != 0) != tc.running {
				t.Errorf("guest running = %v, want %v", pid != 0, tc.running)
			}
			if pid != 0 && !alive(pid) {
				t.Errorf("status names PID %d, which does not exist", pid)
			}
		})
	}
}

// TestRecovery: suspend and resume carry out core.conf's recovery method.
func TestRecovery(t *testing.T) {
	for _, tc := range []struct {
		method           string
		suspend, resume  []string
		runningSuspended bool
	}{
		{"restart_vmm", nil, join(stopGuest, unloadVMM, loadVMM, restartGuest), true},
		{"suspend_guest", stopGuest, restartGuest, false},
		{"suspend_vmm", join(stopGuest, unloadVMM), join(loadVMM, restartGuest), false},
		{"none", nil, nil, true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			h := newHost(t)
			h.config("core.conf", "loglevel=info\nrecovery="+tc.method+"\n")
			h.must("start")
			from := len(h.trace())
			h.must("suspend")
			if diff := cmp.Diff(tc.suspend, ops(h.trace(), from)); diff != "" {
				t.Errorf("suspend (-want +got):\n%s", diff)
			}
			if running := h.guestPID() != 0; running != tc.runningSuspended {
				t.Errorf("guest running while suspended = %v", running)
			}
			from = len(h.trace())
			h.must("resume")
			if diff := cmp.Diff(tc.resume, ops(h.trace(), from)); diff != "" {
				t.Errorf("resume (-want +got):\n%s", diff)
			}
			if h.guestPID() == 0 {
				t.Error("guest not running after resume")
			}
		})
	}
}

// TestBuiltInRecovery: a wifibox built with the suspend_guest default, as
// the port's RECOVER_SUSPEND_GUEST option builds it, over a core.conf
// without a recovery line (an upgrade keeps the user's old one), stops the
// guest on suspend; status -v and doctor say the method came from the
// build. The default build says restart_vmm.
func TestBuiltInRecovery(t *testing.T) {
	built := filepath.Join(t.TempDir(), "wifibox")
	if out, err := exec.Command("go", "build", "-o", built,
		"-ldflags", "-X github.com/wifibox/wifibox/config.defaultRecovery=suspend_guest", ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h := newHost(t)
	h.config("core.conf", "loglevel=info\n")
	run := func(args ...string) string {
		out, err := exec.Command(built, append([]string{"-S", h.dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("wifibox %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	const line = "suspend_guest (the default built into this wifibox: core.conf has no recovery line)"
	if out := run("doctor"); !strings.Contains(out, "OK   recovery: "+line+"\n") {
		t.Errorf("doctor does not show the built-in recovery:\n%s", out)
	}
	run("start")
	if out := run("status", "-v"); !strings.Contains(out, "Recovery:    "+line+"\n") {
		t.Errorf("status -v does not show the built-in recovery:\n%s", out)
	}
	from := len(h.trace())
	run("suspend")
	if diff := cmp.Diff(stopGuest, ops(h.trace(), from)); diff != "" {
		t.Errorf("suspend (-want +got):\n%s", diff)
	}
	if out, _, _ := h.run("status", "-v"); !strings.Contains(out, "Recovery:    restart_vmm (the default built into this wifibox: core.conf has no recovery line)\n") {
		t.Errorf("the default build's status -v:\n%s", out)
	}
}

// TestStatusJSON decodes `status --json` before and after a start.
func TestStatusJSON(t *testing.T) {
	type report struct {
		Running  bool    `json:"running"`
		Uptime   float64 `json:"uptime_seconds"`
		State    string  `json:"state"`
		Manager  int     `json:"manager_pid"`
		Guest    int     `json:"guest_pid"`
		Restarts int     `json:"restarts"`
		Bridge   struct {
			Name   string `json:"name"`
			Exists bool   `json:"exists"`
			Tap    string `json:"tap"`
		} `json:"bridge"`
		Devices []struct {
			Selector string `json:"selector"`
			Passthru string `json:"passthru"`
			Present  bool   `json:"present"`
			Driver   string `json:"driver"`
		} `json:"devices"`
		Errors []string `json:"errors"`
	}
	decode := func(h *simHost, wantCode int) report {
		t.Helper()
		out, errOut, code := h.run("status", "--json")
		if code != wantCode {
			t.Fatalf("exit status %d, want %d: %s", code, wantCode, errOut)
		}
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status --json is not JSON: %v\n%s", err, out)
		}
		return r
	}
	h := newHost(t)
	r := decode(h, 1)
	if r.Running || r.State != "stopped" || r.Bridge.Exists || len(r.Errors) != 0 ||
		len(r.Devices) != 1 || r.Devices[0].Driver != "iwlwifi0" || r.Devices[0].Passthru != "3/0/0" {
		t.Errorf("stopped host: %+v", r)
	}
	h.must("start")
	r = decode(h, 0)
	if !r.Running || r.State != "running" || r.Guest != h.guestPID() || r.Manager == 0 ||
		!r.Bridge.Exists || r.Bridge.Tap != "tap0" || r.Devices[0].Driver != "ppt0" || !r.Devices[0].Present {
		t.Errorf("running host: %+v", r)
	}
}

// TestVersion: the version and the SHA-256 of each guest image, named.
func TestVersion(t *testing.T) {
	h := newHost(t)
	out := h.must("version")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "wifibox version ") {
		t.Fatalf("version printed %q", out)
	}
	// pkg(8) must see an upgrade from the shell implementation's 0.17.
	if v := strings.TrimPrefix(lines[0], "wifibox version "); !versionAfter(v, "0.17") {
		t.Errorf("version %s does not sort after the shell implementation's 0.17", v)
	}
	for i, image := range []string{"esp.img", "root.img"} {
		data, err := os.ReadFile(filepath.Join(h.dir, "usr/local/share/wifibox", image))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Disk image checksum (%s): %x", image, sha256.Sum256(data))
		if lines[i+1] != want {
			t.Errorf("got %q, want %q", lines[i+1], want)
		}
	}
}

// TestVersionImageMissing: with a guest image missing, version still
// prints the version and the other image's checksum, names the missing
// one with the fix, and exits 4, a guest image missing.
func TestVersionImageMissing(t *testing.T) {
	h := newHost(t)
	image := filepath.Join(h.dir, "usr/local/share/wifibox/root.img")
	if err := os.Remove(image); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := h.run("version")
	if code != 4 || !strings.HasPrefix(out, "wifibox version ") || !strings.Contains(out, "(esp.img)") || strings.Contains(out, "root.img") ||
		!strings.Contains(errOut, "guest image root.img: open "+image+": no such file or directory") || !strings.Contains(errOut, "pkg install -f wifibox-alpine") {
		t.Errorf("version without root.img: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// versionAfter compares dotted numeric versions the way pkg-version(8)
// does for them: part by part, a missing part as 0.
func versionAfter(v, than string) bool {
	a, b := strings.Split(v, "."), strings.Split(than, ".")
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x > y
		}
	}
	return false
}

// TestCommandLine: usage, extra arguments and unknown targets exit 1 with
// the shell implementation's messages, before anything is done.
func TestCommandLine(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "USAGE: wifibox"},
		{[]string{"bogus"}, "ERROR: unknown command bogus\nusage: wifibox"},
		{[]string{"start", "guest", "vmm"}, "ERROR: Too many parameters\n"},
		{[]string{"stop", "foo"}, "ERROR: Unknown target: foo (supported: guest, netif, vmm)\n"},
		{[]string{"stop", "gust"}, "ERROR: Unknown target: gust (supported: guest, netif, vmm); did you mean guest?\n"},
		{[]string{"status", "now"}, "ERROR: Too many parameters\n"},
		{[]string{"-n", "status"}, "ERROR: -n goes with start, stop, restart, suspend, resume and setup\n"},
	} {
		out, errOut, code := h.run(tc.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.stderr) {
			t.Errorf("wifibox %q: exit %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errOut, tc.stderr)
		}
	}
	if len(h.trace()) != 0 {
		t.Errorf("a refused command made operations: %q", h.trace())
	}
}

// TestResumeRestoresWhatRan: resume restores what ran before the suspend,
// for every recovery method: after stop nothing (exit 0, no operation);
// after stop guest, wifibox0 only, and no guest.
func TestResumeRestoresWhatRan(t *testing.T) {
	for _, method := range []string{"restart_vmm", "suspend_guest", "suspend_vmm", "none"} {
		t.Run(method, func(t *testing.T) {
			h := newHost(t)
			h.config("core.conf", "loglevel=info\nrecovery="+method+"\n")
			h.must("start")
			h.must("stop")
			from := len(h.trace())
			h.must("suspend")
			h.must("resume")
			if got := ops(h.trace(), from); len(got) != 0 {
				t.Errorf("suspend and resume after stop made operations: %q", got)
			}
			if h.guestPID() != 0 {
				t.Error("resume after stop started the guest")
			}
			h.must("start")
			h.must("stop", "guest")
			h.must("suspend")
			h.must("resume")
			if h.guestPID() != 0 {
				t.Error("resume after stop guest started the guest")
			}
			var st struct {
				Bridge struct{ Exists bool } `json:"bridge"`
			}
			out, _, _ := h.run("status", "--json")
			if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Bridge.Exists {
				t.Errorf("%s is gone after resume (%v):\n%s", host.BridgeName, err, out)
			}
		})
	}
}
