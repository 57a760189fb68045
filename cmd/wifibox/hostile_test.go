package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wifibox/wifibox/internal/linktest"
	"github.com/wifibox/wifibox/sim"
)

// TestExpansionBomb: a0=x then aN=$a(N-1)$a(N-1) up to 32 levels in
// core.conf is a configuration error at the reference that passes the
// bound, not a process that runs out of memory: start refuses it (exit
// status 3), status warns of it.
func TestExpansionBomb(t *testing.T) {
	h := newHost(t)
	var b strings.Builder
	b.WriteString("a0=x\n")
	for n := 1; n <= 32; n++ {
		fmt.Fprintf(&b, "a%d=$a%d$a%d\n", n, n-1, n-1)
	}
	h.config("core.conf", b.String())
	const at = "core.conf:21:5: reference to a19 expands the values of this file beyond"
	out, errOut, code := h.run("start")
	if code != 3 || out != "" || !strings.HasPrefix(errOut, "ERROR: "+at) {
		t.Errorf("start: exit %d, stdout %q, stderr %q; want 3 and the error at core.conf:21:5", code, out, errOut)
	}
	out, errOut, code = h.run("status")
	if code != 1 || !notRun.MatchString(out) || !strings.HasPrefix(errOut, "WARNING: "+at) {
		t.Errorf("status: exit %d, stdout %q, stderr %q; want 1 and the warning at core.conf:21:5", code, out, errOut)
	}
}

// TestSocketPathOutside: a socket path of uds_passthru.conf that climbs out
// with ".." is refused at file:line:column: the guest runs without the
// pass-through (as with any unusable uds_passthru.conf), and no socket
// appears where the path leads, outside the simulated host.
func TestSocketPathOutside(t *testing.T) {
	h := newHost(t)
	outside := filepath.Join(t.TempDir(), "x")
	path := "/../../../../../../../../../../.." + outside
	h.config("appliance/uds_passthru.conf", "network=10.0.0.1:255.255.255.0\nsockets=\"path="+path+",user=root,group=0,mode=770,port=1200\"\n")
	h.must("start")
	want := regexp.MustCompile(`ERROR VM manager: no control-socket pass-through: uds_passthru.conf:2:9: ` +
		`sockets entry "path=/\.\./[^"]*": path should be clean, with no "." or ".." component`)
	if !want.MatchString(h.log()) {
		t.Errorf("the log has no %q", want)
	}
	if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v, want none", outside, err)
	}
}

// TestManagerNotAnswering: with the VM manager stopped by SIGSTOP, status
// reports it as not answering, with its PID, after 2 s, and stop gives up
// on it after stop_wait_max plus the kill grace, kills it, and cleans up:
// no manager, no bhyve, no VM is left. The bounds checked are generous
// upper bounds (the machine may be loaded); wifibox(8) gives the exact
// ones.
func TestManagerNotAnswering(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "cpus=1\nmemory=128M\nconsole=yes\npassthru=\"3/0/0\"\nstop_wait_max=2\n")
	h.must("start")
	managerPID, bhyvePID := h.managerPID(), h.guestPID()
	if err := syscall.Kill(managerPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(managerPID, syscall.SIGKILL) // whatever happens
	// SIGSTOP takes effect asynchronously: wait until the manager is
	// stopped (state T in /proc/PID/stat), at most 20 s.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", managerPID))
		if s := string(stat); strings.HasPrefix(s[strings.LastIndex(s, ")")+1:], " T") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VM manager PID %d did not stop: %s", managerPID, stat)
		}
	}

	begin := time.Now()
	out, errOut, code := h.run("status")
	took := time.Since(begin)
	want := fmt.Sprintf("ERROR: The VM manager PID %d is not answering", managerPID)
	if code != 127 || out != "" || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "within 2s") {
		t.Errorf("status: exit %d, stdout %q, stderr %q; want 127 and %q", code, out, errOut, want)
	}
	if took < 2*time.Second || took > 6*time.Second {
		t.Errorf("status took %s, want 2s and a little", took)
	}
	t.Logf("status took %s", took)
	// doctor fails where status does.
	out, _, code = h.run("doctor", "-q")
	if want := fmt.Sprintf("FAIL VM manager: PID %d does not answer on its control socket", managerPID); code == 0 || !strings.Contains(out, want) {
		t.Errorf("doctor: exit %d, stdout %q; want a failure and %q", code, out, want)
	}

	// While stop holds the command lock, another command says whom it
	// waits for.
	var waiter struct {
		out, errOut string
		code        int
	}
	waited := make(chan struct{})
	lock := filepath.Join(h.dir, "var/run/wifibox/wifibox.lock")
	begin = time.Now()
	stop := exec.Command(binary, "-S", h.dir, "stop")
	var stopOut, stopErr strings.Builder
	stop.Stdout, stop.Stderr = &stopOut, &stopErr
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if data, _ := os.ReadFile(lock); strings.HasSuffix(string(data), ", wifibox stop\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stop never took the command lock")
		}
	}
	go func() {
		waiter.out, waiter.errOut, waiter.code = h.run("stop", "guest")
		close(waited)
	}()
	err := stop.Wait()
	took = time.Since(begin)
	out, errOut = stopOut.String(), stopErr.String()
	<-waited
	if want := fmt.Sprintf("Waiting up to 3m0s for another wifibox command (PID %d, wifibox stop) to finish...\n", stop.Process.Pid); waiter.code != 0 || !strings.Contains(waiter.out, want) {
		t.Errorf("stop guest while stop runs: exit %d, stdout %q; want 0 and %q", waiter.code, waiter.out, want)
	}
	want = fmt.Sprintf("WARNING: The VM manager PID %d did not stop the guest in 8s", managerPID)
	if err != nil || !strings.Contains(errOut, want) {
		t.Errorf("stop: %v, stdout %q, stderr %q; want exit 0 and %q", err, out, errOut, want)
	}
	if took > 15*time.Second {
		t.Errorf("stop took %s, want 8s and a little", took)
	}
	t.Logf("stop took %s", took)
	waitGone(t, managerPID)
	waitGone(t, bhyvePID)
	if pid := h.guestPID(); pid != 0 {
		t.Errorf("status names PID %d after stop", pid)
	}
	sh, err := sim.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, h, sh, 0, true, true)
}

