package manager

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
)

// TestMain lets the test binary be the simulated bhyve the simulated
// host's Launcher starts.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sim.BhyveCommand {
		os.Exit(sim.BhyveMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// testClock keeps real time for the timers below a second (runningGrace)
// and gives the test the longer ones (the backoff, the stop's deadlines,
// the ready timeout) to fire by hand: fire moves the clock on by the
// timer's duration.
type testClock struct {
	mu      sync.Mutex
	changed *sync.Cond
	offset  time.Duration
	pending []*manualTimer
}

type manualTimer struct {
	d time.Duration
	c chan time.Time
}

func newTestClock() *testClock {
	c := &testClock{}
	c.changed = sync.NewCond(&c.mu)
	return c
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	if d < time.Second {
		return realClock{}.NewTimer(d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{d: d, c: make(chan time.Time, 1)}
	c.pending = append(c.pending, t)
	c.changed.Broadcast()
	return t.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, p := range c.pending {
			if p == t {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
	}
}

// fire waits until a long timer of duration d is armed, and fires it.
func (c *testClock) fire(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, p := range c.pending {
			if p.d == d {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				c.offset += d
				p.c <- time.Now().Add(c.offset)
				return
			}
		}
		c.changed.Wait()
	}
}

// guestHost is a simulated host ready for a guest: vmm, if_bridge and
// nmdm loaded, wifibox0 with its tap, and the guest's log directory.
func guestHost(t *testing.T, faults ...string) (string, *host.Host) {
	t.Helper()
	dir, h := simtest.Host(t, faults...)
	for _, m := range []string{"vmm", "if_bridge", "nmdm"} {
		if err := h.Kernel.Load(filepath.Join(dir, "boot/kernel", m+".ko")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ifnet.NewNetif(h.Net, h.Paths).Setup(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.Paths.RunAppliance(), "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// inProcess is a VM manager run in the test's process.
type inProcess struct {
	dir    string
	h      *host.Host
	clock  *testClock
	log    *syncWriter
	report *bufio.Reader
	done   chan struct{} // closed when the manager has returned code
	code   int
}

// startManager runs the VM manager on h, as `wifibox start` does, and
// gives what it reported.
func startManager(t *testing.T, dir string, h *host.Host) (*inProcess, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	log := logrus.New()
	buf := &syncWriter{}
	log.SetOutput(buf)
	p := &inProcess{dir: dir, h: h, clock: newTestClock(), log: buf, report: bufio.NewReader(r), done: make(chan struct{})}
	go func() {
		p.code = mainWith(p.clock, h, log, w, 0)
		close(p.done)
	}()
	line, _ := p.report.ReadString('\n')
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			Stop(h.Paths.RunDir, time.Millisecond, time.Minute)
			<-p.done
		}
	})
	return p, strings.TrimSpace(line)
}

// syncWriter keeps the log, written and read from several goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor follows the manager's pushed statuses until one satisfies ok.
func (p *inProcess) waitFor(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	conn, err := dial(p.h.Paths.RunDir, "wait", time.Now().Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatalf("wait for %s: %v", what, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	io.WriteString(conn, "wait\n")
	lines := bufio.NewScanner(conn)
	var s Status
	for lines.Scan() {
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if ok(s) {
			return s
		}
	}
	t.Fatalf("the manager ended before %s (last status %+v)", what, s)
	return s
}

func (p *inProcess) trace(t *testing.T) []string {
	t.Helper()
	lines, err := sim.ReadTrace(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// ops are the operations of trace lines from index from, without their
// arguments for exec and signal.
func ops(lines []string, from int) []string {
	var out []string
	for _, l := range lines[from:] {
		switch {
		case strings.HasPrefix(l, "exec "):
			l = "exec"
		case strings.HasPrefix(l, "signal "):
			f := strings.Fields(l)
			l = "signal " + f[len(f)-1]
		}
		out = append(out, l)
	}
	return out
}

// TestCrashesRecover: each kill -9 of bhyve is a crash: the VM, which the
// kernel cannot reinitialise then, is destroyed before the next exec, and
// the guest runs again after the backoff; ten kills give ten recoveries.
// A reboot keeps the VM and the card. A stop powers the guest off and
// releases everything.
func TestCrashesRecover(t *testing.T) {
	dir, h := guestHost(t)
	p, report := startManager(t, dir, h)
	if !strings.HasPrefix(report, "ready ") {
		t.Fatalf("report %q, want ready PID", report)
	}
	st, err := Query(h.Paths.RunDir, true)
	if err != nil || !st.Stage.Reached(StageRunning) || st.GuestPID == 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
	backoff := firstBackoff
	for i := range 10 {
		from := len(p.trace(t))
		pid := st.GuestPID
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, "restarting", func(s Status) bool { return s.Stage == StageRestarting })
		p.clock.fire(t, backoff)
		backoff = min(2*backoff, maxBackoff)
		st, err = Wait(h.Paths.RunDir, StageRunning, time.Minute)
		if err != nil || st.GuestPID == pid {
			t.Fatalf("kill %d: wait running: %+v, %v", i+1, st, err)
		}
		got := ops(p.trace(t), from)
		destroy, exec := -1, -1
		for j, op := range got {
			if op == "vm_destroy wifibox" && destroy < 0 {
				destroy = j
			}
			if op == "exec" && exec < 0 {
				exec = j
			}
		}
		if destroy < 0 || exec < destroy {
			t.Fatalf("kill %d: the VM is not destroyed before the next exec: %q", i+1, got)
		}
		if st.Restarts != i+1 {
			t.Errorf("kill %d: restarts %d", i+1, st.Restarts)
		}
	}
	if !strings.Contains(p.log.String(), "guest crashed, killed by signal 9 (killed)") {
		t.Error("the crash is not logged with its signal")
	}

	// A reboot keeps the VM and the card.
	from := len(p.trace(t))
	pid := st.GuestPID
	if err := h.VMs.SuspendVM("wifibox", host.SuspendReset); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "restarting", func(s Status) bool { return s.Stage == StageRestarting })
	p.clock.fire(t, backoff)
	p.waitFor(t, "running", func(s Status) bool { return s.Stage.Reached(StageRunning) && s.GuestPID != pid })
	for _, op := range ops(p.trace(t), from) {
		if strings.HasPrefix(op, "vm_destroy") || strings.HasPrefix(op, "devctl_clear_driver") {
			t.Errorf("a reboot did %q", op)
		}
	}

	// A stop powers the guest off and releases the VM and the card.
	from = len(p.trace(t))
	if err := Stop(h.Paths.RunDir, 0, StopWait(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := Wait(h.Paths.RunDir, StageWifi, time.Minute); err != ErrGone && !strings.Contains(fmt.Sprint(err), "connect") {
		t.Errorf("wait after the stop: %v, want the manager gone", err)
	}
	if <-p.done; p.code != 0 {
		t.Errorf("the manager exited %d", p.code)
	}
	got := ops(p.trace(t), from)
	want := []string{"signal SIGTERM", "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stop did %q, want %q", got, want)
	}
	if pid, _, err := Running(h.Paths.RunDir); pid != 0 || err != nil {
		t.Errorf("after the stop, Running = %d, %v", pid, err)
	}
}

// TestStopForcesOff: a guest that ignores the power button is forced off
// when the grace period is over.
func TestStopForcesOff(t *testing.T) {
	dir, h := guestHost(t, "ignore_power_button=yes")
	p, report := startManager(t, dir, h)
	if !strings.HasPrefix(report, "ready ") {
		t.Fatalf("report %q, want ready PID", report)
	}
	st, err := Query(h.Paths.RunDir, false)
	if err != nil {
		t.Fatal(err)
	}
	from := len(p.trace(t))
	stopped := make(chan error, 1)
	go func() { stopped <- Stop(h.Paths.RunDir, 0, time.Minute) }()
	p.clock.fire(t, time.Duration(st.StopWait)*time.Second) // bhyve.conf's stop_wait_max
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	<-p.done
	got := ops(p.trace(t), from)
	want := []string{"signal SIGTERM", "vm_suspend wifibox poweroff", "vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stop did %q, want %q", got, want)
	}
	if !strings.Contains(p.log.String(), "forcing power-off") {
		t.Error("the forced power-off is not logged")
	}
}

// TestStopWhileBackingOff: a stop while the guest waits to restart ends
// the wait at once and releases the card; the VM went at the crash.
func TestStopWhileBackingOff(t *testing.T) {
	dir, h := guestHost(t)
	p, _ := startManager(t, dir, h)
	st, err := Query(h.Paths.RunDir, false)
	if err != nil {
		t.Fatal(err)
	}
	from := len(p.trace(t))
	if err := syscall.Kill(st.GuestPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "restarting", func(s Status) bool { return s.Stage == StageRestarting })
	if err := Stop(h.Paths.RunDir, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	<-p.done
	got := ops(p.trace(t), from)
	want := []string{"vm_destroy wifibox", "devctl_clear_driver pci0:3:0:0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("did %q, want %q", got, want)
	}
	if !strings.Contains(p.log.String(), "stop requested while waiting to restart") {
		t.Error("the stop during the backoff is not logged")
	}
}

// TestStartFails: a bhyve that exits during its device setup fails the
// start, with its last lines; everything is undone.
func TestStartFails(t *testing.T) {
	dir, h := guestHost(t, "passthru_rejected=yes")
	p, report := startManager(t, dir, h)
	if !strings.HasPrefix(report, "error 4 bhyve exited before the guest ran: exit status 4 (error); bhyve said:") ||
		!strings.Contains(report, "Device busy") {
		t.Errorf("report %q", report)
	}
	<-p.done
	if exists, err := h.VMs.VMExists("wifibox"); exists || err != nil {
		t.Errorf("VM left after a failed start: %v, %v", exists, err)
	}
}

// TestWifiFollowed: with the control socket relayed, the manager follows
// the guest up to the stage wifi and tells the Wi-Fi; status wifi asks
// the daemon first.
func TestWifiFollowed(t *testing.T) {
	dir, h := guestHost(t, "wifi_after_ms=50")
	// A port of this process's own: other tests' guests listen too.
	conf := fmt.Sprintf("network=127.0.0.1:255.0.0.0\nsockets=\"path=/var/run/wpa_supplicant/wlan0,user=root,group=0,mode=770,port=%d\"\n", 20000+os.Getpid()%20000)
	if err := os.WriteFile(h.Paths.UDSPassthruConf(), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, report := startManager(t, dir, h)
	if !strings.HasPrefix(report, "ready ") {
		t.Fatalf("report %q", report)
	}
	st, err := Wait(h.Paths.RunDir, StageWifi, time.Minute)
	if err != nil || st.Wifi == nil || st.Wifi.State != "COMPLETED" {
		t.Fatalf("wait wifi: %+v, %v", st, err)
	}
	if st, err := Query(h.Paths.RunDir, true); err != nil || st.Wifi == nil {
		t.Errorf("status wifi: %+v, %v", st, err)
	}
	if g := Leftover(h.Paths.RunDir); g != st.GuestPID {
		t.Errorf("Leftover = %d, want the running bhyve %d", g, st.GuestPID)
	}
	gone := make(chan error, 1)
	go func() { gone <- WaitGone(h.Paths.RunDir, time.Minute) }()
	if err := Stop(h.Paths.RunDir, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := <-gone; err != nil {
		t.Errorf("WaitGone: %v", err)
	}
	<-p.done
	if s, err := ReadLastStop(h.Paths.RunDir); err != nil || s == nil || s.Manner != PoweredOff {
		t.Errorf("last stop: %+v, %v", s, err)
	}
}
