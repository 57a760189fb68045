package manager

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/relay"
)

// RelayConfig reads appliance/uds_passthru.conf and checks, changing
// nothing, that its sockets can be created: their users and groups exist,
// their paths are not refused (relay.Check). It gives the configuration,
// whether the file exists, its warnings (unknown names), and why the
// control-socket relay cannot start, naming the file (file:line:column)
// and what to do; nil when it can, or when the file does not exist. start
// warns of it, doctor lists it, status and wait tell it (RelayProblem).
func RelayConfig(p host.Paths) (config.UDSPassthru, bool, []string, error) {
	uds, exists, warnings, err := config.LoadUDSPassthru(p.UDSPassthruConf())
	if err != nil || !exists {
		return uds, exists, warnings, err
	}
	if err := relay.Check(relaySockets(p, uds)); err != nil {
		return uds, true, warnings, fmt.Errorf("%s: the control-socket relay cannot start as %s says: %w", uds.SocketsAt, p.UDSPassthruConf(), err)
	}
	return uds, true, warnings, nil
}

// relaySockets are the relay's sockets of uds_passthru.conf.
func relaySockets(p host.Paths, uds config.UDSPassthru) []relay.Socket {
	sockets := make([]relay.Socket, len(uds.Sockets))
	for i, s := range uds.Sockets {
		sockets[i] = relay.Socket{
			Path: filepath.Join(p.Root, s.Path), User: s.User, Group: s.Group, Mode: s.Mode, Port: s.Port,
		}
	}
	return sockets
}

// relayPlan reads appliance/uds_passthru.conf into the relay's options.
// reason, when not "", says why no relay can start, and so why the stage
// wifi cannot be seen: the file is absent, refused, or names an owner
// that does not exist or a path that is refused (RelayConfig).
func relayPlan(p host.Paths, log *logrus.Logger) (opts relay.Options, reason string) {
	uds, exists, warnings, err := RelayConfig(p)
	if log != nil {
		for _, w := range warnings {
			log.Warn(w)
		}
	}
	switch {
	case err != nil:
		return opts, err.Error()
	case !exists:
		return opts, noRelay
	}
	if log != nil {
		log.Debugf("VM manager: configuration as read: %s: network=%v:%v sockets=%+v max_sessions=%d",
			p.UDSPassthruConf(), uds.GuestIP, uds.Netmask, uds.Sockets, uds.MaxSessions)
	}
	return relay.Options{
		Sockets:    relaySockets(p, uds),
		Guest:      uds.GuestIP,
		MaxClients: uds.MaxSessions,
		Log:        log,
	}, ""
}

// RelayProblem says why the control-socket relay cannot start on the
// host p, and so why the stage wifi cannot be seen; "" when nothing in
// its configuration stands in the way. `wait wifi` gives it, and a
// running VM manager gives it in Status.WifiUnseen.
func RelayProblem(p host.Paths) string {
	_, reason := relayPlan(p, nil)
	return reason
}

// startRelays starts the control-socket pass-through of
// appliance/uds_passthru.conf, when the file exists, once the guest runs.
// A relay that cannot start is logged, and Status.WifiUnseen says why: the
// guest runs without it, as it did with the shell implementation.
func (m *manager) startRelays() {
	opts, reason := relayPlan(m.h.Paths, m.log)
	opts.Resolve = func() (netip.Addr, error) { return m.h.Net.DefaultGateway(m.netif.Bridge) }
	opts.Adopt, m.adopt = m.adopt, nil
	defer func() {
		for _, h := range opts.Adopt {
			h.File.Close() // those not taken over
		}
	}()
	var r *relay.Relay
	if reason == "" {
		var err error
		if r, err = relay.Start(opts); err != nil {
			reason = fmt.Sprintf("the control-socket relay could not start: %v", err)
		}
	}
	if reason != "" {
		if reason != noRelay {
			m.log.Errorf("VM manager: no control-socket pass-through: %s", reason)
		}
		m.wifiUnseen(reason)
		return
	}
	m.log.Infof("VM manager: control-socket pass-through started for %d sockets", len(opts.Sockets))
	m.mu.Lock()
	m.relays = r
	m.mu.Unlock()
}

// wifiUnseen records why the stage wifi cannot be seen, and tells the
// commands waiting for a stage.
func (m *manager) wifiUnseen(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status.WifiUnseen = reason
	close(m.changed)
	m.changed = make(chan struct{})
}

// stopRelays stops the pass-through and removes its sockets.
func (m *manager) stopRelays() {
	m.mu.Lock()
	r := m.relays
	m.relays = nil
	m.mu.Unlock()
	if r == nil {
		return
	}
	if err := r.Stop(); err != nil {
		m.log.Errorf("VM manager: stop the control-socket pass-through: %v", err)
		return
	}
	m.log.Info("VM manager: control-socket pass-through stopped")
}
