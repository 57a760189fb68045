package manager

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
)

// The supervisor of the guest is a state machine: step, a pure function,
// takes the machine and an event and gives the actions to carry out; the
// driver (driver.go) turns bhyve's exit, its tap, the stop requests and
// the clock into events and carries the actions out. Nothing here calls
// the host, reads the clock or logs: the tests drive every transition
// with made-up events (supervisor_test.go).

// phase is where the supervisor is in the life of the guest.
type phase string

// The phases. A run of the guest goes starting, settling, running; a stop
// goes stopping, forcing off, killing; between two runs it is backing
// off; stopped and failed are the ends.
const (
	// phaseStarting: bhyve is launched and sets up its devices.
	phaseStarting phase = "starting"
	// phaseSettling: bhyve has opened its tap; the guest counts as
	// running once its boot vCPU is active, runningGrace later or more.
	phaseSettling phase = "settling"
	// phaseRunning: the guest runs (StageRunning).
	phaseRunning phase = "running"
	// phaseStopping: bhyve was asked to power the guest off (SIGTERM).
	phaseStopping phase = "stopping"
	// phaseForcingOff: the grace period is over, the VM was suspended
	// (powered off) from outside.
	phaseForcingOff phase = "forcing off"
	// phaseKilling: bhyve was sent SIGKILL.
	phaseKilling phase = "killing"
	// phaseBackingOff: the guest ended and starts again when the backoff
	// is done.
	phaseBackingOff phase = "backing off"
	// phaseStopped: the guest stopped (on request, or it powered off).
	phaseStopped phase = "stopped"
	// phaseFailed: the first start failed.
	phaseFailed phase = "failed"
)

// terminal tells whether the supervisor has ended.
func (p phase) terminal() bool { return p == phaseStopped || p == phaseFailed }

// eventKind names what happened.
type eventKind int

// The events.
const (
	// evLaunched: bhyve was launched (pid, stopWait), or could not be
	// (err).
	evLaunched eventKind = iota
	// evTapReady: bhyve opened its tap (host.Guest.Ready).
	evTapReady
	// evBootCPU: runningGrace has passed since the tap was ready or the
	// last look; active tells whether bhyve has activated the boot vCPU.
	evBootCPU
	// evExited: bhyve exited (exit, tail: its last lines).
	evExited
	// evStopRequested: a stop was asked for (grace: at most that long
	// to power off, 0 for the plan's stop_wait_max).
	evStopRequested
	// evDeadline: the stop's grace period, or the forced power-off's,
	// is over.
	evDeadline
	// evReadyTimeout: bhyve has not got the guest running within
	// readyTimeout.
	evReadyTimeout
	// evBackoffDone: the backoff is over.
	evBackoffDone
)

// event is one thing that happened, at a time.
type event struct {
	kind     eventKind
	at       time.Time
	err      error           // evLaunched
	pid      int             // evLaunched
	stopWait time.Duration   // evLaunched: the plan's stop_wait_max
	active   bool            // evBootCPU
	exit     host.ExitStatus // evExited
	tail     []string        // evExited
	grace    time.Duration   // evStopRequested
}

// timerKind names the supervisor's timers, one of each at most.
type timerKind int

// The timers.
const (
	timerSettle   timerKind = iota // gives evBootCPU
	timerReady                     // gives evReadyTimeout
	timerDeadline                  // gives evDeadline
	timerBackoff                   // gives evBackoffDone
	timerCount
)

// actionKind names what the driver is to do.
type actionKind int

// The actions.
const (
	// actLaunch: prepare the host and launch bhyve, in the VM kept from
	// the last run if there is one; then give evLaunched.
	actLaunch actionKind = iota
	// actDestroyVM: destroy the VM, which the kernel cannot reinitialise
	// (the devices stay on ppt).
	actDestroyVM
	// actRelease: destroy the VM and release the devices: the guest
	// stops for good.
	actRelease
	// actTimer: arm timer for d; d 0 disarms it.
	actTimer
	// actSignal: send sig to bhyve.
	actSignal
	// actForceOff: suspend the VM (power-off) from outside.
	actForceOff
	// actRunning: the guest runs: say so, follow it, and on the first
	// run report it to the starting command.
	actRunning
	// actQuiesce: a stop begins: stop following the guest's network and
	// relaying its control sockets.
	actQuiesce
	// actStage: move the guest to stage, with reason and next.
	actStage
	// actLog: log msg at level.
	actLog
	// actEnded: a run of the guest ended, as ending says.
	actEnded
	// actFail: the first start failed with err: report it.
	actFail
)

