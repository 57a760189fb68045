package manager

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

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
	// wifiRecheck is how often the Wi-Fi is asked about besides the
	// daemon's events: a safety net for an event lost, and the signal,
	// which changes without one.
	wifiRecheck = 30 * time.Second
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
// ctx ends: the stage up at the first write to the guest's log, and the
// stage wifi from the events of wpa_supplicant or hostapd, of which the
// manager is an attached client through the relay (see associationEvent),
// the details asked once at each; then the watchdog.
func (m *manager) follow(ctx context.Context, started time.Time) {
	path := guestLog(m.h.Paths)
	changes := m.logChanges(path)
	// Written since bhyve started (the kernel stamps files with a coarse
	// clock, a tick behind): the guest came up before the watch began.
	if fi, err := guestLogInfo(m.h.Paths); err == nil && !fi.ModTime().Before(started.Add(-mtimeSlack)) {
		m.guestUp()
	}
	r := m.relay()
	var events <-chan []byte
	var lastAnswer time.Time
	ask := func() {
		if r != nil && m.askWifi(ctx, r) {
			lastAnswer = time.Now()
		}
	}
	if r != nil {
		events = r.Subscribe() // its nil, once attached, asks
	}
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
			if r != nil {
				r.Kick() // its daemons may listen now
			}
		case e := <-events:
			if associationEvent(e) {
				ask()
				recheck.Reset(wifiRecheck)
			}
		case <-recheck.C:
			ask()
			recheck.Reset(wifiRecheck)
		case <-watchdog:
			ask()
			if !lastAnswer.IsZero() && time.Since(lastAnswer) >= m.watchdog {
				m.log.Warnf("VM manager: watchdog: the guest has not answered on its control socket for %s, restarting it", time.Since(lastAnswer).Round(time.Second))
				m.update(func(s *Status) { s.LastExit = "restarted by the watchdog: no answer on the control socket" })
				if err := m.h.VMs.SuspendVM(host.VMName, host.SuspendReset); err != nil {
					m.log.Errorf("VM manager: watchdog: reset %s: %v", host.VMName, err)
				}
				watchdog = nil
			}
		}
	}
}

// associationEvents are the events of wpa_supplicant and hostapd that
// change whether the Wi-Fi works (hostap wpa_supplicant/events.c,
// wpa_supplicant_event_assoc and wpa_supplicant_event_disassoc;
// wpa_supplicant.c, wpa_supplicant_terminate_proc; src/ap/hostapd.c,
// hostapd_set_state: AP-ENABLED, AP-DISABLED).
var associationEvents = []string{
	"CTRL-EVENT-CONNECTED", "CTRL-EVENT-DISCONNECTED", "CTRL-EVENT-TERMINATING",
	"AP-ENABLED", "AP-DISABLED",
}

// associationEvent tells whether an event from the relay may have changed
// the Wi-Fi: one of associationEvents, or the relay's nil, which says it
// has just attached, so that earlier events were not seen.
func associationEvent(e []byte) bool {
	if e == nil {
		return true
	}
	if i := bytes.IndexByte(e, '>'); i >= 0 {
		e = e[i+1:]
	}
	for _, name := range associationEvents {
		if bytes.HasPrefix(e, []byte(name)) {
			return true
		}
	}
	return false
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
		m.status.WifiSilentSince = time.Time{}
	} else if m.status.Wifi != nil && m.status.WifiSilentSince.IsZero() {
		m.status.WifiSilentSince = time.Now()
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
