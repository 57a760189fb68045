package manager

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wifibox/wifibox/host"
)

// clock gives the driver the time and its timers: the real one, or a
// test's.
type clock interface {
	Now() time.Time
	// NewTimer gives a channel that receives the time once d has passed,
	// and a function that disarms it.
	NewTimer(d time.Duration) (<-chan time.Time, func())
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// driver runs the supervisor's machine: it turns what happens to bhyve,
// the stop requests and the timers into events, steps the machine, and
// carries its actions out on the host.
type driver struct {
	m      *manager
	report io.WriteCloser
	sm     *machine
	// held is the plan whose VM and devices the guest keeps between
	// runs, until actRelease.
	held *Plan
	// The current run of bhyve: g, its exit and tap.
	plan    Plan
	g       *guest
	exited  chan host.ExitStatus
	tap     <-chan struct{}
	timers  [timerCount]<-chan time.Time
	disarm  [timerCount]func()
	waiting []chan struct{}
	// stopWatch ends the network watch while the guest runs; cancel and
	// following end the guest's follower.
	stopWatch func()
	cancel    context.CancelFunc
	following sync.WaitGroup
}

// run launches and supervises the guest until it stops, and gives the stop
// requests to answer.
func (m *manager) run(report io.WriteCloser) []chan struct{} {
	d := &driver{m: m, report: report, sm: newMachine(), stopWatch: func() {}, cancel: func() {}}
	d.do(d.sm.start(m.clock.Now()))
	for !d.sm.phase.terminal() {
		d.do(d.sm.step(d.next()))
	}
	return d.waiting
}

// next waits for the next event.
func (d *driver) next() event {
	ev := d.wait()
	ev.at = d.m.clock.Now()
	return ev
}

func (d *driver) wait() event {
	select {
	case st := <-d.exited:
		return d.exit(st)
	case <-d.tap:
		d.tap = nil
		return event{kind: evTapReady}
	case req := <-d.m.stop:
		d.waiting = append(d.waiting, req.done)
		return event{kind: evStopRequested, grace: req.grace}
	case <-d.timers[timerSettle]:
		d.timers[timerSettle] = nil
		select {
		case st := <-d.exited: // it exited meanwhile: not running
			return d.exit(st)
		default:
		}
		return event{kind: evBootCPU, active: d.m.vcpusStarted()}
	case <-d.timers[timerReady]:
		d.timers[timerReady] = nil
		return event{kind: evReadyTimeout}
	case <-d.timers[timerDeadline]:
		d.timers[timerDeadline] = nil
		return event{kind: evDeadline}
	case <-d.timers[timerBackoff]:
		d.timers[timerBackoff] = nil
		return event{kind: evBackoffDone}
	}
}

// exit ends the run of bhyve that exited: what followed it stops, and
// its timers.
func (d *driver) exit(st host.ExitStatus) event {
	d.stopWatch()
	d.stopWatch = func() {}
	d.cancel()
	d.following.Wait()
	d.m.files.setGuest(0)
	d.m.update(func(s *Status) { s.GuestPID = 0 })
	for t := range timerCount {
		if t != timerDeadline { // the machine's to disarm
			d.arm(t, 0)
		}
	}
	d.exited, d.tap = nil, nil
	return event{kind: evExited, exit: st, tail: d.g.out.last()}
}

// arm arms a timer, or disarms it for 0.
func (d *driver) arm(t timerKind, after time.Duration) {
	if d.disarm[t] != nil {
		d.disarm[t]()
		d.disarm[t], d.timers[t] = nil, nil
	}
	if after > 0 {
		d.timers[t], d.disarm[t] = d.m.clock.NewTimer(after)
	}
}

// do carries the actions out, and the status follows the machine.
func (d *driver) do(acts []action) {
	m := d.m
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		switch a.kind {
		case actLaunch:
			acts = append(d.sm.step(d.launch()), acts...)
		case actDestroyVM:
			m.destroyVM()
		case actRelease:
			if d.held != nil {
				m.cleanup(*d.held)
				d.held = nil
			}
		case actTimer:
			d.arm(a.timer, a.d)
		case actSignal:
			if err := m.h.Launcher.Signal(d.g.Pid(), a.sig); err != nil {
				m.log.Warnf("VM manager: signal %v to bhyve: %v", a.sig, err)
			}
		case actForceOff:
			if err := m.h.VMs.SuspendVM(host.VMName, host.SuspendPowerOff); err != nil {
				m.log.Errorf("VM manager: force power-off of %s: %v", host.VMName, err)
			}
		case actRunning:
			d.running(a.first)
		case actQuiesce:
			d.stopWatch()
			d.stopWatch = func() {}
			m.stopRelays()
			d.unfollow()
		case actStage:
			m.setStage(a.stage, a.reason, a.next)
		case actLog:
			m.log.Log(a.level, a.msg)
		case actEnded:
			m.ended(a.ending)
		case actFail:
			m.fail(d.report, a.err, a.reason, a.tail)
		}
	}
	m.update(func(s *Status) { s.State, s.Restarts = d.sm.phase.state(), d.sm.restarts })
}

// launch launches a run of bhyve and tells how it went.
func (d *driver) launch() event {
	plan, g, err := d.m.launch(d.sm.first)
	if err != nil {
		return event{kind: evLaunched, err: err, at: d.m.clock.Now()}
	}
	d.plan, d.held, d.g = plan, &plan, g
	d.exited = make(chan host.ExitStatus, 1)
	d.tap = g.Ready()
	go func(exited chan<- host.ExitStatus) {
		st, err := g.Wait()
		if err != nil {
			d.m.log.Errorf("VM manager: waiting for bhyve: %v", err)
			st = host.ExitStatus{Code: -1}
		}
		g.out.Close()
		exited <- st
	}(d.exited)
	d.m.files.setGuest(g.Pid())
	return event{kind: evLaunched, pid: g.Pid(), stopWait: plan.StopWait, at: d.m.clock.Now()}
}

// running says that the guest runs and follows it: its network, its
// stages; the first run is reported to the starting command.
func (d *driver) running(first bool) {
	m, g := d.m, d.g
	m.log.Infof("VM manager: guest %s runs as PID %d", host.VMName, g.Pid())
	m.update(func(s *Status) { s.GuestPID, s.GuestSince = g.Pid(), m.clock.Now() })
	m.setStage(StageRunning, "", time.Time{})
	d.stopWatch = m.watchNet(d.plan.Tap)
	if first {
		m.startRelays()
		fmt.Fprintf(d.report, "ready %d\n", g.Pid())
		d.report.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.following.Go(func() { m.follow(ctx, g.started) })
}

// unfollow ends following the guest's stages once a stop begins, and lets
// the watch of its log go meanwhile, while the guest powers off: its
// release (inotify's on Linux) takes milliseconds, which the manager's
// exit, and the stop waiting for it, would take otherwise.
func (d *driver) unfollow() {
	d.cancel()
	go func() {
		d.following.Wait()
		if w := d.m.logWatch; w != nil {
			d.m.logWatch = nil
			w.Close()
		}
	}()
}

// ended records how a run of the guest ended: the last stop's manner,
// the last failure.
func (m *manager) ended(e Ending) {
	if e.Manner != NotRunning {
		last := e.Exit.String()
		if e.Manner == Failed {
			last = e.Reason
		}
		m.update(func(s *Status) { s.LastExit = last })
	}
	if e.Stop != nil {
		m.noteStop(*e.Stop)
	}
	if e.Manner == Crashed || e.Manner == Failed {
		m.noteFailure(e.Reason, e.Tail)
	}
}
