package sim

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/wifibox/wifibox/abi"
)

// The model of the routing socket (sys/net/rtsock.c, read at freebsd-src
// d87a5f2a for if.c's callers): the messages the kernel broadcasts on
// every routing socket when interfaces arrive, leave, come up or go down
// and when a link changes state, kept as an append-only log in
// DIR/sim/routes (each message starts with its length, as on the wire),
// so every process of the simulated host reads them. A process that exits
// holding a tap open closes it, as exit(2) closes descriptors: a blocked
// read also waits for the exit of each tap's opener (a pidfd on Linux) and
// then sends the link-down message the kernel sends. A routing socket
// reads the messages appended after it was opened, one message a read,
// and blocks until the next one comes; closing it from another goroutine
// makes a pending read return EBADF. Left out: the address and route
// messages (RTM_NEWADDR, RTM_ADD...), and what a process writes.

// routesPath is the log of routing messages.
func (s *system) routesPath() string { return filepath.Join(s.simDir(), "routes") }

// announce queues RTM_IFANNOUNCE for an interface that arrived or leaves
// (rt_ifannouncemsg, called by if_attach_internal and if_detach_internal).
func (t *txn) announce(i *iface, what uint16) {
	m := abi.IfAnnounceMsghdr{Version: abi.RTM_VERSION, Type: abi.RTM_IFANNOUNCE, Index: uint16(i.Index), What: what}
	m.Msglen = uint16(unsafe.Sizeof(m))
	copy(m.Name[:], i.Name)
	b, _ := binary.Append(nil, binary.NativeEndian, &m)
	t.routes = append(t.routes, b)
}

// ifinfo queues RTM_IFINFO for an interface whose flags or link state
// changed (rt_ifmsg, called by if_up, if_down and do_link_state_change):
// struct if_msghdr and no address.
func (t *txn) ifinfo(i *iface) {
	m := abi.IfMsghdr{Version: abi.RTM_VERSION, Type: abi.RTM_IFINFO, Flags: int32(i.flags()), Index: uint16(i.Index), Data: t.ifdata(i)}
	m.Msglen = uint16(unsafe.Sizeof(m))
	b, _ := binary.Append(nil, binary.NativeEndian, &m)
	t.routes = append(t.routes, b)
}

// appendRoutes adds the messages of a call to the log, under the host's
// lock.
func (s *system) appendRoutes(msgs [][]byte) error {
	f, err := os.OpenFile(s.routesPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	var all []byte
	for _, m := range msgs {
		all = append(all, m...)
	}
	_, err = f.Write(all)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// routeSocket is an open routing socket: where in the log it reads, and
// the wait for the log to grow.
type routeSocket struct {
	s    *system
	path string
	mu   sync.Mutex
	off  int64
	w    *logWaiter
	// readers counts the reads under way; the last one out of a closed
	// socket releases the waiter.
	readers int
	closed  bool
}

// openRouteSocket opens a routing socket that reads what is appended to
// the log from now on (socket(PF_ROUTE, SOCK_RAW, 0) in rtsock.c: a
// routing socket receives the messages broadcast after it exists).
func (s *system) openRouteSocket() (*routeSocket, error) {
	path := s.routesPath()
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The watch first, then the size: a message appended in between
	// only wakes the reader once more.
	w, err := newLogWaiter(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		w.close()
		return nil, err
	}
	return &routeSocket{s: s, path: path, off: st.Size(), w: w}, nil
}

// read gives the next message, truncated to p as a datagram is; it
// blocks until there is one or the socket is closed (EBADF).
func (r *routeSocket) read(p []byte) (int, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, abi.EBADF
	}
	r.readers++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.readers--
		if r.closed && r.readers == 0 {
			r.w.close()
		}
		r.mu.Unlock()
	}()
	for {
		msg, err := r.next()
		if err != nil || msg != nil {
			return copy(p, msg), err
		}
		pids, err := r.s.tapOpeners()
		if err != nil {
			return 0, err
		}
		if err := r.w.wait(pids); err != nil {
			return 0, err
		}
		if err := r.s.reapTaps(); err != nil {
			return 0, err
		}
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return 0, abi.EBADF
		}
	}
}

// next takes the message at the socket's offset, or nil when the log has
// no whole one there yet.
func (r *routeSocket) next() ([]byte, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	var size [2]byte
	if _, err := f.ReadAt(size[:], r.off); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	msg := make([]byte, binary.NativeEndian.Uint16(size[:]))
	if _, err := f.ReadAt(msg, r.off); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	r.off += int64(len(msg))
	return msg, nil
}

// close wakes the reads under way; the waiter goes with the last.
func (r *routeSocket) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.readers == 0 {
		r.w.close()
		return
	}
	r.w.wake()
}

// tapOpeners gives the processes that hold a tap open.
func (s *system) tapOpeners() ([]int, error) {
	var pids []int
	err := s.syscall("tap openers", query, func(t *txn) error {
		for _, i := range t.st.Interfaces {
			if i.Opener != 0 {
				pids = append(pids, i.Opener)
			}
		}
		return nil
	})
	return pids, err
}

// reapTaps closes the taps of processes that exited, as the kernel does
// when a process exits (its descriptors are closed: tunclose), with the
// link-down message.
func (s *system) reapTaps() error {
	return s.syscall("exit", internal, func(t *txn) error {
		for _, i := range t.st.Interfaces {
			t.reapTap(i)
		}
		return nil
	})
}
