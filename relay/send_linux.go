package relay

import "golang.org/x/sys/unix"

// unreadEvents is how many events a client is sent between two of its
// requests before, while the socket's unread datagrams pile up, it is
// taken as not reading (see full).
const unreadEvents = 32

// full tells whether a message to p is taken as finding its receiver
// full although Linux would queue it. Linux charges every datagram a
// receiver has not read to the sender's own send buffer, and applies no
// per-receiver limit to a receiver connected back to the sender, which
// wpa_ctrl's socket is (linux net/unix/af_unix.c, unix_dgram_sendmsg:
// sock_alloc_send_pskb on the sender; unix_recvq_full only when
// unix_peer(other) != sk). One client that does not read would so stop
// every send of the socket, to every client; wpa_supplicant reopens its
// socket when that happens (wpas_ctrl_iface_reinit), which cuts off every
// client. FreeBSD's limit is per receiver (see peer.go); this gives Linux
// one: while the datagrams not yet read (SIOCOUTQ) fill more than a
// quarter of the socket's send buffer, a client sent more than
// unreadEvents events since its last request, or one flooding requests,
// is full. The caller holds mu.
func (l *listener) full(p *peer, event bool) bool {
	if event && p.unasked < unreadEvents || !event && !p.floods() {
		return false
	}
	outq, sndbuf := -1, 0
	l.raw.Control(func(fd uintptr) {
		outq, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		sndbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return outq > sndbuf/4
}
