package relay

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// Handed is a relayed socket handed from one relay to the next across a
// restart of the VM manager (restart guest, restart vmm, resume): the
// socket itself, open, with the clients attached to it. wpa_ctrl's
// clients connect(2) their socket to the relayed one, so only that very
// socket reaches them; one bound anew at the same path would not. The
// datagrams they send meanwhile wait in it.
type Handed struct {
	Path  string       `json:"path"`
	Peers []HandedPeer `json:"peers"` // the attached clients
	File  *os.File     `json:"-"`
}

// HandedPeer is an attached client of a handed socket.
type HandedPeer struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// Handover stops the relay as Stop does, but leaves its sockets in
// place, open in the files it gives, for the next relay (Options.Adopt).
func (r *Relay) Handover() ([]Handed, error) {
	var handed []Handed
	var errs []error
	for _, l := range r.sockets {
		f, err := l.conn.File() // a duplicate, kept open when l.conn closes
		if err != nil {
			errs = append(errs, fmt.Errorf("hand over control socket %s: %w", l.sock.Path, err))
			continue
		}
		h := Handed{Path: l.sock.Path, File: f}
		l.mu.Lock()
		for name, p := range l.peers {
			if p.attached && p.local == nil {
				h.Peers = append(h.Peers, HandedPeer{Name: name, Level: p.level})
			}
		}
		l.mu.Unlock()
		l.handed = true
		handed = append(handed, h)
	}
	return handed, errors.Join(append(errs, r.Stop())...)
}

// adopt takes a socket handed over by the last relay, with its attached
// clients.
func adopt(r *Relay, s Socket, h Handed) (*listener, error) {
	pc, err := net.FilePacketConn(h.File)
	h.File.Close()
	if err != nil {
		return nil, fmt.Errorf("socket %s: take over from the last relay: %w", s.Path, err)
	}
	conn, ok := pc.(*net.UnixConn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("socket %s: take over from the last relay: not a Unix socket", s.Path)
	}
	l, err := newListener(r, s, conn)
	if err != nil {
		return nil, err
	}
	for _, p := range h.Peers {
		l.peers[p.Name] = &peer{addr: &net.UnixAddr{Name: p.Name, Net: "unixgram"}, attached: true, level: p.Level}
	}
	r.opts.Log.Infof("Control socket %s taken over from the last relay with %d attached clients", s.Path, len(h.Peers))
	return l, nil
}
