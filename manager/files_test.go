package manager

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/linktest"
)

// TestClaim: the pid file names the manager and is locked by it; a second
// claim is refused with the holder's PID; release removes it.
func TestClaim(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	files, err := claim(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, host.ManagerPIDFile))
	if err != nil || string(data) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("pid file: %q, %v", data, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the run directory holds %v, want the pid file only", entries)
	}
	files.release()
	if _, err := os.Lstat(filepath.Join(dir, host.ManagerPIDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after release: %v", err)
	}
}

// TestClaimStale: a pid file no process holds, even an empty one, is left
// by a manager that died: claim replaces it.
func TestClaimStale(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, host.ManagerPIDFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := claim(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.release()
	data, err := os.ReadFile(filepath.Join(dir, host.ManagerPIDFile))
	if err != nil || string(data) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("pid file: %q, %v", data, err)
	}
}

// TestClaimFullDisk: when the pid cannot be written (RLIMIT_FSIZE 0 makes
// the write fail with EFBIG, as a full disk fails it with ENOSPC), no pid
// file is left: not an empty one that later reads as a manager that died.
func TestClaimFullDisk(t *testing.T) {
	dir := t.TempDir()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limited := old
	limited.Cur = 0
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &limited); err != nil {
		t.Fatal(err)
	}
	_, err := claim(dir)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("claim with no room: %v, want EFBIG", err)
	}
	if strings.Count(err.Error(), dir) != 1 {
		t.Errorf("the error names the path more than once: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed claim left %v", entries)
	}
	if pid, stale, err := Running(dir); pid != 0 || stale || err != nil {
		t.Errorf("Running after a failed claim: %d, %v, %v; want no manager, nothing stale", pid, stale, err)
	}
}

// TestClaimRefusesLinks: a link planted at the pid file's path, dangling or
// to an existing file, is not followed: claim fails and the target is
// neither created nor changed.
func TestClaimRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	linktest.Check(t, filepath.Join(dir, host.ManagerPIDFile), func(existing bool) {
		files, err := claim(dir)
		if err == nil {
			files.release()
			t.Errorf("claim through a link (target exists: %v) succeeded", existing)
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("claim through a link (target exists: %v): %v", existing, err)
		}
	})
}

// claimHelper is set in the environment of the helper process of
// TestRunningOnlyOncePublished, to the run directory it claims.
const claimHelper = "WIFIBOX_TEST_CLAIM_DIR"

// TestClaimHelper is the helper process: it claims the pid file, says so,
// publishes it when told, says so, and waits for its input to close. It
// does nothing in a normal run.
func TestClaimHelper(t *testing.T) {
	dir := os.Getenv(claimHelper)
	if dir == "" {
		return
	}
	in := bufio.NewReader(os.Stdin)
	files, err := claim(dir)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("claimed")
	in.ReadString('\n')
	if err := files.publish(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("published")
	in.ReadString('\n')
	os.Exit(0)
}

// TestRunningOnlyOncePublished: a manager that has claimed its pid file
// but not yet published it (its control socket does not listen yet) is
// none to the other commands, and not a dead one either; once published
// it is found; once it is gone its pid file is stale.
func TestRunningOnlyOncePublished(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestClaimHelper$")
	cmd.Env = append(os.Environ(), claimHelper+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	expect := func(want string) {
		t.Helper()
		if line, err := out.ReadString('\n'); line != want+"\n" {
			t.Fatalf("helper said %q (%v), want %q", line, err, want)
		}
	}
	check := func(wantPID int, wantStale bool) {
		t.Helper()
		pid, stale, err := Running(dir)
		if pid != wantPID || stale != wantStale || err != nil {
			t.Errorf("Running = %d, %v, %v; want %d, %v", pid, stale, err, wantPID, wantStale)
		}
	}
	expect("claimed")
	check(0, false)
	fmt.Fprintln(stdin, "publish")
	expect("published")
	check(cmd.Process.Pid, false)
	if _, err := claim(dir); err == nil {
		t.Error("a second manager could claim the pid file")
	}
	stdin.Close()
	cmd.Wait()
	check(0, true)
}

// TestNoAnswerRounded: the wait a manager did not answer within is said
// as people read it.
func TestNoAnswerRounded(t *testing.T) {
	for wait, want := range map[time.Duration]string{
		13999599793 * time.Nanosecond: "within 14s",
		2 * time.Second:               "within 2s",
		345678901 * time.Nanosecond:   "within 346ms",
	} {
		err := noAnswer(os.ErrDeadlineExceeded, wait)
		if !errors.Is(err, ErrNoAnswer) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("noAnswer after %s: %v, want ...%s", wait, err, want)
		}
	}
}
