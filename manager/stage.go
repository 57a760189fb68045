package manager

import (
	"fmt"
	"net"
	"slices"
	"time"
)

// Stage is how far the guest has got. The VM manager knows, shows and logs
// each stage with the time it began, and pushes every change to the
// clients that wait for one (`wifibox wait`).
type Stage string

// The stages, in the order a guest goes through them; restarting and
// failed say why the guest is not on its way.
const (
	// StageStopped: no VM manager runs.
	StageStopped Stage = "stopped"
	// StageStarting: the VM manager prepares the host and launches bhyve.
	StageStarting Stage = "starting"
	// StageRunning: bhyve is past its device setup and runs the guest's
	// vCPUs. bhyve gives no sign of that point itself, so it is told from
	// outside (usr.sbin/bhyve/bhyverun.c, main, 13.5 to 15.0): init_pci
	// sets up the slots in order, and opening the tap of slot 5 raises
	// its link, which the Launcher sees (Ready); the passthru device of
	// slot 6 comes after, and a device that fails, as pci_passthru.c's
	// passthru_init does when vm_assign_pptdev refuses the card, makes
	// bhyve exit 4 with "Device emulation initialization error". Only
	// after init_pci does main start the vCPUs (bhyve_start_vcpu,
	// fbsdrun_addcpu: vm_activate_cpu), which the VM's active set shows
	// (host.VMs.BootCPUActive). So: runningGrace after the tap's link
	// came up, the boot vCPU must be active (else it is asked again
	// runningGrace later) and bhyve must not have exited. A bhyve that
	// exits before never counts as running.
	StageRunning Stage = "running"
	// StageUp: the guest's own system runs. The real guest image
	// (net/wifibox-alpine) mounts the run directory's appliance/ as its
	// /var over virtio-9p and its syslogd writes /var/log/messages
	// there: the first write to appliance/log/messages after bhyve
	// started is the sign.
	StageUp Stage = "up"
	// StageWifi: wpa_supplicant (wpa_state=COMPLETED) or hostapd
	// (state=ENABLED) answers through the control-socket relay. Without
	// appliance/uds_passthru.conf there is no relay, and this stage
	// cannot be seen.
	StageWifi Stage = "wifi"
	// StageRestarting: the guest crashed or rebooted and starts again at
	// NextStart.
	StageRestarting Stage = "restarting"
	// StageFailed: the guest could not start, or the VM manager is gone
	// while what it ran is still there.
	StageFailed Stage = "failed"
)

// progress are the stages a guest reaches on its way, in order.
var progress = []Stage{StageStarting, StageRunning, StageUp, StageWifi}

// ParseStage reads a stage `wifibox wait` can wait for: running, up or
// wifi.
func ParseStage(s string) (Stage, error) {
	if st := Stage(s); st == StageRunning || st == StageUp || st == StageWifi {
		return st, nil
	}
	return "", fmt.Errorf("unknown stage %q (running, up or wifi)", s)
}

// Reached tells whether the guest at stage s has got as far as want.
func (s Stage) Reached(want Stage) bool {
	i, j := slices.Index(progress, s), slices.Index(progress, want)
	return i >= 0 && j >= 0 && i >= j
}

// setStage moves the guest to a stage, logs it, and wakes the clients
// waiting for a change. reason says why (restarting, failed); next is
// when the guest starts again (restarting).
func (m *manager) setStage(stage Stage, reason string, next time.Time) {
	m.moveStage(nil, stage, reason, next)
}

// advance moves a guest that is on its way (running, up or wifi) to
// another of those stages; a guest that has stopped meanwhile stays where
// it is.
func (m *manager) advance(stage Stage) {
	m.moveStage([]Stage{StageRunning, StageUp, StageWifi}, stage, "", time.Time{})
}

// moveStage sets the stage when the current one is among from (any, when
// from is nil).
func (m *manager) moveStage(from []Stage, stage Stage, reason string, next time.Time) {
	m.mu.Lock()
	s := &m.status
	if (from != nil && !slices.Contains(from, s.Stage)) ||
		(s.Stage == stage && s.Reason == reason && s.NextStart.Equal(next)) {
		m.mu.Unlock()
		return
	}
	s.Stage, s.StageSince, s.Reason, s.NextStart = stage, time.Now(), reason, next
	if stage != StageWifi && stage != StageUp {
		s.Wifi = nil
	}
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	if stage == StageRunning { // a start has got there: the last failure is over
		if err := forgetFailure(m.h.Paths.RunDir); err != nil {
			m.log.Warnf("VM manager: forget the last failure: %v", err)
		}
	}
	switch {
	case !next.IsZero():
		m.log.Infof("VM manager: stage %s: %s; next start at %s", stage, reason, next.Format(time.TimeOnly))
	case reason != "":
		m.log.Infof("VM manager: stage %s: %s", stage, reason)
	default:
		m.log.Infof("VM manager: stage %s", stage)
	}
}

// watchStage answers a `wait` request: the status now, then again at each
// change of stage, one JSON line each, until the client hangs up or the
// manager ends.
func (m *manager) watchStage(conn net.Conn) {
	// The client sends nothing more: its hanging up ends the read.
	gone := make(chan struct{})
	go func() {
		conn.Read(make([]byte, 1))
		close(gone)
	}()
	for {
		m.mu.Lock()
		changed := m.changed
		m.mu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		if writeJSON(conn, m.snapshot()) != nil {
			return
		}
		select {
		case <-changed:
		case <-gone:
			return
		case <-m.done:
			return
		}
	}
}
