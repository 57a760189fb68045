// Package rtsock reads FreeBSD's routing socket (route(4)) through the
// system-call seam: the events of network interfaces the kernel
// broadcasts, by interface index. A link that comes up or goes down and a
// change of IFF_UP come as RTM_IFINFO (rt_ifmsg in sys/net/rtsock.c); an
// interface that arrives or leaves as RTM_IFANNOUNCE (rt_ifannouncemsg).
// launch waits on it for bhyve's tap to come up; the same Socket serves a
// reader that watches the bridge for the guest's life.
package rtsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/sys"
)

// Kind tells what happened to an interface.
type Kind int

const (
	// Info is RTM_IFINFO: the interface's flags or link state changed.
	Info Kind = iota
	// Arrival is RTM_IFANNOUNCE IFAN_ARRIVAL: the interface appeared.
	Arrival
	// Departure is RTM_IFANNOUNCE IFAN_DEPARTURE: it is going away.
	Departure
)

// Event is one routing message about an interface.
type Event struct {
	Kind  Kind
	Index int
	// Name is the interface's name, given with Arrival and Departure.
	Name string
	// LinkUp and Up are given with Info: the link state is
	// LINK_STATE_UP, and IFF_UP is set.
	LinkUp bool
	Up     bool
}

// ErrClosed is what Next returns once Close was called.
var ErrClosed = errors.New("routing socket closed")

// bufSize holds any routing message: RTM_IFINFO is 168 bytes, the largest
// (RTM_GET with every address) stays under 1 KiB.
const bufSize = 2048

// Socket is an open routing socket.
type Socket struct {
	s      sys.Sys
	fd     int
	buf    []byte
	closed atomic.Bool
	once   sync.Once
}

// Open opens a routing socket for every address family
// (socket(PF_ROUTE, SOCK_RAW, 0)); it receives what the kernel broadcasts
// from then on.
func Open(s sys.Sys) (*Socket, error) {
	fd, err := s.Socket(abi.PF_ROUTE, abi.SOCK_RAW, 0)
	if err != nil {
		return nil, fmt.Errorf("socket(PF_ROUTE, SOCK_RAW): %w", err)
	}
	return &Socket{s: s, fd: fd, buf: make([]byte, bufSize)}, nil
}

// Next reads messages until one about an interface comes, and gives it.
// It blocks meanwhile; Close from another goroutine makes it return
// ErrClosed. Whether the socket was closed is checked before each read
// too: a Close between two reads has released the descriptor, whose
// number the next open may take.
func (r *Socket) Next() (Event, error) {
	for {
		if r.closed.Load() {
			return Event{}, ErrClosed
		}
		n, err := r.s.Read(r.fd, r.buf)
		if r.closed.Load() {
			return Event{}, ErrClosed
		}
		if err != nil {
			return Event{}, fmt.Errorf("read the routing socket: %w", err)
		}
		if n == 0 {
			return Event{}, fmt.Errorf("read the routing socket: %w", io.EOF)
		}
		ev, ok, err := Parse(r.buf[:n])
		if err != nil || ok {
			return ev, err
		}
	}
}

// Close closes the socket; a Next under way returns ErrClosed.
func (r *Socket) Close() error {
	var err error
	r.once.Do(func() {
		r.closed.Store(true)
		err = r.s.Close(r.fd)
	})
	return err
}

// Parse reads one routing message. It gives the event of an RTM_IFINFO or
// RTM_IFANNOUNCE message, and false for other messages. A message of
// another version, or whose length or layout is not the one pinned, is an
// error, so a changed ABI fails loudly.
func Parse(msg []byte) (Event, bool, error) {
	if len(msg) < 4 {
		return Event{}, false, fmt.Errorf("truncated routing message (%d bytes)", len(msg))
	}
	switch msg[3] {
	case abi.RTM_IFINFO:
		var m abi.IfMsghdr
		if err := decode(msg, &m, "RTM_IFINFO"); err != nil {
			return Event{}, false, err
		}
		if int(m.Msglen) != len(msg) || m.Version != abi.RTM_VERSION {
			return Event{}, false, fmt.Errorf("RTM_IFINFO message of version %d, length %d in %d bytes (want version %d, the bytes read)", m.Version, m.Msglen, len(msg), abi.RTM_VERSION)
		}
		return Event{Kind: Info, Index: int(m.Index), LinkUp: m.Data.Link_state == abi.LINK_STATE_UP, Up: m.Flags&abi.IFF_UP != 0}, true, nil
	case abi.RTM_IFANNOUNCE:
		var m abi.IfAnnounceMsghdr
		if err := decode(msg, &m, "RTM_IFANNOUNCE"); err != nil {
			return Event{}, false, err
		}
		if int(m.Msglen) != len(msg) || m.Version != abi.RTM_VERSION || m.What > abi.IFAN_DEPARTURE {
			return Event{}, false, fmt.Errorf("RTM_IFANNOUNCE message of version %d, length %d in %d bytes, what %d", m.Version, m.Msglen, len(msg), m.What)
		}
		kind := Arrival
		if m.What == abi.IFAN_DEPARTURE {
			kind = Departure
		}
		return Event{Kind: kind, Index: int(m.Index), Name: unix.ByteSliceToString(m.Name[:])}, true, nil
	}
	return Event{}, false, nil
}

// decode reads a message's fixed struct.
func decode[T any](msg []byte, m *T, what string) error {
	if _, err := binary.Decode(msg, binary.NativeEndian, m); err != nil {
		return fmt.Errorf("%s message of %d bytes, the struct has %d: %w", what, len(msg), unsafe.Sizeof(*m), err)
	}
	return nil
}
