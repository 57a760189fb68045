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

	"golang.org/x/sys/unix"
)

// queueLength bounds the messages of one client waiting for the guest
// connection; wpa_cli sends one request and waits for its reply.
const queueLength = 8

// listener is one relayed socket and its sessions, by client address.
type listener struct {
	r    *Relay
	sock Socket
	conn *net.UnixConn

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
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
	l := &listener{r: r, sock: s, conn: conn, sessions: make(map[string]*session)}
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

// receive hands a client's message to the client's session, starting one
// for a new client.
func (l *listener) receive(msg []byte, from *net.UnixAddr) {
	log := l.r.opts.Log
	if from == nil || from.Name == "" {
		log.Warnf("Control socket %s: dropped a message from a client whose socket has no address: replies could not reach it", l.sock.Path)
		return
	}
	if len(msg) > MaxMessage {
		log.Warnf("Control socket %s: refused a message longer than %d bytes from %s", l.sock.Path, MaxMessage, from.Name)
		l.reply(from, fmt.Sprintf("FAIL relay: message longer than %d bytes", MaxMessage))
		return
	}
	if err := l.deliver(from, msg); err != nil {
		log.Warnf("Control socket %s: refused a message from %s: %v", l.sock.Path, from.Name, err)
		l.reply(from, "FAIL relay: "+err.Error())
	}
}

// deliver queues a message for the client's session, starting the session
// if there is none. It holds the lock while queueing, so a session that is
// forgotten receives nothing more.
func (l *listener) deliver(from *net.UnixAddr, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil // stopping
	}
	s := l.sessions[from.Name]
	if s == nil {
		if len(l.sessions) >= l.r.opts.MaxSessions {
			return fmt.Errorf("too many sessions (%d)", l.r.opts.MaxSessions)
		}
		s = newSession(l, from)
		l.sessions[from.Name] = s
		l.r.wg.Add(1)
		go s.run()
	}
	select {
	case s.in <- bytes.Clone(msg):
		return nil
	default:
		return fmt.Errorf("busy: %d messages already wait for the guest", queueLength)
	}
}

// forget removes a session, so the client's next message starts a new
// one. An idle session is kept if a message arrived meanwhile: forget
// tells whether it removed the session.
func (l *listener) forget(s *session, idle bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if idle && len(s.in) > 0 {
		return false
	}
	if l.sessions[s.client.Name] == s {
		delete(l.sessions, s.client.Name)
	}
	return true
}

// reply sends the relay's own answer to a client.
func (l *listener) reply(to *net.UnixAddr, msg string) {
	if _, err := l.conn.WriteToUnix([]byte(msg), to); err != nil {
		l.r.opts.Log.Debugf("Control socket %s: reply to %s: %v", l.sock.Path, to.Name, err)
	}
}

func (l *listener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

// shut stops new sessions and closes the socket, which ends serve and
// every session's sending to its client.
func (l *listener) shut() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
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
