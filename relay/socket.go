package relay

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// queueLength bounds the requests waiting for the guest connection; each
// client has at most maxWaiting of them.
const queueLength = 64

// listener is one relayed socket: its clients' requests, the one guest
// connection they share (see run), and its clients (see peer.go).
type listener struct {
	r    *Relay
	sock Socket
	conn *net.UnixConn
	raw  syscall.RawConn
	// deliver sends a datagram without waiting (sendNow; a model of
	// the kernel in tests).
	deliver func(b []byte, to *net.UnixAddr) error

	reqs     chan *request
	replies  chan []byte   // the replies to the request in flight (see exchange)
	idle     chan struct{} // the last monitor is gone
	kick     chan struct{} // the guest may be reachable now (Kick)
	wake     chan struct{} // an outbox has messages (flush)
	awaiting atomic.Int32  // how many replies are still to come
	up       upstream

	mu    sync.Mutex
	peers map[string]*peer // by address; the relay's own subscriber under ""
	seq   uint64           // of the last message posted
	// handed: the socket is the next relay's (Handover), not removed.
	handed bool
}

// listen creates the socket: its directory (0755) when missing, the
// socket itself in place of a stale one, then its owner and mode. A path
// or directory that is a symbolic link, or a path held by a file that is
// not a socket, is refused.
func listen(r *Relay, s Socket) (*listener, error) {
	if h, ok := r.opts.Adopt[s.Path]; ok {
		return adopt(r, s, h)
	}
	l, err := bind(r, s)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", s.Path, err)
	}
	return l, nil
}