// TestGuestLogUntrusted: `wifibox log guest` prints no ESC byte of what the
// guest wrote into its log, and does not follow a link the guest planted
// in the log's place.
func TestGuestLogUntrusted(t *testing.T) {
	h := newHost(t)
	h.must("start")
	messages := filepath.Join(h.dir, "var/run/wifibox/appliance/log/messages")
	if err := os.WriteFile(messages, []byte("\x1b]0;pwned\x07\x1b[2J\x1b[31mred\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := h.must("log", "guest")
	if strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `\x1b[31mred`) {
		t.Errorf("log guest printed %q", out)
	}
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(messages); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, messages); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := h.run("log", "guest")
	if code != 127 || strings.Contains(out, "secret") || !strings.Contains(errOut, "symbolic link") {
		t.Errorf("log guest through a link: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestRunFilesLinks: a link planted in the run directory at the pid file,
// the command lock or the console lock, dangling or to an existing file,
// is not followed: start fails naming it, and the target is neither
// created nor written.
func TestRunFilesLinks(t *testing.T) {
	h := newHost(t)
	run := filepath.Join(h.dir, "var/run/wifibox")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"manager.pid", "wifibox.lock"} {
		path := filepath.Join(run, name)
		os.Remove(path) // left by the command before
		linktest.Check(t, path, func(existing bool) {
			out, errOut, code := h.run("start")
			if code != 127 || !strings.Contains(errOut, path) || !strings.Contains(errOut, "symbolic link") {
				t.Errorf("start with a link at %s (target exists: %v): exit %d, stdout %q, stderr %q", name, existing, code, out, errOut)
			}
		})
	}
	// Without the links, the same host starts.
	h.must("start")
}

// TestUnsafeRunDir: a run directory others can write into is refused with
// the command that fixes it.
func TestUnsafeRunDir(t *testing.T) {
	h := newHost(t)
	run := filepath.Join(h.dir, "var/run/wifibox")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o777); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := h.run("start")
	if want := "fix it with: chmod go-w " + run; code != 127 || !strings.Contains(errOut, want) {
		t.Errorf("start in a world-writable run directory: exit %d, stdout %q, stderr %q; want 127 and %q", code, out, errOut, want)
	}
}

// TestApplianceLinks: the guest controls the run directory's appliance/.
// A dangling link it left at appliance/log, which made every later start
// fail with "file exists", is replaced by start, which names it; a link
// there to a host directory holding a messages file does not make `log
// guest` print that file.
func TestApplianceLinks(t *testing.T) {
	h := newHost(t)
	appliance := filepath.Join(h.dir, "var/run/wifibox/appliance")
	if err := os.MkdirAll(appliance, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(appliance, "log")
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/log", link); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := h.run("start")
	if code != 0 || !strings.Contains(out+errOut, link+" was a symbolic link") {
		t.Errorf("start over a dangling appliance/log: exit %d, stdout %q, stderr %q; want 0 and the link named", code, out, errOut)
	}
	h.must("stop")
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "messages"), []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(hostDir, link); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = h.run("log", "guest")
	if code != 127 || strings.Contains(out, "secret") || !strings.Contains(errOut, link+": ") || !strings.Contains(errOut, "symbolic link") {
		t.Errorf("log guest through appliance/log -> %s: exit %d, stdout %q, stderr %q", hostDir, code, out, errOut)
	}
}
