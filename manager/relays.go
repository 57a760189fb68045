package manager

import (
	"net/netip"
	"path/filepath"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/relay"
)

// startRelays starts the control-socket pass-through of
// appliance/uds_passthru.conf, when the file exists, once the guest runs.
// A relay that cannot start is logged: the guest runs without it, as it
// did with the shell implementation.
func (m *manager) startRelays() {
	p := m.h.Paths
	uds, exists, warnings, err := config.LoadUDSPassthru(p.UDSPassthruConf())
	for _, w := range warnings {
		m.log.Warn(w)
	}
	if err != nil {
		m.log.Errorf("VM manager: no control-socket pass-through: %v", err)
		return
	}
	if !exists {
		return
	}
	m.log.Debugf("VM manager: configuration as read: %s: network=%v:%v sockets=%+v max_sessions=%d",
		p.UDSPassthruConf(), uds.GuestIP, uds.Netmask, uds.Sockets, uds.MaxSessions)
	sockets := make([]relay.Socket, len(uds.Sockets))
	for i, s := range uds.Sockets {
		sockets[i] = relay.Socket{
			Path: filepath.Join(p.Root, s.Path), User: s.User, Group: s.Group, Mode: s.Mode, Port: s.Port,
		}
	}
	r, err := relay.Start(relay.Options{
		Sockets:    sockets,
		Guest:      uds.GuestIP,
		Resolve:    func() (netip.Addr, error) { return relay.DefaultGateway(Bridge) },
		MaxClients: uds.MaxSessions,
		Log:        m.log,
	})
	if err != nil {
		m.log.Errorf("VM manager: no control-socket pass-through: %v", err)
		return
	}
	m.log.Infof("VM manager: control-socket pass-through started for %d sockets", len(sockets))
	m.mu.Lock()
	m.relays = r
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
