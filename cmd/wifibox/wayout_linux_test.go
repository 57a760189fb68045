package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStopFullVar: with the run directory's file system full, stop stops
// the guest: what the lock says of its holder is only informational. The
// run directory is on a tmpfs of its own, filled up.
func TestStopFullVar(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	h := newHost(t)
	run := filepath.Join(h.dir, "var/run")
	if err := syscall.Mount("tmpfs", run, "tmpfs", 0, "size=64k,mode=0755"); err != nil {
		t.Skipf("mount a tmpfs on %s: %v", run, err)
	}
	t.Cleanup(func() { syscall.Unmount(run, syscall.MNT_DETACH) })
	h.must("start")
	pid := h.guestPID()
	fill, err := os.Create(filepath.Join(run, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	if _, err := fill.Write(make([]byte, 128<<10)); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("filling the run directory's file system: %v", err)
	}
	_, errOut, code := h.run("stop")
	if code != 0 || h.guestPID() != 0 || alive(pid) {
		t.Errorf("stop with /var full: exit %d, %q; guest PID %d alive %v", code, errOut, pid, alive(pid))
	}
}
