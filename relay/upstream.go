package relay

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The bounds of the guest connection: reading the rest of a long message;
// waiting for a reply before probing for an empty one (see exchange);
// waiting for the guest's end of a connection to end (see drop); and
// waiting between attempts to connect again while clients are attached.
const (
	settle     = 20 * time.Millisecond
	probeAfter = 250 * time.Millisecond
	closeWait  = 2 * time.Second
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Second
)

// msgInfo is the level of a new monitor, MSG_INFO (hostap
// src/utils/wpa_debug.h; src/common/ctrl_iface_common.c,
// ctrl_iface_attach): it receives the events of that level and above.
const msgInfo = 3

// request is a client's message waiting for the guest. It is answered
// once, by finish: with the guest's reply, or with the relay's FAIL when
// ReplyTimeout has passed since it came, wherever it then waits.
type request struct {
	peer *peer // nil for a request of the relay's own (answer)
	msg  []byte
	// answer, when not nil, takes the reply instead of the peer: a
	// request of the relay's own user (Request), never ATTACH, DETACH or
	// LEVEL.
	answer   chan<- []byte
	deadline time.Time
	timer    *time.Timer
	done     atomic.Bool
}

// expire sets the request's deadline, ReplyTimeout from now, at which it
// fails unless answered.
func (l *listener) expire(req *request) {
	t := l.r.opts.ReplyTimeout
	req.deadline = time.Now().Add(t)
	req.timer = time.AfterFunc(t, func() {
		l.answer(req, []byte("FAIL relay: no reply from the guest within "+t.String()+"\n"))
	})
}

// finish answers a request, unless it has been answered, and stops its
// deadline.
func (l *listener) finish(req *request, reply []byte) {
	if l.answer(req, reply) {
		req.timer.Stop()
	}
}

