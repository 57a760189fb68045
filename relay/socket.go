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

	"golang.org/x/sys/unix"
)

// queueLength bounds the requests waiting for the guest connection; each
// wpa_ctrl client sends one request and waits for its reply.
const queueLength = 64

// listener is one relayed socket: its clients' requests, the one guest
// connection they share (see run), and the clients that are attached.
type listener struct {
	r    *Relay
	sock Socket
	conn *net.UnixConn

	reqs     chan request
	replies  chan []byte   // the replies to the request in flight (see exchange)
	idle     chan struct{} // the last monitor is gone
	awaiting atomic.Int32  // how many replies are still to come
	up       upstream

	mu      sync.Mutex
	clients map[string]*monitor // attached clients, by address
}

// listen creates the socket: its directory (0755) when missing, the
// socket itself in place of a stale one, then its owner and mode. A path
// or directory that is a symbolic link, or a path held by a file that is
// not a socket, is refused.
func listen(r *Relay, s Socket) (*listener, error) {
	l, err := bind(r, s)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", s.Path, err)
	}
	return l, nil
}

func bind(r *Relay, s Socket) (*listener, error) {
	uid, err := lookupID("user", s.User, func(name string) (string, error) {
		u, err := user.Lookup(name)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
	if err != nil {
		return nil, err
	}
	gid, err := lookupID("group", s.Group, func(name string) (string, error) {
		g, err := user.LookupGroup(name)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
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
	l := &listener{
		r: r, sock: s, conn: conn,
		reqs:    make(chan request, queueLength),
		replies: make(chan []byte, 2),
		idle:    make(chan struct{}, 1),
		clients: make(map[string]*monitor),
	}
	if err := l.own(uid, gid); err != nil {
		l.shut()
		return nil, errors.Join(err, l.remove())
	}
	return l, nil
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
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("directory %s refused, a symbolic link: %w; give the real directory in uds_passthru.conf", dir, unix.ELOOP)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: %w", dir, unix.ENOTDIR)
	}
	fi, err = os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("refused, a symbolic link: %w; remove it or give another path in uds_passthru.conf", unix.ELOOP)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("a file that is not a socket is in the way: %w; remove it or give another path in uds_passthru.conf", unix.EEXIST)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
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

// receive queues a client's request for the guest connection.
func (l *listener) receive(msg []byte, from *net.UnixAddr) {
	log := l.r.opts.Log
	if from == nil || from.Name == "" {
		log.Warnf("Control socket %s: dropped a message from a client whose socket has no address: replies could not reach it", l.sock.Path)
		return
	}
	if len(msg) > MaxMessage {
		log.Warnf("Control socket %s: refused a message longer than %d bytes from %s", l.sock.Path, MaxMessage, from.Name)
		l.reply(from, fmt.Appendf(nil, "FAIL relay: message longer than %d bytes\n", MaxMessage))
		return
	}
	select {
	case l.reqs <- request{from: from, msg: bytes.Clone(msg)}:
	default:
		log.Warnf("Control socket %s: refused a message from %s: %d requests already wait for the guest", l.sock.Path, from.Name, queueLength)
		l.reply(from, fmt.Appendf(nil, "FAIL relay: busy: %d requests already wait for the guest\n", queueLength))
	}
}

// reply sends a reply to a client.
func (l *listener) reply(to *net.UnixAddr, msg []byte) {
	if _, err := l.conn.WriteToUnix(msg, to); err != nil {
		l.r.opts.Log.Debugf("Control socket %s: reply to %s: %v", l.sock.Path, to.Name, err)
	}
}

// shut closes the socket, which ends serve.
func (l *listener) shut() {
	l.conn.Close()
}

// remove removes the socket file, if it is still a socket.
func (l *listener) remove() error {
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
