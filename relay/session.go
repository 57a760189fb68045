package relay

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// session relays one client of a socket over its own TCP connection to
// the guest: each message from the client is one write to the guest, each
// read from the guest one message back to the client's address. It ends
// when the client vanishes, stays idle past IdleTimeout, the guest closes
// the connection, or the relay stops.
type session struct {
	l      *listener
	client *net.UnixAddr
	in     chan []byte // the client's messages, in order
	ctx    context.Context
	cancel context.CancelFunc
	end    sync.Once
}

func newSession(l *listener, client *net.UnixAddr) *session {
	s := &session{l: l, client: client, in: make(chan []byte, queueLength)}
	s.ctx, s.cancel = context.WithCancel(l.r.ctx)
	return s
}

// run connects to the guest and sends it the client's messages.
func (s *session) run() {
	defer s.l.r.wg.Done()
	log := s.l.r.opts.Log
	conn, err := s.dial()
	if err != nil {
		s.close("guest unreachable: " + err.Error())
		if s.l.r.ctx.Err() != nil {
			return
		}
		log.Warnf("Control socket %s: client %s: guest unreachable: %v", s.l.sock.Path, s.client.Name, err)
		// Every message that waited for the connection gets the
		// failure as its reply, so no client waits for nothing. The
		// session is forgotten already: nothing more is queued.
		for {
			select {
			case <-s.in:
				s.l.reply(s.client, "FAIL relay: guest unreachable: "+err.Error())
			default:
				return
			}
		}
	}
	log.Debugf("Control socket %s: session of %s connected to %s", s.l.sock.Path, s.client.Name, conn.RemoteAddr())
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	s.l.r.wg.Add(1)
	go s.fromGuest(conn)

	timeout := s.l.r.opts.IdleTimeout
	idle := time.NewTimer(timeout)
	defer idle.Stop()
	for {
		select {
		case msg := <-s.in:
			idle.Reset(timeout)
			if _, err := conn.Write(msg); err != nil {
				s.close("send to guest: " + err.Error())
				return
			}
		case <-idle.C:
			if !s.l.forget(s, true) {
				idle.Reset(timeout) // a message is waiting
				continue
			}
			s.close("idle for " + timeout.String())
			return
		case <-s.ctx.Done():
			s.close("closed")
			return
		}
	}
}

// dial connects to the guest's port, within DialTimeout.
func (s *session) dial() (net.Conn, error) {
	addr, err := s.l.r.guest()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: DialTimeout}
	return d.DialContext(s.ctx, "tcp", netip.AddrPortFrom(addr, uint16(s.l.sock.Port)).String())
}

// fromGuest sends what the guest writes back to the client, one message
// per read.
func (s *session) fromGuest(conn net.Conn) {
	defer s.l.r.wg.Done()
	buf := make([]byte, MaxMessage)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			s.close("guest connection: " + err.Error())
			return
		}
		_, err = s.l.conn.WriteToUnix(buf[:n], s.client)
		switch {
		case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT):
			s.close("client gone: " + err.Error())
			return
		case errors.Is(err, net.ErrClosed):
			s.close("socket closed")
			return
		case err != nil:
			// The message is lost (say, the client's queue is
			// full); the client is still there.
			s.l.r.opts.Log.Warnf("Control socket %s: send to %s: %v", s.l.sock.Path, s.client.Name, err)
		}
	}
}

// close ends the session once: the client is forgotten and the guest
// connection closed.
func (s *session) close(why string) {
	s.end.Do(func() {
		s.l.forget(s, false)
		s.cancel()
		s.l.r.opts.Log.Debugf("Control socket %s: session of %s ended: %s", s.l.sock.Path, s.client.Name, why)
	})
}