// action is one thing for the driver to do.
type action struct {
	kind   actionKind
	timer  timerKind
	d      time.Duration
	sig    syscall.Signal
	stage  Stage
	reason string
	next   time.Time
	level  logrus.Level
	msg    string
	ending Ending
	err    error
	tail   []string // actFail: bhyve's last lines
	first  bool     // actRunning: the first run, whose start is reported
}

// The manners of an end that was not a stop (Ending.Manner); a stop's
// are LastStop's (ending.go), and a guest that powers off by itself is
// PoweredOff too.
const (
	// Rebooted: the guest rebooted.
	Rebooted = "rebooted"
	// Crashed: bhyve ended otherwise (an error, a signal).
	Crashed = "crashed"
	// Failed: the guest could not be started again.
	Failed = "failed"
)

// Ending is how one run of the guest ended, for the log, the status and
// the records of the last stop and failure.
type Ending struct {
	Manner string
	At     time.Time
	// Exit is bhyve's exit status; zero when bhyve did not run.
	Exit host.ExitStatus
	// Reason says it in words: "crashed with exit status 4 (error)".
	Reason string
	// Tail are bhyve's last lines.
	Tail []string
	// Ran is how long this run of bhyve lasted.
	Ran time.Duration
	// Stop is the record of the stop, when the run ended on a request.
	Stop *LastStop
}

// verdict is what the restart policy makes of bhyve's exit.
type verdict struct {
	outcome outcome
	// keepVM: bhyve can reinitialise the VM for the next run.
	keepVM bool
}

// outcome is what the supervisor does after bhyve exited by itself.
type outcome int

// The outcomes.
const (
	stopGuest    outcome = iota // powered off, halted or terminated
	restartGuest                // rebooted: start it again at once
	crashedGuest                // anything else: start it again after a backoff
)

// judge is the restart policy: what an exit of bhyve means for the
// guest, and whether the kernel lets the next bhyve reuse the VM.
//
// bhyve's exit statuses (usr.sbin/bhyve/bhyverun.c; vmexit_suspend in
// bhyverun.c on 13.x, amd64/vmexit.c from 14.1 on): a VM suspend exits
// 0 (reset: the guest rebooted), 1 (power-off), 2 (halt), 3 (triple
// fault); 4 is an error, from an option or device setup failure to
// `vm_reinit` refusing; 100 an unknown suspend. When vm_run fails, which
// it does when the VM is destroyed under bhyve, vm_loop returns and
// fbsdrun_start_thread exits 1 on 13.x and 14.x (read: 13-era and 14-era
// copies) and 4 on 15.0 ("the VM was destroyed asynchronously", the
// 15-era copy): on 13.x and 14.x such an exit looks like a power-off,
// and is taken as one: the guest stops and its VM is destroyed.
// VMEXIT_ABORT calls abort() (SIGABRT). SIGTERM's default action (a guest
// that never enabled ACPI) ends bhyve as 143 in the shell's eyes.
//
// Only a VM suspend leaves every active vCPU suspended, which vm_reinit
// (sys/amd64/vmm/vmm.c, 13-era to main) requires; after any other end
// (killed, aborted, an error exit) it answers EBUSY, and bhyve exits 4
// with "vm_reinit: Device busy" (13.x, 14.x) or "vm_openf: Device busy"
// (15.0). So the VM is kept for a reboot (0) and a triple fault (3), and
// destroyed before the next run otherwise.
func judge(s host.ExitStatus) verdict {
	if s.Signal != 0 {
		if s.Signal == syscall.SIGTERM {
			return verdict{outcome: stopGuest}
		}
		return verdict{outcome: crashedGuest}
	}
	switch s.Code {
	case host.ExitReset:
		return verdict{outcome: restartGuest, keepVM: true}
	case host.ExitTripleFault:
		return verdict{outcome: crashedGuest, keepVM: true}
	case host.ExitPowerOff, host.ExitHalt, 128 + int(syscall.SIGTERM):
		return verdict{outcome: stopGuest}
	}
	return verdict{outcome: crashedGuest}
}

// machine is the supervisor's state.
type machine struct {
	phase phase
	// first: the first run, whose failure to get running fails the start.
	first bool
	// backoff is the next backoff.
	backoff time.Duration
	// restarts counts the guest's restarts.
	restarts int
	// started is when this run's bhyve was launched; pid is its pid.
	started time.Time
	pid     int
	// ready: this run got the guest running.
	ready bool
	// stopWait is the plan's stop_wait_max.
	stopWait time.Duration
	// requested: a stop was asked for during this run; stop follows it.
	requested bool
	stop      stopping
	// keepVM: the next launch may reuse the VM.
	keepVM bool
}

