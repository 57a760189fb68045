package manager

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// describe gives an action in a few words, for the transition tables;
// logs are left out (their text is not the machine's contract).
func describe(a action) string {
	switch a.kind {
	case actLaunch:
		return "launch"
	case actDestroyVM:
		return "destroy VM"
	case actRelease:
		return "release"
	case actTimer:
		names := map[timerKind]string{timerSettle: "settle", timerReady: "ready", timerDeadline: "deadline", timerBackoff: "backoff"}
		if a.d == 0 {
			return "disarm " + names[a.timer]
		}
		return fmt.Sprintf("arm %s %s", names[a.timer], a.d)
	case actSignal:
		return "signal " + a.sig.String()
	case actForceOff:
		return "force off"
	case actRunning:
		if a.first {
			return "running, report"
		}
		return "running"
	case actQuiesce:
		return "quiesce"
	case actStage:
		s := "stage " + string(a.stage)
		if a.reason != "" {
			s += " (" + a.reason + ")"
		}
		if !a.next.IsZero() {
			s += " next +" + a.next.Sub(t0).String()
		}
		return s
	case actEnded:
		return "ended " + string(a.ending.Manner)
	case actFail:
		return "fail: " + a.err.Error()
	}
	return ""
}

func describeAll(acts []action) []string {
	var out []string
	for _, a := range acts {
		if a.kind != actLog {
			out = append(out, describe(a))
		}
	}
	return out
}

// step is one row of a transition table: an event at a time after t0,
// the phase it leads to and the actions it gives.
type step struct {
	ev    event
	after time.Duration
	phase phase
	acts  []string
}

var (
	launchedOK = event{kind: evLaunched, pid: 42, stopWait: 15 * time.Second}
	tapReady   = event{kind: evTapReady}
	cpuActive  = event{kind: evBootCPU, active: true}
	cpuIdle    = event{kind: evBootCPU}
)

func exitedWith(s host.ExitStatus) event {
	return event{kind: evExited, exit: s, tail: []string{"last line"}}
}

// toRunning are the rows that get the first run of the guest running.
var toRunning = []step{
	{launchedOK, 0, phaseStarting, []string{"arm ready 1m0s"}},
	{tapReady, 0, phaseSettling, []string{"arm settle 25ms"}},
	{cpuIdle, 0, phaseSettling, []string{"arm settle 25ms"}},
	{cpuActive, 0, phaseRunning, []string{"disarm ready", "running, report"}},
}

