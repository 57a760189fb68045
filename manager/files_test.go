package manager

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

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
	data, err := os.ReadFile(filepath.Join(dir, pidName))
	if err != nil || string(data) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("pid file: %q, %v", data, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the run directory holds %v, want the pid file only", entries)
	}
	files.release()
	if _, err := os.Lstat(filepath.Join(dir, pidName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after release: %v", err)
	}
}

// TestClaimStale: a pid file no process holds, even an empty one, is left
// by a manager that died: claim replaces it.
func TestClaimStale(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, pidName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := claim(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.release()
	data, err := os.ReadFile(filepath.Join(dir, pidName))
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
	linktest.Check(t, filepath.Join(dir, pidName), func(existing bool) {
		files, err := claim(dir)
		if err == nil {
			files.release()
			t.Errorf("claim through a link (target exists: %v) succeeded", existing)
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("claim through a link (target exists: %v): %v", existing, err)
		}
	})
}
