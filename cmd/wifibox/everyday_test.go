package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHelpCommand: help, -h and --help exit 0 with the usage on stdout; a
// typo names itself and the command meant, exit 1.
func TestHelpCommand(t *testing.T) {
	h := newHost(t)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, errOut, code := h.run(args...)
		if code != 0 || !strings.HasPrefix(out, "USAGE: wifibox") || errOut != "" {
			t.Errorf("wifibox %q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	out, errOut, code := h.run("statsu")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ERROR: unknown command statsu; did you mean status?\n") {
		t.Errorf("statsu: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = h.run("status", "--v")
	if code != 1 || out != "" || errOut != "ERROR: unknown option --v; did you mean -v?\nusage: wifibox status [-v|--json]\n" {
		t.Errorf("status --v: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestNotRoot: run as nobody, a command that changes the host says that
// wifibox must run as root, with the environment's exit status; nothing
// is changed and no path is repeated.
func TestNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a command as nobody needs root")
	}
	h := newHost(t)
	for _, args := range [][]string{{"start"}, {"-S", "", "start"}} {
		_, errOut, code := h.asNobody(args...)
		if code != 127 || !strings.Contains(errOut, "wifibox must run as root") {
			t.Errorf("wifibox %q as nobody: exit %d, stderr %q", args, code, errOut)
		}
		lock := filepath.Join(h.dir, "var/run/wifibox/wifibox.lock")
		if strings.Count(errOut, lock) > 1 {
			t.Errorf("the error repeats the path: %q", errOut)
		}
	}
	if len(h.trace()) != 0 {
		t.Errorf("a refused command made operations: %q", h.trace())
	}
}

// asNobody runs wifibox on the host as uid 65534 and gives its output and
// exit status. The simulated host is root's; nobody may read it, as a user
// may read a FreeBSD system's files.
func (h *simHost) asNobody(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	for _, dir := range []string{h.dir, filepath.Dir(binary)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			h.t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, append([]string{"-S", h.dir}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestStatusAnyUser: while the guest runs, any user sees its status
// through the VM manager's status socket (status, --json, wait), and
// cannot stop it: neither with stop nor by sending stop to that socket.
func TestStatusAnyUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a command as nobody needs root")
	}
	h := newHost(t)
	h.must("start")
	pid := h.guestPID()
	out, errOut, code := h.asNobody("status")
	if want := fmt.Sprintf("wifibox is run as PID %d.\n", pid); code != 0 || out != want || errOut != "" {
		t.Errorf("status as nobody: exit %d, %q, stderr %q; want %q", code, out, errOut, want)
	}
	out, errOut, code = h.asNobody("status", "-v")
	if code != 0 || !strings.Contains(out, "Stage:       ") || strings.Contains(out, "Problem:") || errOut != "" {
		t.Errorf("status -v as nobody: exit %d, stderr %q\n%s", code, errOut, out)
	}
	out, _, code = h.asNobody("status", "--json")
	var r struct {
		Running bool   `json:"running"`
		Stage   string `json:"stage"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Running || r.Stage == "failed" {
		t.Errorf("status --json as nobody: exit %d, %v, %+v", code, err, r)
	}
	if _, errOut, code := h.asNobody("wait", "running", "-t", "0"); code != 0 {
		t.Errorf("wait as nobody: exit %d, %s", code, errOut)
	}
	_, errOut, code = h.asNobody("stop")
	if code == 0 || !strings.Contains(errOut, "wifibox must run as root") {
		t.Errorf("stop as nobody: exit %d, %q", code, errOut)
	}
	// The status socket refuses what it does not answer.
	sock := filepath.Join(h.dir, "var/run/wifibox/status.sock")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("status socket: %v, %v", fi, err)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "stop\n")
	answer, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(answer, "error ") {
		t.Errorf("stop on the status socket: %q", answer)
	}
	if h.guestPID() != pid || !alive(pid) {
		t.Errorf("the guest PID %d stopped", pid)
	}
}

// TestLogLines: -n N prints the last N lines.
func TestLogLines(t *testing.T) {
	h := newHost(t)
	h.must("start")
	out := h.must("log", "-n", "3")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	all := strings.Split(strings.TrimSuffix(h.log(), "\n"), "\n")
	if len(lines) != 3 || strings.Join(lines, "\n") != strings.Join(all[len(all)-3:], "\n") {
		t.Errorf("log -n 3 printed %q, want the last 3 of\n%s", out, h.log())
	}
}

// TestDoctorJSON: doctor --json parses; -q prints only the problems.
func TestDoctorJSON(t *testing.T) {
	h := newHost(t)
	out, _, code := h.run("doctor", "--json")
	var r struct {
		Fit      bool `json:"fit"`
		Findings []struct {
			Status string `json:"status"`
			Check  string `json:"check"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Fit || len(r.Findings) < 10 {
		t.Errorf("doctor --json: exit %d, %v, %+v\n%s", code, err, r, out)
	}
	out, _, _ = h.run("doctor", "-q")
	if strings.Contains(out, "OK ") || !strings.Contains(out, "WARN ") {
		t.Errorf("doctor -q printed\n%s", out)
	}
}

// TestProgress: a command waiting for another says so with the other's
// PID; stop says how long the guest has to power off.
func TestProgress(t *testing.T) {
	h := newHost(t)
	dir := filepath.Join(h.dir, "var/run/wifibox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "wifibox.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	lock.WriteString("PID " + strconv.Itoa(os.Getpid()) + ", wifibox stop\n")
	cmd := exec.Command(binary, "-S", h.dir, "start")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if want := "Waiting up to 3m0s for another wifibox command (PID " + strconv.Itoa(os.Getpid()) + ", wifibox stop) to finish...\n"; line != want {
		t.Errorf("the waiting start printed %q, want %q", line, want)
	}
	unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if out := h.must("stop"); !strings.Contains(out, " waiting up to 10 s for the guest to power off...") {
		t.Errorf("stop printed %q", out)
	}
}

// TestStartWarnings: an empty passthru and a broken app_config start,
// with a warning each on the terminal.
func TestStartWarnings(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "passthru=\n")
	link := filepath.Join(h.dir, "usr/local/etc/wifibox/app_config")
	os.Remove(link)
	if err := os.Symlink(filepath.Join(h.dir, "gone"), link); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := h.run("start")
	if code != 0 || !strings.Contains(errOut, "WARNING: No passthru device is configured") ||
		!strings.Contains(errOut, "WARNING: app_config is broken, the guest gets no Wi-Fi configuration") {
		t.Errorf("start: exit %d, stderr %q", code, errOut)
	}
}

// TestLogLevels: none shows nothing, not even errors, and logs nothing;
// info logs the ppt binding; debug the bhyve command line, the kernel's
// answers and the configuration as read.
func TestLogLevels(t *testing.T) {
	h := newHost(t)
	h.config("core.conf", "loglevel=none\n")
	h.fault("pci_device_missing", "yes")
	if _, errOut, code := h.run("start"); code == 0 || errOut != "" || h.log() != "" {
		t.Errorf("start at none: exit %d, stderr %q, log %q", code, errOut, h.log())
	}
	h.fault("pci_device_missing", "no")
	h.config("core.conf", "loglevel=info\n")
	h.must("start")
	h.must("stop")
	for _, want := range []string{"INFO  PPT driver is configured for pci0:3:0:0", "INFO  pci0:3:0:0 is released from its driver",
		"INFO  VM wifibox is created", "INFO  Interface wifibox0 is destroyed"} {
		if !strings.Contains(h.log(), want) {
			t.Errorf("the info log lacks %q", want)
		}
	}
	if strings.Contains(h.log(), "DEBUG") || strings.Contains(h.log(), "-AHPSuw") {
		t.Error("the info log has debug lines")
	}
	h.config("core.conf", "loglevel=debug\n")
	h.must("start")
	for _, want := range []string{"DEBUG VM manager: bhyve command line: ", "-AHPSuw", "DEBUG Kernel: devctl_set_driver pci0:3:0:0 ppt -> ok",
		"DEBUG Configuration as read: ", "loglevel=debug", "stop_wait_max=10"} {
		if !strings.Contains(h.log(), want) {
			t.Errorf("the debug log lacks %q", want)
		}
	}
}

// TestStatusJSONSchema: every field is present whatever runs, lists are []
// when empty (devices with a broken bhyve.conf), unknown times null.
func TestStatusJSONSchema(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "cpus=x\n")
	out, _, code := h.run("status", "--json")
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	for _, key := range []string{"running", "uptime_seconds", "manager_pid", "guest_pid", "state", "since", "guest_since",
		"restarts", "last_exit", "tap", "passthru", "stop_wait_seconds", "relays", "bridge", "devices", "errors"} {
		if _, ok := r[key]; !ok {
			t.Errorf("status --json lacks %s:\n%s", key, out)
		}
	}
	for _, key := range []string{"devices", "passthru", "relays"} {
		if list, ok := r[key].([]any); !ok || len(list) != 0 {
			t.Errorf("%s = %#v, want []", key, r[key])
		}
	}
	if r["since"] != nil || r["guest_since"] != nil {
		t.Errorf("since %v, guest_since %v; want null with no manager", r["since"], r["guest_since"])
	}
	if errs, _ := r["errors"].([]any); len(errs) != 1 {
		t.Errorf("errors = %v, want the broken bhyve.conf", r["errors"])
	}
	h.config("bhyve.conf", "passthru=3/0/0\nstop_wait_max=7\n")
	h.must("start")
	out, _, _ = h.run("status", "--json")
	r = nil
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r["since"] == nil || r["guest_since"] == nil || r["stop_wait_seconds"] != 7.0 || r["tap"] != "tap0" {
		t.Errorf("running: since %v, guest_since %v, stop_wait_seconds %v, tap %v", r["since"], r["guest_since"], r["stop_wait_seconds"], r["tap"])
	}
}