// answer answers a request, unless it has been answered, and tells
// whether it did.
func (l *listener) answer(req *request, reply []byte) bool {
	if !req.done.CompareAndSwap(false, true) {
		return false
	}
	if req.answer != nil {
		req.answer <- reply
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	req.peer.waiting--
	l.post(req.peer, reply, false)
	l.forget(req.peer)
	return true
}

// upstream is the one connection of a socket to the guest, and what the
// guest knows of it: whether it is attached, at which level. Only run's
// goroutine uses it.
type upstream struct {
	conn     net.Conn
	lost     chan struct{} // closed when the connection's reader ends
	attached bool
	level    int
}

// run relays the clients' requests to the guest one at a time, and keeps
// the guest connection while clients are attached, until the relay stops.
// While the guest cannot be reached, attached clients stay, and the
// connection is tried again, at once when Kick says the guest may be
// there.
func (l *listener) run() {
	defer l.r.wg.Done()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	backoff := minBackoff
	pending := false // retry is set
	for {
		select {
		case req := <-l.reqs:
			l.handle(req)
		case <-l.up.lost:
			l.drop("the guest closed the connection")
		case <-l.kick:
			backoff = minBackoff
			if l.up.conn != nil && !l.up.attached && l.monitors() > 0 {
				if err := l.attachUp(time.Now().Add(l.r.opts.ReplyTimeout)); err != nil {
					l.r.opts.Log.Debugf("Control socket %s: %v", l.sock.Path, err)
				}
			}
			if l.up.conn == nil && l.monitors() > 0 {
				retry.Reset(0)
				pending = true
			}
		case <-retry.C:
			pending = false
			if l.up.conn != nil || l.monitors() == 0 {
				backoff = minBackoff
				continue
			}
			if err := l.connect(time.Now().Add(l.r.opts.ReplyTimeout)); err != nil {
				if l.r.ctx.Err() != nil {
					continue // stopping: Done is next
				}
				// The guest boots, or restarts: expected, so not a
				// warning; attaching is logged.
				l.r.opts.Log.Debugf("Control socket %s: connect to the guest: %v; trying again in %v", l.sock.Path, err, backoff)
				retry.Reset(backoff)
				pending = true
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			backoff = minBackoff
		case <-l.idle:
			if l.monitors() == 0 && l.up.attached {
				l.exchange([]byte("DETACH"), time.Now().Add(l.r.opts.ReplyTimeout))
				l.up.attached = false
			}
		case <-l.r.ctx.Done():
			l.drop("the relay stops")
			return
		}
		if !pending && l.up.conn == nil && l.monitors() > 0 && l.r.ctx.Err() == nil {
			retry.Reset(backoff)
			pending = true
		}
	}
}

// handle answers one request: ATTACH, DETACH and LEVEL are the relay's
// per client, anything else goes to the guest. A request whose time has
// passed while it waited has had its FAIL.
func (l *listener) handle(req *request) {
	if req.done.Load() {
		return
	}
	if req.answer != nil {
		l.finish(req, l.forward(req.msg, req.deadline))
		return
	}
	cmd, arg, _ := strings.Cut(string(req.msg), " ")
	var reply []byte
	switch cmd {
	case "ATTACH":
		reply = l.attach(req, arg)
	case "DETACH":
		reply = l.detach(req)
	case "LEVEL":
		reply = l.setLevel(req, arg)
	default:
		reply = l.forward(req.msg, req.deadline)
	}
	l.finish(req, reply)
}

// attach makes the client a monitor. The guest connection is attached
// when it is not yet, or when ATTACH carries options for the guest. A
// guest that cannot be reached now does not fail ATTACH: the client is
// kept, and the connection attached for it when the guest comes (run).
func (l *listener) attach(req *request, arg string) []byte {
	p := req.peer
	l.mu.Lock()
	known := p.attached
	full := !known && p.local == nil && l.clientsLocked() >= l.r.opts.MaxClients
	if !full && !known {
		p.attached, p.level, p.lost = true, msgInfo, 0
	}
	l.mu.Unlock()
	if full {
		return fmt.Appendf(nil, "FAIL relay: too many attached clients (%d)\n", l.r.opts.MaxClients)
	}
	if l.up.conn == nil {
		if err := l.connect(req.deadline); err != nil {
			l.r.opts.Log.Infof("Control socket %s: %s attached while the guest cannot be reached (%v): it gets the guest's events once the guest answers", l.sock.Path, p.name(), err)
			return ok
		}
		if arg == "" {
			return ok // connect attached it
		}
	}
	if !l.up.attached || arg != "" {
		if reply := l.exchange(req.msg, req.deadline); !bytes.Equal(reply, ok) {
			if !known {
				l.mu.Lock()
				l.detachPeer(p)
				l.mu.Unlock()
			}
			return reply
		}
		l.up.attached = true
		l.up.level = msgInfo
	}
	return l.syncLevel(req.deadline)
}

// detach ends a client's monitoring, and the guest connection's with the
// last one. A client that is no monitor gets FAIL, as from the guest.
func (l *listener) detach(req *request) []byte {
	l.mu.Lock()
	known := req.peer.attached
	if known {
		req.peer.attached = false
		req.peer.out = nil
	}
	left := l.attachedLocked()
	l.mu.Unlock()
	if !known {
		return fail
	}
	if left == 0 && l.up.attached { // attached: connected
		l.up.attached = false
		return l.exchange(req.msg, req.deadline)
	}
	return l.syncLevel(req.deadline)
}

// setLevel sets a monitor's level; the guest connection gets the lowest
// level of the monitors.
func (l *listener) setLevel(req *request, arg string) []byte {
	n, _ := strconv.Atoi(strings.TrimSpace(arg)) // atoi, as ctrl_iface_level
	l.mu.Lock()
	attached := req.peer.attached
	if attached {
		req.peer.level = n
	}
	l.mu.Unlock()
	if !attached {
		return fail
	}
	return l.syncLevel(req.deadline)
}

// syncLevel gives the guest connection the lowest level of the monitors,
// if it is attached and has another; it returns the guest's reply, or OK.
func (l *listener) syncLevel(deadline time.Time) []byte {
	want := -1
	l.mu.Lock()
	for _, p := range l.peers {
		if p.attached && (want == -1 || p.level < want) {
			want = p.level
		}
	}
	l.mu.Unlock()
	if want == -1 || !l.up.attached || want == l.up.level {
		return ok
	}
	reply := l.forward([]byte("LEVEL "+strconv.Itoa(want)), deadline)
	if bytes.Equal(reply, ok) {
		l.up.level = want
	}
	return reply
}

var (
	ok   = []byte("OK\n")
	fail = []byte("FAIL\n")
	ping = []byte("PING")
	pong = []byte("PONG\n")
)

// forward sends a request to the guest, connecting first if need be, and
// gives the reply, or the relay's FAIL. While the guest cannot be
// reached, PING is answered PONG by the relay: wpa_cli -a and
// interactive wpa_cli PING every ping_interval (5 s) and exit, or drop
// the connection, at any other answer (hostap wpa_supplicant/wpa_cli.c,
// wpa_cli_action_ping), so an attached client lives through a guest's
// restart and gets the new guest's events.
func (l *listener) forward(msg []byte, deadline time.Time) []byte {
	if l.up.conn == nil {
		if err := l.connect(deadline); err != nil {
			if bytes.Equal(msg, ping) {
				return pong
			}
			l.r.opts.Log.Warnf("Control socket %s: guest unreachable: %v", l.sock.Path, err)
			return []byte("FAIL relay: guest unreachable: " + err.Error() + "\n")
		}
	}
	return l.exchange(msg, deadline)
}

// exchange sends a request on the guest connection and waits for its
// reply, until deadline. A connection whose reply did not come is
// closed, so that a late reply cannot answer the next request.
//
// Some replies are empty (BSS past the last entry, which wpa_gui reads
// to the end): wpa_supplicant sends an empty datagram, of which socat
// writes nothing to the stream. So a request not answered within
// probeAfter is followed by a PING: the daemon answers requests in order,
// so a PONG that comes first tells that the request's reply was empty;
// otherwise the reply comes, then the PONG (or both in one read), which
// is not passed on.
func (l *listener) exchange(msg []byte, deadline time.Time) []byte {
	for len(l.replies) > 0 { // late replies of a request given up
		<-l.replies
	}
	l.awaiting.Store(1)
	defer l.awaiting.Store(0)
	if err := l.send(msg); err != nil {
		return []byte("FAIL relay: send to the guest: " + err.Error() + "\n")
	}
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	var probe <-chan time.Time
	if !bytes.Equal(msg, ping) {
		t := time.NewTimer(probeAfter)
		defer t.Stop()
		probe = t.C
	}
	probing := false
	var got []byte // the request's reply, the probe's still to come
	for {
		select {
		case reply := <-l.replies:
			switch {
			case !probing:
				return reply
			case got != nil:
				return got
			case bytes.HasSuffix(reply, pong): // the PONG alone: an empty reply
				return reply[:len(reply)-len(pong)]
			}
			got = reply
		case <-probe:
			probe = nil
			l.awaiting.Add(1)
			if err := l.send(ping); err != nil {
				return []byte("FAIL relay: send to the guest: " + err.Error() + "\n")
			}
			probing = true
		case <-l.up.lost:
			l.drop("the guest closed the connection")
			return []byte("FAIL relay: the guest closed the connection\n")
		case <-timeout.C:
			l.drop("no reply within " + l.r.opts.ReplyTimeout.String())
			if got != nil {
				return got
			}
			return []byte("FAIL relay: no reply from the guest within " + l.r.opts.ReplyTimeout.String() + "\n")
		case <-l.r.ctx.Done():
			return []byte("FAIL relay: stopping\n")
		}
	}
}

// send writes a request to the guest connection; a connection that fails
// is closed.
func (l *listener) send(msg []byte) error {
	_, err := l.up.conn.Write(msg)
	if err != nil {
		l.drop("send: " + err.Error())
	}
	return err
}

// connect opens the guest connection, within DialTimeout, and attaches
// it, until deadline, when clients are attached.
func (l *listener) connect(deadline time.Time) error {
	addr, err := l.r.guest()
	if err != nil {
		return err
	}
	// A guest that ends abruptly (bhyve killed, a crash) sends no FIN:
	// keepalives find the connection dead within about 20 seconds, so a
	// client that only listens for events gets them again from the
	// restarted guest.
	d := net.Dialer{Timeout: DialTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}
	conn, err := d.DialContext(l.r.ctx, "tcp", netip.AddrPortFrom(addr, uint16(l.sock.Port)).String())
	if err != nil {
		return err
	}
	lost := make(chan struct{})
	l.up = upstream{conn: conn, lost: lost}
	l.r.wg.Add(1)
	go l.read(conn, lost)
	l.r.opts.Log.Debugf("Control socket %s: connected to %s", l.sock.Path, conn.RemoteAddr())
	if l.monitors() == 0 {
		return nil
	}
	return l.attachUp(deadline)
}

// attachUp attaches the guest connection for the monitors, at their
// lowest level, and tells the relay's own subscriber.
func (l *listener) attachUp(deadline time.Time) error {
	if reply := l.exchange([]byte("ATTACH"), deadline); !bytes.Equal(reply, ok) {
		l.drop("ATTACH refused")
		return fmt.Errorf("attach again: the guest answered %q", reply)
	}
	l.up.attached, l.up.level = true, msgInfo
	if reply := l.syncLevel(deadline); !bytes.Equal(reply, ok) {
		l.drop("LEVEL refused")
		return fmt.Errorf("set the level again: the guest answered %q", reply)
	}
	l.r.opts.Log.Infof("Control socket %s: attached to the guest for %d monitors", l.sock.Path, l.monitors())
	l.mu.Lock()
	if p := l.peers[""]; p != nil {
		l.post(p, nil, true) // the events before this one were not seen
	}
	l.mu.Unlock()
	return nil
}

// drop closes the guest connection, if there is one; the next request
// opens another. The guest's socat ends its side of a connection 0.5
// seconds after the stream's end (its -t), and removes its bind path as
// it ends: the path the next connection's socat binds. So, unless the
// relay stops, the connection is half-closed and drop waits for the
// guest's side to end (within closeWait) before closing it.
func (l *listener) drop(why string) {
	if l.up.conn == nil {
		return
	}
	if tc, ok := l.up.conn.(*net.TCPConn); ok && l.r.ctx.Err() == nil && tc.CloseWrite() == nil {
		wait := time.NewTimer(closeWait)
		select {
		case <-l.up.lost:
		case <-wait.C:
		case <-l.r.ctx.Done():
		}
		wait.Stop()
	}
	l.up.conn.Close()
	l.r.opts.Log.Debugf("Control socket %s: guest connection closed: %s", l.sock.Path, why)
	l.up = upstream{}
}

// read cuts what the guest sends into messages: replies go to run, events
// to the monitors. It ends when the connection does.
func (l *listener) read(conn net.Conn, lost chan struct{}) {
	defer l.r.wg.Done()
	defer close(lost)
	var sp splitter
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		var msgs []message
		switch {
		case isTimeout(err):
			msgs = sp.flush(l.awaiting.Load() > 0)
		case err != nil:
			return
		default:
			msgs = sp.cut(buf[:n], l.awaiting.Load() > 0)
		}
		for _, m := range msgs {
			l.route(m)
		}
		if len(sp.pending) > 0 {
			conn.SetReadDeadline(time.Now().Add(settle))
		} else {
			conn.SetReadDeadline(time.Time{})
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// route passes a message on: a reply to the request in flight, an event
// to the monitors of its level.
func (l *listener) route(m message) {
	if !m.event {
		if !l.awaited() {
			l.r.opts.Log.Debugf("Control socket %s: dropped a reply no request waits for: %.40q", l.sock.Path, m.data)
			return
		}
		select {
		case l.replies <- m.data:
		default:
		}
		return
	}
	lv := level(m.data)
	l.mu.Lock()
	for _, p := range l.peers {
		if p.attached && lv >= p.level {
			l.post(p, m.data, true)
		}
	}
	l.mu.Unlock()
}

// awaited takes one of the replies awaited, if one is.
func (l *listener) awaited() bool {
	for {
		n := l.awaiting.Load()
		if n <= 0 {
			return false
		}
		if l.awaiting.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// monitors tells how many peers are attached, the relay's own
// subscriber included.
func (l *listener) monitors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attachedLocked()
}

// attachedLocked counts the attached peers; the caller holds mu.
func (l *listener) attachedLocked() int {
	n := 0
	for _, p := range l.peers {
		if p.attached {
			n++
		}
	}
	return n
}

// clientsLocked counts the attached clients, the relay's own subscriber
// left out; the caller holds mu.
func (l *listener) clientsLocked() int {
	n := 0
	for _, p := range l.peers {
		if p.attached && p.local == nil {
			n++
		}
	}
	return n
}
