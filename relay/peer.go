package relay

import (
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// What is sent to the clients of a socket never waits for them. A client
// that does not read (a wpa_cli suspended with Ctrl-Z) must not hold up
// the others, the guest connection, or the VM manager, which asks the
// relay for its status. So:
//
//   - Replies and events go into the client's own bounded queue (outbox),
//     under the listener's lock; nothing is written while it is held.
//     One goroutine (flush) writes the queues out with non-blocking sends.
//   - A receiver that is full is tried again for a while (keepFull); a
//     message that still cannot go, or that finds the queue full, is
//     lost, and the client's losses in a row are counted.
//   - An attached client that loses more than detachAfter messages in a
//     row, or whose socket is gone, is detached: what wpa_supplicant does
//     with its own monitors (hostap wpa_supplicant/ctrl_iface_unix.c,
//     wpa_supplicant_ctrl_iface_send: sendmsg with MSG_DONTWAIT, errors
//     counted per monitor and reset by a send that succeeds, the monitor
//     detached when errors > 10 or on ENOENT or EPERM).
//   - A client has at most maxWaiting requests waiting for the guest; a
//     wpa_ctrl client waits for each reply, so only a flood goes beyond,
//     and what goes beyond is dropped, so the others keep their service.
//
// A full receiver is what FreeBSD's kernel reports per receiver: a
// datagram sent to an address lands in the receiving socket's buffer,
// and when that has no room the send fails with ENOBUFS at once, whether
// the socket blocks or not (freebsd-src 14.x and 15.0:
// sys/kern/uipc_usrreq.c, uipc_sosend_dgram: uipc_dgram_sbspace on
// so2->so_rcv, else soroverflow_locked and ENOBUFS; the buffer is
// net.local.dgram.recvspace, 16 KB). Linux instead charges every datagram
// in flight to the sender's own send buffer, shared by all its receivers
// (see full in send_linux.go).
const (
	outboxLength = 32
	keepFull     = time.Second
	retryFull    = 10 * time.Millisecond
	detachAfter  = 10
	maxWaiting   = 4
)

// peer is one client of a socket, by its address, or the relay's own
// subscriber (local). Its fields are guarded by the listener's mu.
type peer struct {
	addr  *net.UnixAddr // nil for the relay's own subscriber
	local chan []byte   // the relay's own subscriber's events

	attached bool
	level    int
	lost     int       // messages in a row that could not be delivered
	waiting  int       // its requests queued or in flight
	unasked  int       // events sent to it since its last request
	floodAt  time.Time // when a request of it was last dropped (see receive)
	out      []outgoing
}

// outgoing is a message waiting in a peer's outbox.
type outgoing struct {
	data    []byte
	event   bool
	expires time.Time // the last moment a full receiver is tried
	seq     uint64    // tells it from a later message
}

// floods tells whether the peer had a request dropped for flooding in
// the last second.
func (p *peer) floods() bool { return time.Since(p.floodAt) < time.Second }

func (p *peer) name() string {
	if p.addr == nil {
		return "the VM manager"
	}
	return p.addr.Name
}

// peerFor gives the peer of an address, known or new. The caller holds
// mu.
func (l *listener) peerFor(addr *net.UnixAddr) *peer {
	p := l.peers[addr.Name]
	if p == nil {
		p = &peer{addr: addr, level: msgInfo}
		l.peers[addr.Name] = p
	}
	return p
}

// forget drops a peer that is neither attached nor waiting for anything.
// The caller holds mu.
func (l *listener) forget(p *peer) {
	if p.addr != nil && !p.attached && p.waiting == 0 && len(p.out) == 0 {
		delete(l.peers, p.addr.Name)
	}
}

// post queues a message for a peer and wakes flush; the caller holds mu.
// The relay's own subscriber takes events without waiting, or loses them.
func (l *listener) post(p *peer, data []byte, event bool) {
	if p.local != nil {
		select {
		case p.local <- data:
		default:
		}
		return
	}
	if len(p.out) >= outboxLength {
		l.lose(p, "its queue is full")
		return
	}
	l.seq++
	p.out = append(p.out, outgoing{data: data, event: event, expires: time.Now().Add(keepFull), seq: l.seq})
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// lose counts a message a peer did not get, and detaches an attached
// peer that has lost more than detachAfter in a row. The caller holds mu.
func (l *listener) lose(p *peer, why string) {
	p.lost++
	if p.attached && p.lost > detachAfter {
		l.r.opts.Log.Warnf("Control socket %s: detached client %s: %d messages in a row could not reach it (%s), as wpa_supplicant detaches a monitor that does not read",
			l.sock.Path, p.name(), p.lost, why)
		l.detachPeer(p)
	}
}

// detachPeer ends a peer's monitoring and drops what waits for it; the
// guest connection is detached with the last monitor. The caller holds
// mu.
func (l *listener) detachPeer(p *peer) {
	p.attached = false
	p.out = nil
	l.forget(p)
	if l.attachedLocked() == 0 {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// flush writes the outboxes out until the relay stops: each peer's
// messages in order, each send non-blocking and made without the lock.
// Messages for a full receiver wait, and are tried again every
// retryFull.
func (l *listener) flush() {
	defer l.r.wg.Done()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-l.wake:
		case <-retry.C:
		case <-l.r.ctx.Done():
			return
		}
		if l.flushOnce() {
			retry.Reset(retryFull)
		}
	}
}

// flushOnce sends what it can of every outbox, and tells whether
// something waits for a full receiver.
func (l *listener) flushOnce() (waiting bool) {
	type head struct {
		p    *peer
		msg  outgoing
		full bool // taken as full without a send (see full)
	}
	for {
		var heads []head
		l.mu.Lock()
		for _, p := range l.peers {
			if len(p.out) > 0 {
				heads = append(heads, head{p, p.out[0], l.full(p, p.out[0].event)})
			}
		}
		l.mu.Unlock()
		if len(heads) == 0 {
			return false
		}
		sent, full := 0, 0
		for _, h := range heads {
			err := error(unix.ENOBUFS)
			if !h.full {
				err = l.deliver(h.msg.data, h.p.addr)
			}
			l.mu.Lock()
			if len(h.p.out) == 0 || h.p.out[0].seq != h.msg.seq {
				l.mu.Unlock() // detached meanwhile
				continue
			}
			switch {
			case err == nil:
				h.p.out = h.p.out[1:]
				h.p.lost = 0
				if h.msg.event {
					h.p.unasked++
				}
				sent++
			case isFull(err) && time.Now().Before(h.msg.expires):
				full++
			case isGone(err):
				l.r.opts.Log.Debugf("Control socket %s: client %s is gone: %v", l.sock.Path, h.p.name(), err)
				if h.p.attached {
					l.detachPeer(h.p)
				}
				h.p.out, h.p.waiting = nil, 0
				delete(l.peers, h.p.addr.Name)
			default:
				l.r.opts.Log.Debugf("Control socket %s: message to %s lost: %v", l.sock.Path, h.p.name(), err)
				h.p.out = h.p.out[1:]
				l.lose(h.p, err.Error())
			}
			if len(h.p.out) == 0 {
				l.forget(h.p)
			}
			l.mu.Unlock()
		}
		if sent == 0 {
			return full > 0
		}
	}
}

// isFull tells a receiver that has no room now: ENOBUFS on FreeBSD,
// EAGAIN on Linux.
func isFull(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)
}

// isGone tells a receiver that is no more: its socket file removed
// (ENOENT), closed (ECONNREFUSED), or connected elsewhere (EPERM).
func isGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.EPERM)
}

// sendNow sends a datagram on the socket without waiting: a receiver
// with no room is an error, never a wait.
func (l *listener) sendNow(b []byte, to *net.UnixAddr) error {
	var err error
	cerr := l.raw.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, &unix.SockaddrUnix{Name: to.Name})
		return true
	})
	if cerr != nil {
		return cerr
	}
	if errno, ok := err.(syscall.Errno); ok {
		return errno
	}
	return err
}