// newMachine is the supervisor before the first launch.
func newMachine() *machine {
	return &machine{phase: phaseStarting, first: true, backoff: firstBackoff}
}

// start begins a run of the guest at now.
func (m *machine) start(now time.Time) []action {
	m.phase, m.started, m.ready, m.requested, m.pid = phaseStarting, now, false, false, 0
	return []action{{kind: actStage, stage: StageStarting}, {kind: actLaunch}}
}

// step gives the actions for ev and moves the machine on. An event that
// means nothing in the phase (a late timer) gives none.
func (m *machine) step(ev event) []action {
	switch ev.kind {
	case evLaunched:
		return m.launched(ev)
	case evTapReady:
		if m.phase == phaseStarting {
			m.phase = phaseSettling
			return []action{timer(timerSettle, runningGrace)}
		}
	case evBootCPU:
		if m.phase == phaseSettling {
			return m.settled(ev)
		}
	case evExited:
		return m.exited(ev)
	case evStopRequested:
		return m.stopRequested(ev)
	case evDeadline:
		return m.deadline()
	case evReadyTimeout:
		if m.phase == phaseStarting || m.phase == phaseSettling {
			m.phase = phaseKilling
			return []action{
				logf(logrus.ErrorLevel, "VM manager: bhyve has not got the guest running in %s, killing PID %d", readyTimeout, m.pid),
				timer(timerSettle, 0),
				{kind: actSignal, sig: syscall.SIGKILL},
			}
		}
	case evBackoffDone:
		if m.phase == phaseBackingOff {
			return m.start(ev.at)
		}
	}
	return nil
}

func (m *machine) launched(ev event) []action {
	if ev.err == nil {
		m.pid, m.stopWait = ev.pid, ev.stopWait
		return []action{timer(timerReady, readyTimeout)}
	}
	m.keepVM = false // the launch undid what it did
	if m.first {
		m.phase = phaseFailed
		return []action{{kind: actFail, err: ev.err, reason: ev.err.Error()}}
	}
	reason := "could not be started again: " + ev.err.Error()
	return append([]action{
		logf(logrus.ErrorLevel, "VM manager: guest could not be started again: %v", ev.err),
		{kind: actEnded, ending: Ending{Manner: Failed, At: ev.at, Reason: reason}},
	}, m.backOff(ev.at, reason)...)
}

func (m *machine) settled(ev event) []action {
	if !ev.active { // still setting up its devices
		return []action{timer(timerSettle, runningGrace)}
	}
	m.phase, m.ready = phaseRunning, true
	first := m.first
	m.first = false
	return []action{timer(timerReady, 0), {kind: actRunning, first: first}}
}

func (m *machine) stopRequested(ev event) []action {
	switch m.phase {
	case phaseStarting, phaseSettling, phaseRunning:
	case phaseBackingOff:
		m.phase = phaseStopped
		return []action{
			logf(logrus.InfoLevel, "VM manager: stop requested while waiting to restart"),
			timer(timerBackoff, 0),
			{kind: actRelease},
			{kind: actEnded, ending: Ending{Manner: NotRunning, At: ev.at, Stop: &LastStop{Time: ev.at, Manner: NotRunning}}},
		}
	default: // stopping already
		return nil
	}
	m.phase, m.requested = phaseStopping, true
	m.stop = stopping{asked: ev.at, grace: m.stopWait}
	acts := []action{
		timer(timerSettle, 0), timer(timerReady, 0),
		{kind: actQuiesce},
		logf(logrus.InfoLevel, "VM manager: stopping guest %s run as PID %d", host.VMName, m.pid),
		{kind: actSignal, sig: syscall.SIGTERM},
	}
	if ev.grace > 0 && ev.grace < m.stop.grace {
		m.stop.grace = ev.grace
		acts = append(acts, logf(logrus.InfoLevel, "VM manager: the guest has %s to power off, then it is forced off", ev.grace))
	}
	return append(acts, timer(timerDeadline, m.stop.grace))
}