func bind(r *Relay, s Socket) (*listener, error) {
	uid, gid, err := owner(s)
	if err != nil {
		return nil, err
	}
	if err := prepare(s.Path); err != nil {
		return nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	l, err := newListener(r, s, conn)
	if err != nil {
		return nil, errors.Join(err, os.Remove(s.Path))
	}
	if err := l.own(uid, gid); err != nil {
		l.shut()
		return nil, errors.Join(err, l.remove())
	}
	return l, nil
}

// newListener serves conn, the socket of s.
func newListener(r *Relay, s Socket, conn *net.UnixConn) (*listener, error) {
	l := &listener{
		r: r, sock: s, conn: conn,
		reqs:    make(chan *request, queueLength),
		replies: make(chan []byte, 2),
		idle:    make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		peers:   make(map[string]*peer),
	}
	l.deliver = l.sendNow
	if r.opts.deliver != nil {
		l.deliver = r.opts.deliver
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	l.raw = raw
	return l, nil
}

// owner gives the numbers of the socket's user and group, -1 for those
// left unchanged.
func owner(s Socket) (uid, gid int, err error) {
	uid, err = lookupID("user", s.User, func(name string) (string, error) {
		u, err := user.Lookup(name)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
	if err != nil {
		return 0, 0, err
	}
	gid, err = lookupID("group", s.Group, func(name string) (string, error) {
		g, err := user.LookupGroup(name)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
	return uid, gid, err
}

// Check tells, without creating anything, why the relay of these
// sockets could not start as configured: a user or group that does not
// exist, or a path that is refused (see inspect). nil when nothing known
// stands in the way.
func Check(sockets []Socket) error {
	for _, s := range sockets {
		if _, _, err := owner(s); err != nil {
			return fmt.Errorf("socket %s: %w", s.Path, err)
		}
		if _, _, err := inspect(s.Path); err != nil {
			return fmt.Errorf("socket %s: %w", s.Path, err)
		}
	}
	return nil
}

// lookupID gives the number of a user or group given by name or number,
// or -1 (leave unchanged) for "".
func lookupID(kind, name string, lookup func(string) (string, error)) (int, error) {
	if name == "" {
		return -1, nil
	}
	id := name
	if _, err := strconv.ParseUint(name, 10, 32); err != nil {
		if id, err = lookup(name); err != nil {
			return 0, fmt.Errorf("look up %s %q: %w; name an existing %s or give a number", kind, name, err, kind)
		}
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("look up %s %q: malformed number %q", kind, name, id)
	}
	return int(n), nil
}

// prepare makes way for binding path: the directory is created when
// missing, a stale socket removed. Nothing here follows a symbolic link.
func prepare(path string) error {
	noDir, stale, err := inspect(path)
	switch {
	case err != nil:
		return err
	case noDir:
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	case stale:
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove stale socket: %w", err)
		}
	}
	return nil
}

// inspect tells, without following a symbolic link, whether path can be
// bound: its directory is missing (noDir), a stale socket is in its place
// (stale), or it is refused (err): a directory that is a symbolic link or
// no directory, a path that is a symbolic link or a file but a socket.
func inspect(path string) (noDir, stale bool, err error) {
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, false, nil
	case err != nil:
		return false, false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, false, fmt.Errorf("directory %s refused, a symbolic link: %w; give the real directory in uds_passthru.conf", dir, unix.ELOOP)
	case !fi.IsDir():
		return false, false, fmt.Errorf("%s is not a directory: %w", dir, unix.ENOTDIR)
	}
	fi, err = os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, false, nil
	case err != nil:
		return false, false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, false, fmt.Errorf("refused, a symbolic link: %w; remove it or give another path in uds_passthru.conf", unix.ELOOP)
	case fi.Mode().Type() != fs.ModeSocket:
		return false, false, fmt.Errorf("a file that is not a socket is in the way: %w; remove it or give another path in uds_passthru.conf", unix.EEXIST)
	}
	return false, true, nil
}

// own gives the socket its owner and mode. The path was just bound in a
// directory that is not a symbolic link; it is checked to be the socket
// still before chmod, which follows links.
func (l *listener) own(uid, gid int) error {
	if uid != -1 || gid != -1 {
		if err := os.Lchown(l.sock.Path, uid, gid); err != nil {
			return err
		}
	}
	if l.sock.Mode == 0 {
		return nil
	}
	fi, err := os.Lstat(l.sock.Path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("replaced by another file while being created: %w", unix.EEXIST)
	}
	return os.Chmod(l.sock.Path, l.sock.Mode.Perm())
}

// serve reads the clients' messages until the socket is closed.
func (l *listener) serve() {
	defer l.r.wg.Done()
	buf := make([]byte, MaxMessage+1) // one more byte tells a longer message
	for {
		n, from, err := l.conn.ReadFromUnix(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.r.opts.Log.Errorf("Control socket %s: read: %v; it no longer relays", l.sock.Path, err)
			}
			return
		}
		l.receive(buf[:n], from)
	}
}

// receive queues a client's request for the guest connection. A client
// that has maxWaiting requests waiting already floods: its request is
// dropped, unanswered, as an answer would only fill its socket.
func (l *listener) receive(msg []byte, from *net.UnixAddr) {
	log := l.r.opts.Log
	if from == nil || from.Name == "" {
		log.Warnf("Control socket %s: dropped a message from a client whose socket has no address: replies could not reach it", l.sock.Path)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peerFor(from)
	p.unasked = 0
	if len(msg) > MaxMessage {
		log.Warnf("Control socket %s: refused a message longer than %d bytes from %s", l.sock.Path, MaxMessage, from.Name)
		l.post(p, fmt.Appendf(nil, "FAIL relay: message longer than %d bytes\n", MaxMessage), false)
		return
	}
	if p.waiting >= maxWaiting {
		if !p.floods() {
			log.Warnf("Control socket %s: client %s sends requests without waiting for the replies: its requests beyond %d are dropped", l.sock.Path, from.Name, maxWaiting)
		}
		p.floodAt = time.Now()
		return
	}
	req := &request{peer: p, msg: bytes.Clone(msg)}
	p.waiting++
	l.expire(req)
	select {
	case l.reqs <- req:
	default:
		log.Warnf("Control socket %s: refused a message from %s: %d requests already wait for the guest", l.sock.Path, from.Name, queueLength)
		req.timer.Stop()
		if req.done.CompareAndSwap(false, true) {
			p.waiting--
			l.post(p, fmt.Appendf(nil, "FAIL relay: busy: %d requests already wait for the guest\n", queueLength), false)
		}
	}
}

// shut closes the socket, which ends serve.
func (l *listener) shut() {
	l.conn.Close()
}

// remove removes the socket file, if it is still a socket and not
// handed over.
func (l *listener) remove() error {
	if l.handed {
		return nil
	}
	fi, err := os.Lstat(l.sock.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("remove control socket %s: %w", l.sock.Path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return nil // replaced by someone else: theirs now
	}
	if err := os.Remove(l.sock.Path); err != nil {
		return fmt.Errorf("remove control socket %s: %w", l.sock.Path, err)
	}
	return nil
}