func rows(parts ...[]step) []step {
	var all []step
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// run plays a table on a fresh machine.
func run(t *testing.T, table []step) *machine {
	t.Helper()
	m := newMachine()
	if diff := cmp.Diff([]string{"stage starting", "launch"}, describeAll(m.start(t0))); diff != "" {
		t.Fatalf("start (-want +got):\n%s", diff)
	}
	for i, s := range table {
		s.ev.at = t0.Add(s.after)
		got := describeAll(m.step(s.ev))
		if diff := cmp.Diff(s.acts, got); diff != "" {
			t.Errorf("row %d (event %d): actions (-want +got):\n%s", i, s.ev.kind, diff)
		}
		if m.phase != s.phase {
			t.Errorf("row %d (event %d): phase %q, want %q", i, s.ev.kind, m.phase, s.phase)
		}
	}
	return m
}

// TestTransitions covers every transition of the supervisor.
func TestTransitions(t *testing.T) {
	crashed := "crashed, killed by signal 9 (killed)"
	tests := []struct {
		name  string
		table []step
	}{
		{"start fails", []step{
			{event{kind: evLaunched, err: errors.New("no tap")}, 0, phaseFailed, []string{"fail: no tap"}},
		}},
		{"bhyve exits before running", []step{
			toRunning[0],
			{tapReady, 0, phaseSettling, []string{"arm settle 25ms"}},
			{exitedWith(host.ExitStatus{Code: 4}), time.Second, phaseFailed, []string{"release",
				"fail: bhyve exited before the guest ran: exit status 4 (error); bhyve said: last line"}},
		}},
		{"ready timeout", []step{
			toRunning[0],
			{event{kind: evReadyTimeout}, readyTimeout, phaseKilling, []string{"disarm settle", "signal killed"}},
			{exitedWith(host.ExitStatus{Signal: syscall.SIGKILL}), readyTimeout, phaseFailed, []string{"release",
				"fail: bhyve exited before the guest ran: killed by signal 9 (killed); bhyve said: last line"}},
		}},
		{"stop powers off", rows(toRunning, []step{
			{event{kind: evStopRequested}, time.Minute, phaseStopping, []string{"disarm settle", "disarm ready", "quiesce", "signal terminated", "arm deadline 15s"}},
			{event{kind: evStopRequested}, time.Minute, phaseStopping, nil},
			{exitedWith(host.ExitStatus{Code: 1}), time.Minute, phaseStopped, []string{"ended powered off", "disarm deadline", "release", "stage stopped (powered off)"}},
		})},
		{"stop with a shorter grace while starting", []step{
			toRunning[0],
			{event{kind: evStopRequested, grace: 2 * time.Second}, 0, phaseStopping, []string{"disarm settle", "disarm ready", "quiesce", "signal terminated", "arm deadline 2s"}},
			{tapReady, 0, phaseStopping, nil},
			{cpuActive, 0, phaseStopping, nil},
			{event{kind: evReadyTimeout}, 0, phaseStopping, nil},
			{exitedWith(host.ExitStatus{Code: 1}), time.Second, phaseStopped, []string{"ended powered off", "disarm deadline", "release", "stage stopped (powered off)"}},
		}},
		{"stop forces off, then kills", rows(toRunning, []step{
			{event{kind: evStopRequested}, time.Minute, phaseStopping, []string{"disarm settle", "disarm ready", "quiesce", "signal terminated", "arm deadline 15s"}},
			{event{kind: evDeadline}, time.Minute, phaseForcingOff, []string{"force off", "arm deadline 5s"}},
			{event{kind: evDeadline}, time.Minute, phaseKilling, []string{"signal killed"}},
			{event{kind: evDeadline}, time.Minute, phaseKilling, nil},
			{exitedWith(host.ExitStatus{Signal: syscall.SIGKILL}), time.Minute, phaseStopped, []string{"ended killed", "disarm deadline", "release", "stage stopped (killed)"}},
		})},
		{"stop forces off", rows(toRunning, []step{
			{event{kind: evStopRequested}, time.Minute, phaseStopping, []string{"disarm settle", "disarm ready", "quiesce", "signal terminated", "arm deadline 15s"}},
			{event{kind: evDeadline}, time.Minute, phaseForcingOff, []string{"force off", "arm deadline 5s"}},
			{exitedWith(host.ExitStatus{Code: 1}), time.Minute, phaseStopped, []string{"ended forced off", "disarm deadline", "release", "stage stopped (forced off)"}},
		})},
		{"guest powers off", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 2}), time.Minute, phaseStopped, []string{"ended powered off", "release", "stage stopped (exit status 2 (guest halted))"}},
		})},
		{"crashes back off, destroy the VM, and double", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Signal: syscall.SIGKILL}), time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (" + crashed + ") next +2s", "arm backoff 1s"}},
			{event{kind: evDeadline}, 2 * time.Second, phaseBackingOff, nil},
			{event{kind: evBackoffDone}, 2 * time.Second, phaseStarting, []string{"stage starting", "launch"}},
			{launchedOK, 2 * time.Second, phaseStarting, []string{"arm ready 1m0s"}},
			{exitedWith(host.ExitStatus{Signal: syscall.SIGKILL}), 3 * time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (" + crashed + ") next +5s", "arm backoff 2s"}},
			{event{kind: evBackoffDone}, 5 * time.Second, phaseStarting, []string{"stage starting", "launch"}},
			{launchedOK, 5 * time.Second, phaseStarting, []string{"arm ready 1m0s"}},
			{tapReady, 5 * time.Second, phaseSettling, []string{"arm settle 25ms"}},
			{cpuActive, 5 * time.Second, phaseRunning, []string{"disarm ready", "running"}},
			{exitedWith(host.ExitStatus{Code: 4}), 6 * time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (crashed with exit status 4 (error)) next +10s", "arm backoff 4s"}},
		})},
		{"a stable run resets the backoff", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 4}), time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (crashed with exit status 4 (error)) next +2s", "arm backoff 1s"}},
			{event{kind: evBackoffDone}, 2 * time.Second, phaseStarting, []string{"stage starting", "launch"}},
			{launchedOK, 2 * time.Second, phaseStarting, []string{"arm ready 1m0s"}},
			{exitedWith(host.ExitStatus{Code: 4}), 2*time.Second + stableRun, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (crashed with exit status 4 (error)) next +1m3s", "arm backoff 1s"}},
		})},
		{"a triple fault keeps the VM", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 3}), time.Second, phaseBackingOff, []string{"ended crashed", "stage restarting (crashed with exit status 3 (triple fault)) next +2s", "arm backoff 1s"}},
		})},
		{"a quick reboot keeps the VM and backs off", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 0}), time.Second, phaseBackingOff, []string{"ended rebooted", "stage restarting (rebooted with exit status 0 (guest rebooted)) next +2s", "arm backoff 1s"}},
		})},
		{"a reboot after a stable run starts at once", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 0}), stableRun, phaseStarting, []string{"ended rebooted", "stage starting", "launch"}},
			{launchedOK, stableRun, phaseStarting, []string{"arm ready 1m0s"}},
			{tapReady, stableRun, phaseSettling, []string{"arm settle 25ms"}},
			{cpuActive, stableRun, phaseRunning, []string{"disarm ready", "running"}},
		})},
		{"a restart that cannot launch backs off", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 0}), time.Second, phaseBackingOff, []string{"ended rebooted", "stage restarting (rebooted with exit status 0 (guest rebooted)) next +2s", "arm backoff 1s"}},
			{event{kind: evBackoffDone}, 2 * time.Second, phaseStarting, []string{"stage starting", "launch"}},
			{event{kind: evLaunched, err: errors.New("no tap")}, 2 * time.Second, phaseBackingOff, []string{"ended failed", "destroy VM", "stage restarting (could not be started again: no tap) next +4s", "arm backoff 2s"}},
		})},
		{"stop while backing off", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 4}), time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (crashed with exit status 4 (error)) next +2s", "arm backoff 1s"}},
			{event{kind: evStopRequested}, time.Second, phaseStopped, []string{"disarm backoff", "release", "ended not running"}},
		})},
		{"a crash of a restarted guest before it runs backs off", rows(toRunning, []step{
			{exitedWith(host.ExitStatus{Code: 0}), stableRun, phaseStarting, []string{"ended rebooted", "stage starting", "launch"}},
			{launchedOK, stableRun, phaseStarting, []string{"arm ready 1m0s"}},
			{exitedWith(host.ExitStatus{Code: 4}), stableRun + time.Second, phaseBackingOff, []string{"ended crashed", "destroy VM", "stage restarting (crashed with exit status 4 (error)) next +1m2s", "arm backoff 1s"}},
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, tc.table) })
	}
}