func (m *machine) deadline() []action {
	switch m.phase {
	case phaseStopping:
		m.phase, m.stop.forced = phaseForcingOff, true
		return []action{
			logf(logrus.WarnLevel, "VM manager: grace period of %s is over, forcing power-off of guest %s", m.stop.grace, host.VMName),
			{kind: actForceOff},
			timer(timerDeadline, killGrace),
		}
	case phaseForcingOff:
		m.phase, m.stop.killed = phaseKilling, true
		return []action{
			logf(logrus.ErrorLevel, "VM manager: bhyve did not exit after the forced power-off, killing PID %d", m.pid),
			{kind: actSignal, sig: syscall.SIGKILL},
		}
	}
	return nil
}

func (m *machine) exited(ev event) []action {
	ran := ev.at.Sub(m.started)
	v := judge(ev.exit)
	m.keepVM = v.keepVM
	end := Ending{At: ev.at, Exit: ev.exit, Tail: ev.tail, Ran: ran}
	acts := []action{logf(logrus.InfoLevel, "VM manager: bhyve exited: %s", ev.exit)}
	if m.requested {
		stop := m.stop.ended(ev.at)
		end.Manner, end.Reason, end.Stop = stop.Manner, ev.exit.String(), &stop
		m.phase = phaseStopped
		return append(acts, action{kind: actEnded, ending: end}, timer(timerDeadline, 0), action{kind: actRelease},
			action{kind: actStage, stage: StageStopped, reason: stop.Manner})
	}
	if m.first && !m.ready {
		m.phase = phaseFailed
		reason := fmt.Sprintf("bhyve exited before the guest ran: %s", ev.exit)
		err := failure.New(failure.GuestFailed, errors.New(reason+tailText(ev.tail)))
		return append(acts, action{kind: actRelease}, action{kind: actFail, err: err, reason: reason, tail: ev.tail})
	}
	if ran >= stableRun {
		m.backoff = firstBackoff
	}
	switch v.outcome {
	case stopGuest:
		m.phase = phaseStopped
		end.Manner, end.Reason = PoweredOff, ev.exit.String()
		return append(acts, action{kind: actEnded, ending: end}, action{kind: actRelease},
			logf(logrus.InfoLevel, "VM manager: guest stopped (%s), signaling exit", ev.exit),
			action{kind: actStage, stage: StageStopped, reason: ev.exit.String()})
	case restartGuest:
		end.Manner, end.Reason = Rebooted, ended("rebooted", ev.exit)
		acts = append(acts, action{kind: actEnded, ending: end},
			logf(logrus.InfoLevel, "VM manager: guest was %s after %s, starting it again in VM %s", end.Reason, ran.Round(time.Millisecond), host.VMName))
		if ran >= stableRun {
			m.restarts++
			return append(acts, m.start(ev.at)...)
		}
		return append(acts, m.backOff(ev.at, end.Reason)...)
	}
	end.Manner, end.Reason = Crashed, ended("crashed", ev.exit)
	acts = append(acts, action{kind: actEnded, ending: end},
		logf(logrus.WarnLevel, "VM manager: guest %s after %s", end.Reason, ran.Round(time.Millisecond)))
	return append(acts, m.backOff(ev.at, end.Reason)...)
}

// backOff waits for the backoff before the next run; a VM the kernel
// cannot reinitialise is destroyed first.
func (m *machine) backOff(now time.Time, reason string) []action {
	m.phase = phaseBackingOff
	m.restarts++
	var acts []action
	if !m.keepVM {
		acts = append(acts, action{kind: actDestroyVM})
	}
	acts = append(acts,
		logf(logrus.InfoLevel, "VM manager: restarting the guest in %s", m.backoff),
		action{kind: actStage, stage: StageRestarting, reason: reason, next: now.Add(m.backoff)},
		timer(timerBackoff, m.backoff))
	m.backoff = min(2*m.backoff, maxBackoff)
	return acts
}

// state is what Status.State says of the phase.
func (p phase) state() string {
	switch p {
	case phaseStarting, phaseSettling:
		return "starting"
	case phaseRunning:
		return "running"
	case phaseStopping, phaseForcingOff, phaseKilling:
		return "stopping"
	case phaseBackingOff:
		return "restarting"
	}
	return "cleaning up"
}

func timer(t timerKind, d time.Duration) action { return action{kind: actTimer, timer: t, d: d} }

func logf(level logrus.Level, format string, args ...any) action {
	return action{kind: actLog, level: level, msg: fmt.Sprintf(format, args...)}
}

// tailText gives bhyve's last lines for an error message.
func tailText(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "; bhyve said: " + strings.Join(lines, " / ")
}
