package manager

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/relay"
)

// RelayConfig reads appliance/uds_passthru.conf and checks, changing
// nothing, that its sockets can be created: their users and groups exist,
// their paths are not refused. It gives the configuration, whether the
// file exists, its warnings (unknown names), and why the control-socket
// pass-through cannot run, naming the file (file:line:column) and what to
// do; nil when it can, or when the file does not exist. start warns of
// it, status and wait tell it, doctor lists it, and the VM manager runs
// the guest without the pass-through.
func RelayConfig(p host.Paths) (config.UDSPassthru, bool, []string, error) {
	uds, exists, warnings, err := config.LoadUDSPassthru(p.UDSPassthruConf())
	if err != nil || !exists {
		return uds, exists, warnings, err
	}
	for _, s := range relaySockets(p, uds) {
		if err := relay.Check(s); err != nil {
			return uds, true, warnings, fmt.Errorf("%s: sockets entry for %s: %w", uds.SocketsAt, s.Path, err)
		}
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

// startRelays starts the control-socket pass-through of
// appliance/uds_passthru.conf, when the file exists, once the guest runs.
// A relay that cannot start is logged: the guest runs without it, as it
// did with the shell implementation.
func (m *manager) startRelays() {
	p := m.h.Paths
	uds, exists, warnings, err := RelayConfig(p)
	for _, w := range warnings {
		m.log.Warn(w)
	}
	if err != nil || !exists {
		m.noRelayFor(exists, err)
		return
	}
	m.log.Debugf("VM manager: configuration as read: %s: network=%v:%v sockets=%+v max_sessions=%d",
		p.UDSPassthruConf(), uds.GuestIP, uds.Netmask, uds.Sockets, uds.MaxSessions)
	sockets := relaySockets(p, uds)
	r, err := relay.Start(relay.Options{
		Sockets:    sockets,
		Guest:      uds.GuestIP,
		Resolve:    func() (netip.Addr, error) { return relay.DefaultGateway(Bridge) },
		MaxClients: uds.MaxSessions,
		Log:        m.log,
	})
	if err != nil {
		m.noRelayFor(true, err)
		return
	}
	m.log.Infof("VM manager: control-socket pass-through started for %d sockets", len(sockets))
	m.mu.Lock()
	m.relays = r
	m.mu.Unlock()
}

// noRelayFor logs why the guest runs without the pass-through, when it
// is for err, and keeps why for status.
func (m *manager) noRelayFor(exists bool, err error) {
	if err != nil {
		m.log.Errorf("VM manager: no control-socket pass-through: %v", err)
	}
	m.mu.Lock()
	m.noRelay = unseen(exists, err)
	m.mu.Unlock()
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
