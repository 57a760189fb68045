package launch_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	. "github.com/wifibox/wifibox/launch"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
	"github.com/wifibox/wifibox/sys"
)

// testHost is a simulated host with tap0 and tap1, as the kernel model
// sees them.
type testHost struct {
	dir string
	k   *sim.Kernel
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	dir, k := simtest.New(t)
	n, err := ifnet.New(k)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := n.CreateInterface("tap"); err != nil {
			t.Fatal(err)
		}
	}
	return &testHost{dir: dir, k: k}
}

// openTap opens /dev/TAP as bhyve does, from another process's view of
// the kernel: its link comes up. The returned func closes it.
func (h *testHost) openTap(t *testing.T, tap string) func() {
	t.Helper()
	k, err := sim.NewKernel(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := k.Open("/dev/"+tap, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := k.Close(fd); err != nil {
			t.Error(err)
		}
	}
}

// noRoutes is a kernel whose routing socket cannot be opened.
type noRoutes struct{ sys.Sys }

func (noRoutes) Socket(int, int, int) (int, error) { return -1, abi.ENOMEM }

// testLauncher gives a Launcher over the host's kernel.
func testLauncher(h *testHost) *Launcher { return &Launcher{Sys: h.k} }

// shell gives the argv of a fake bhyve running script. sh takes the
// script as the argument of -c, as bhyve takes -c's CPU count, so the
// options after it reach the script's $0, $1... and are read as bhyve's.
func shell(script string, bhyveArgs ...string) []string {
	return append([]string{"/bin/sh", "-c", script}, bhyveArgs...)
}

func launch(t *testing.T, l *Launcher, spec host.LaunchSpec) host.Guest {
	t.Helper()
	g, err := l.Launch(spec)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func wait(t *testing.T, g host.Guest) host.ExitStatus {
	t.Helper()
	st, err := g.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestExitCodeAndOutput(t *testing.T) {
	var out bytes.Buffer
	g := launch(t, testLauncher(newTestHost(t)), host.LaunchSpec{
		Argv:   shell("echo out; echo err >&2; exit 3"),
		Output: &out,
	})
	if st := wait(t, g); st != (host.ExitStatus{Code: 3}) {
		t.Errorf("Wait = %v, want exit status 3", st)
	}
	want := "wifibox: bhyve's command line names no tap, so its readiness cannot be seen; bhyve counts as ready once started\nout\nerr\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if !isClosed(g.Ready()) {
		t.Error("without a tap, Ready is not closed once bhyve has started")
	}
}

// running launches a fake bhyve that waits to be signalled, with tap0 in
// its command line, and the watch of tap0 on the model's routing socket.
func running(t *testing.T, nice int) (host.Guest, *testHost, *Launcher) {
	h := newTestHost(t)
	l := testLauncher(h)
	g := launch(t, l, host.LaunchSpec{
		Argv: shell("exec sleep 600", "-s", "5:0,e1000,tap0", "wifibox"),
		Nice: nice,
	})
	t.Cleanup(func() { l.Signal(g.Pid(), syscall.SIGKILL); g.Wait() })
	return g, h, l
}

func TestReadyAndSignal(t *testing.T) {
	g, h, l := running(t, 0)
	h.openTap(t, "tap1") // another tap's link comes up
	if isClosed(g.Ready()) {
		t.Fatal("Ready closed before tap0's link came up")
	}
	defer h.openTap(t, "tap0")()
	<-g.Ready()
	if err := l.Signal(g.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, g); st != (host.ExitStatus{Signal: syscall.SIGTERM}) {
		t.Errorf("Wait = %v, want killed by SIGTERM", st)
	}
}

func TestExitBeforeReady(t *testing.T) {
	g := launch(t, testLauncher(newTestHost(t)), host.LaunchSpec{
		Argv: shell("exit 4", "-s", "5:0,e1000,tap0", "wifibox"),
	})
	if st := wait(t, g); st != (host.ExitStatus{Code: 4}) {
		t.Errorf("Wait = %v, want exit status 4", st)
	}
	if isClosed(g.Ready()) {
		t.Error("Ready closed though bhyve exited before its tap came up")
	}
}

func TestProcessGroupAndNice(t *testing.T) {
	g, _, _ := running(t, 7)
	pgid, err := unix.Getpgid(g.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != g.Pid() {
		t.Errorf("process group %d, want its own (%d)", pgid, g.Pid())
	}
	if own := unix.Getpgrp(); pgid == own {
		t.Errorf("bhyve runs in the test's process group %d", own)
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(g.Pid()), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	// Field 19 is the nice value; the fields from the 3rd follow the
	// command name's closing parenthesis.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if fields[19-3] != "7" {
		t.Errorf("nice value %s, want 7 (stat %q)", fields[19-3], stat)
	}
}

func TestFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *Launcher
		argv []string
		want string
	}{
		{"unknown tap", testLauncher(newTestHost(t)), shell("exit 0", "-s", "5:0,e1000,tap9", "vm"),
			"wifibox: find interface tap9 to watch for bhyve's readiness: no such interface; bhyve counts as ready once started\n"},
		{"no routing socket", &Launcher{Sys: noRoutes{newTestHost(t).k}}, shell("exit 0", "-s", "5:0,e1000,tap0", "vm"),
			"wifibox: open a routing socket to watch tap0 for bhyve's readiness: socket(PF_ROUTE, SOCK_RAW): Cannot allocate memory; bhyve counts as ready once started\n"},
	} {
		var out bytes.Buffer
		g := launch(t, tc.l, host.LaunchSpec{Argv: tc.argv, Output: &out})
		<-g.Ready()
		if st := wait(t, g); st != (host.ExitStatus{}) {
			t.Errorf("%s: Wait = %v, want exit status 0", tc.name, st)
		}
		if out.String() != tc.want {
			t.Errorf("%s: output %q, want %q", tc.name, out.String(), tc.want)
		}
	}
}

func TestNoOutput(t *testing.T) {
	g := launch(t, testLauncher(newTestHost(t)), host.LaunchSpec{Argv: shell("echo lost; exit 2")})
	<-g.Ready()
	if st := wait(t, g); st != (host.ExitStatus{Code: 2}) {
		t.Errorf("Wait = %v, want exit status 2", st)
	}
}

func TestLaunchFails(t *testing.T) {
	_, err := testLauncher(newTestHost(t)).Launch(host.LaunchSpec{Argv: []string{"/nonexistent/bhyve", "-s", "5:0,e1000,tap0", "vm"}})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "launch bhyve: start /nonexistent/bhyve: ") {
		t.Errorf("Launch = %v, want an error naming the program, wrapping ENOENT", err)
	}
	if _, err := testLauncher(newTestHost(t)).Launch(host.LaunchSpec{}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Launch without a command line = %v, want EINVAL", err)
	}
}

