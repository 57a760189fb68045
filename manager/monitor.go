package manager

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
	"github.com/wifibox/wifibox/logview"
	"github.com/wifibox/wifibox/relay"
)

const (
	// wifiAsk bounds one question to wpa_supplicant or hostapd (STATUS
	// and SIGNAL_POLL): over the guest's bridge it answers in
	// milliseconds, and status -v waits for it.
	wifiAsk = time.Second
	// wifiGap is the least time between two questions that writes to the
	// guest's log trigger.
	wifiGap = time.Second
	// wifiRecheck is how often the Wi-Fi is asked about besides: the
	// guest's control socket may start listening after its last log
	// line, and the signal changes without one.
	wifiRecheck = 5 * time.Second
	// mtimeSlack covers the coarse clock of file times.
	mtimeSlack = 10 * time.Millisecond
)

// noRelay is why the stage wifi cannot be seen without uds_passthru.conf.
const noRelay = "appliance/uds_passthru.conf does not exist, so no control socket of the guest is relayed and wifibox cannot ask wpa_supplicant or hostapd"

// guestLog is the guest's syslog file: the guest mounts the run
// directory's appliance/ as its /var.
func guestLog(p host.Paths) string { return filepath.Join(p.RunAppliance(), "log", "messages") }

// guestLogInfo examines the guest's log, opened from the run directory
// following no link the guest planted.
func guestLogInfo(p host.Paths) (os.FileInfo, error) {
	f, err := runfile.OpenIn(p.RunDir, filepath.Join(host.RunApplianceIn, "log", "messages"), os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// follow follows one run of the guest, from its start at started, until
// ctx ends: the stage up at the first write to the guest's log, the stage
// wifi from the answers of wpa_supplicant or hostapd through the relay,
// asked at each write to that log, and the watchdog.
func (m *manager) follow(ctx context.Context, started time.Time) {
	path := guestLog(m.h.Paths)
	changes := m.logChanges(path)
	// Written since bhyve started (the kernel stamps files with a coarse
	// clock, a tick behind): the guest came up before the watch began.
	if fi, err := guestLogInfo(m.h.Paths); err == nil && !fi.ModTime().Before(started.Add(-mtimeSlack)) {
		m.guestUp()
	}
	r := m.relay()
	if r == nil {
		m.update(func(s *Status) { s.WifiUnseen = noRelay })
	}
	var lastAsked, lastAnswer time.Time
	ask := func() {
		if r == nil {
			return
		}
		lastAsked = time.Now()
		if m.askWifi(ctx, r) {
			lastAnswer = lastAsked
		}
	}
	ask()
	recheck := time.NewTimer(wifiRecheck)
	defer recheck.Stop()
	var watchdog <-chan time.Time
	if m.watchdog > 0 && r != nil {
		t := time.NewTicker(max(m.watchdog/4, 100*time.Millisecond))
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				m.log.Warnf("VM manager: watching the guest's log %s: %v", path, m.logWatch.Err())
				changes, m.logWatch = nil, nil
				continue
			}
			m.guestUp()
			if gap := time.Since(lastAsked); gap < wifiGap {
				recheck.Reset(wifiGap - gap)
				continue
			}
			ask()
			recheck.Reset(wifiRecheck)
		case <-recheck.C:
			ask()
			recheck.Reset(wifiRecheck)
		case <-watchdog:
			ask()
			if !lastAnswer.IsZero() && time.Since(lastAnswer) >= m.watchdog {
				m.log.Warnf("VM manager: watchdog: the guest has not answered on its control socket for %s, restarting it", time.Since(lastAnswer).Round(time.Second))
				m.update(func(s *Status) { s.LastExit = "restarted by the watchdog: no answer on the control socket" })
				if err := m.h.VMs.SuspendVM(bhyve.VMName, host.SuspendReset); err != nil {
					m.log.Errorf("VM manager: watchdog: reset %s: %v", bhyve.VMName, err)
				}
				watchdog = nil
			}
		}
	}
}

// logChanges gives the changes of the guest's log at path, with a change
// left from an earlier run of the guest dropped; nil when the log cannot
// be watched. The watch lasts as long as the manager: closing an inotify
// watch waits for a grace period of the kernel (some 15 ms), which every
// stop would wait for.
func (m *manager) logChanges(path string) <-chan struct{} {
	if m.logWatch == nil {
		w, err := logview.Watch(path)
		if err != nil {
			m.log.Warnf("VM manager: the guest's log %s cannot be watched, so the stage up cannot be seen: %v", path, err)
			return nil
		}
		m.logWatch = w
	}
	select {
	case <-m.logWatch.Changed():
	default:
	}
	return m.logWatch.Changed()
}

// guestUp moves a running guest to the stage up.
func (m *manager) guestUp() {
	m.moveStage([]Stage{StageRunning}, StageUp, "", time.Time{})
}

// relay gives the control-socket relay, nil when there is none.
func (m *manager) relay() *relay.Relay {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.relays
}

// askWifi asks wpa_supplicant or hostapd through the relay how the Wi-Fi
// is, records the answer, and moves the guest between the stages up and
// wifi. It tells whether the daemon answered.
func (m *manager) askWifi(ctx context.Context, r *relay.Relay) bool {
	ctx, cancel := context.WithTimeout(ctx, wifiAsk)
	defer cancel()
	status, err := r.Request(ctx, "STATUS")
	var w WifiStatus
	ok := err == nil
	if ok {
		signal, _ := r.Request(ctx, "SIGNAL_POLL") // hostapd has none
		w, ok = parseWifi(status, signal)
		w.Checked = time.Now()
	}
	m.mu.Lock()
	wasWifi := m.status.Stage == StageWifi
	if ok {
		m.status.Wifi = &w
	}
	m.mu.Unlock()
	switch {
	case ok && w.Connected():
		m.advance(StageWifi)
	case ok:
		m.advance(StageUp)
	case wasWifi:
		m.log.Warnf("VM manager: the Wi-Fi daemon does not answer through the relay: %v", err)
		m.advance(StageUp)
	}
	return ok
}
