package relay

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
	maxBackoff = 5 * time.Second
)

// msgInfo is the level of a new monitor, MSG_INFO (hostap
// src/utils/wpa_debug.h; src/common/ctrl_iface_common.c,
// ctrl_iface_attach): it receives the events of that level and above.
const msgInfo = 3

// request is a client's message waiting for the guest.
type request struct {
	from *net.UnixAddr
	msg  []byte
	// answer, when not nil, takes the reply instead of from: a request
	// of the relay's own user (Request), never ATTACH, DETACH or LEVEL.
	answer chan<- []byte
}

// monitor is a client that sent ATTACH: it receives the events of its
// level and above.
type monitor struct {
	addr  *net.UnixAddr
	level int
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
func (l *listener) run() {
	defer l.r.wg.Done()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	backoff := minBackoff
	for {
		select {
		case req := <-l.reqs:
			l.handle(req)
		case <-l.up.lost:
			l.drop("the guest closed the connection")
			if l.monitors() > 0 {
				retry.Reset(0)
			}
		case <-retry.C:
			if l.up.conn != nil || l.monitors() == 0 {
				backoff = minBackoff
				continue
			}
			if err := l.connect(); err != nil {
				if l.r.ctx.Err() != nil {
					continue // stopping: Done is next
				}
				logf := l.r.opts.Log.Debugf // while the guest restarts, say
				if backoff == minBackoff {
					logf = l.r.opts.Log.Warnf
				}
				logf("Control socket %s: reconnect to the guest: %v; trying again in %v", l.sock.Path, err, backoff)
				retry.Reset(backoff)
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			backoff = minBackoff
		case <-l.idle:
			if l.monitors() == 0 && l.up.attached {
				l.exchange([]byte("DETACH"))
				l.up.attached = false
			}
		case <-l.r.ctx.Done():
			l.drop("the relay stops")
			return
		}
	}
}

// handle answers one request: ATTACH, DETACH and LEVEL are the relay's
// per client, anything else goes to the guest.
func (l *listener) handle(req request) {
	if req.answer != nil {
		req.answer <- l.forward(req.msg)
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
		reply = l.forward(req.msg)
	}
	l.reply(req.from, reply)
}

// attach makes the client a monitor; the guest connection is attached
// when it is not yet, or when ATTACH carries options for the guest.
func (l *listener) attach(req request, arg string) []byte {
	l.mu.Lock()
	_, known := l.clients[req.from.Name]
	full := !known && len(l.clients) >= l.r.opts.MaxClients
	l.mu.Unlock()
	if full {
		return fmt.Appendf(nil, "FAIL relay: too many attached clients (%d)\n", l.r.opts.MaxClients)
	}
	if !l.up.attached || arg != "" {
		if reply := l.forward(req.msg); !bytes.Equal(reply, ok) {
			return reply
		}
		l.up.attached = true
		l.up.level = msgInfo
	}
	l.mu.Lock()
	if !known {
		l.clients[req.from.Name] = &monitor{addr: req.from, level: msgInfo}
	}
	l.mu.Unlock()
	return l.syncLevel()
}

// detach ends a client's monitoring, and the guest connection's with the
// last one. A client that is no monitor gets FAIL, as from the guest.
func (l *listener) detach(req request) []byte {
	l.mu.Lock()
	_, known := l.clients[req.from.Name]
	delete(l.clients, req.from.Name)
	left := len(l.clients)
	l.mu.Unlock()
	if !known {
		return fail
	}
	if left == 0 && l.up.attached { // attached: connected
		l.up.attached = false
		return l.exchange(req.msg)
	}
	return l.syncLevel()
}

// setLevel sets a monitor's level; the guest connection gets the lowest
// level of the monitors.
func (l *listener) setLevel(req request, arg string) []byte {
	n, _ := strconv.Atoi(strings.TrimSpace(arg)) // atoi, as ctrl_iface_level
	l.mu.Lock()
	m := l.clients[req.from.Name]
	if m != nil {
		m.level = n
	}
	l.mu.Unlock()
	if m == nil {
		return fail
	}
	return l.syncLevel()
}

// syncLevel gives the guest connection the lowest level of the monitors,
// if it is attached and has another; it returns the guest's reply, or OK.
func (l *listener) syncLevel() []byte {
	want := -1
	l.mu.Lock()
	for _, m := range l.clients {
		if want == -1 || m.level < want {
			want = m.level
		}
	}
	l.mu.Unlock()
	if want == -1 || !l.up.attached || want == l.up.level {
		return ok
	}
	reply := l.forward([]byte("LEVEL " + strconv.Itoa(want)))
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
// gives the reply, or the relay's FAIL.
func (l *listener) forward(msg []byte) []byte {
	if l.up.conn == nil {
		if err := l.connect(); err != nil {
			l.r.opts.Log.Warnf("Control socket %s: guest unreachable: %v", l.sock.Path, err)
			return []byte("FAIL relay: guest unreachable: " + err.Error() + "\n")
		}
	}
	return l.exchange(msg)
}

// exchange sends a request on the guest connection and waits for its
// reply, within ReplyTimeout. A connection whose reply did not come is
// closed, so that a late reply cannot answer the next request.
//
// Some replies are empty (BSS past the last entry, which wpa_gui reads
// to the end): wpa_supplicant sends an empty datagram, of which socat
// writes nothing to the stream. So a request not answered within
// probeAfter is followed by a PING: the daemon answers requests in order,
// so a PONG that comes first tells that the request's reply was empty;
// otherwise the reply comes, then the PONG (or both in one read), which
// is not passed on.
func (l *listener) exchange(msg []byte) []byte {
	for len(l.replies) > 0 { // late replies of a request given up
		<-l.replies
	}
	l.awaiting.Store(1)
	defer l.awaiting.Store(0)
	if err := l.send(msg); err != nil {
		return []byte("FAIL relay: send to the guest: " + err.Error() + "\n")
	}
	timeout := time.NewTimer(l.r.opts.ReplyTimeout)
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
// it when clients are attached.
func (l *listener) connect() error {
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
	if reply := l.exchange([]byte("ATTACH")); !bytes.Equal(reply, ok) {
		l.drop("ATTACH refused")
		return fmt.Errorf("attach again: the guest answered %q", reply)
	}
	l.up.attached, l.up.level = true, msgInfo
	if reply := l.syncLevel(); !bytes.Equal(reply, ok) {
		l.drop("LEVEL refused")
		return fmt.Errorf("set the level again: the guest answered %q", reply)
	}
	l.r.opts.Log.Infof("Control socket %s: attached to the guest again for %d clients", l.sock.Path, l.monitors())
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
	var gone []string
	for name, c := range l.clients {
		if lv < c.level {
			continue
		}
		_, err := l.conn.WriteToUnix(m.data, c.addr)
		switch {
		case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT):
			gone = append(gone, name)
		case err != nil:
			l.r.opts.Log.Debugf("Control socket %s: event to %s lost: %v", l.sock.Path, name, err)
		}
	}
	for _, name := range gone {
		delete(l.clients, name)
		l.r.opts.Log.Debugf("Control socket %s: attached client %s is gone", l.sock.Path, name)
	}
	empty := len(gone) > 0 && len(l.clients) == 0
	l.mu.Unlock()
	if empty {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
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

// monitors tells how many clients are attached.
func (l *listener) monitors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