func TestSignalFails(t *testing.T) {
	// No process has the largest pid a 32-bit pid_t allows.
	err := (&Launcher{}).Signal(1<<31-1, syscall.SIGTERM)
	want := "send signal 15 (terminated) to process 2147483647: kill: "
	if !errors.Is(err, unix.ESRCH) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Signal = %v, want %q wrapping ESRCH", err, want)
	}
}

// fakeBhyve writes a script that answers `-s help` as told.
func fakeBhyve(t *testing.T, script string) string {
	path := filepath.Join(t.TempDir(), "bhyve")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEmulations(t *testing.T) {
	// What bhyve of FreeBSD 14 on amd64 prints: one name a line.
	list := []string{
		"ahci", "ahci-cd", "ahci-hd", "amd_hostbridge", "e1000", "fbuf", "hda",
		"hostbridge", "lpc", "nvme", "passthru", "uart", "virtio-9p", "virtio-blk",
		"virtio-console", "virtio-input", "virtio-net", "virtio-rnd", "virtio-scsi", "xhci",
	}
	program := fakeBhyve(t, `[ "$#:$1:$2" = "2:-s:help" ] || exit 64
printf '%s\n' `+strings.Join(list, " ")+"\n")
	got, err := (&Launcher{}).Emulations(program)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, got); diff != "" {
		t.Errorf("Emulations (-want +got):\n%s", diff)
	}
}

func TestEmulationsFail(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"failing", "echo 'bhyve: vm_create: Operation not permitted' >&2; exit 4",
			"-s help: exit status 4 (it said: bhyve: vm_create: Operation not permitted)"},
		{"silent", "exit 0", "-s help printed none; is it bhyve?"},
	} {
		program := fakeBhyve(t, tc.script)
		_, err := (&Launcher{}).Emulations(program)
		want := "list the device emulations of " + program + ": " + program + " " + tc.want
		if err == nil || err.Error() != want {
			t.Errorf("%s: Emulations = %v, want %q", tc.name, err, want)
		}
	}
	_, err := (&Launcher{}).Emulations("/nonexistent/bhyve")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Emulations of a missing program = %v, want ENOENT", err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