// TestBackoffBounded: the backoff doubles up to maxBackoff, and each
// crash is counted as a restart.
func TestBackoffBounded(t *testing.T) {
	m := run(t, toRunning)
	at := t0
	var got []time.Duration
	for range 9 {
		at = at.Add(time.Second)
		for _, a := range m.step(event{kind: evExited, at: at, exit: host.ExitStatus{Signal: syscall.SIGSEGV}}) {
			if a.kind == actTimer && a.timer == timerBackoff {
				got = append(got, a.d)
			}
		}
		m.step(event{kind: evBackoffDone, at: at})
		m.step(event{kind: evLaunched, at: at, pid: 1})
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoffs (-want +got):\n%s", diff)
	}
	if m.restarts != 9 {
		t.Errorf("restarts = %d, want 9", m.restarts)
	}
}

// TestJudge is the restart policy: what each exit means, and whether the
// VM can be reinitialised (only after a VM suspend).
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		status host.ExitStatus
		want   verdict
	}{
		{host.ExitStatus{Code: 0}, verdict{restartGuest, true}},
		{host.ExitStatus{Code: 1}, verdict{stopGuest, false}},
		{host.ExitStatus{Code: 2}, verdict{stopGuest, false}},
		{host.ExitStatus{Code: 3}, verdict{crashedGuest, true}},
		{host.ExitStatus{Code: 4}, verdict{crashedGuest, false}},
		{host.ExitStatus{Code: 100}, verdict{crashedGuest, false}},
		{host.ExitStatus{Code: 143}, verdict{stopGuest, false}},
		{host.ExitStatus{Signal: syscall.SIGTERM}, verdict{stopGuest, false}},
		{host.ExitStatus{Signal: syscall.SIGKILL}, verdict{crashedGuest, false}},
		{host.ExitStatus{Signal: syscall.SIGABRT}, verdict{crashedGuest, false}},
		{host.ExitStatus{Signal: syscall.SIGSEGV}, verdict{crashedGuest, false}},
	} {
		if got := judge(tc.status); got != tc.want {
			t.Errorf("judge(%v) = %+v, want %+v", tc.status, got, tc.want)
		}
	}
}

// TestPhaseStates: what status says in each phase.
func TestPhaseStates(t *testing.T) {
	got := map[phase]string{}
	for _, p := range []phase{phaseStarting, phaseSettling, phaseRunning, phaseStopping, phaseForcingOff, phaseKilling, phaseBackingOff, phaseStopped, phaseFailed} {
		got[p] = p.state()
	}
	want := map[phase]string{
		phaseStarting: "starting", phaseSettling: "starting", phaseRunning: "running",
		phaseStopping: "stopping", phaseForcingOff: "stopping", phaseKilling: "stopping",
		phaseBackingOff: "restarting", phaseStopped: "cleaning up", phaseFailed: "cleaning up",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if !strings.Contains(tailText([]string{"a", "b"}), "a / b") || tailText(nil) != "" {
		t.Error("tailText")
	}
}
