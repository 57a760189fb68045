package relaytest

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Socat models the guest image's control-socket relay. The guest's
// uds_passthru script (pgj/freebsd-wifibox-alpine,
// aports/uds_passthru/uds_passthru) runs, for each socket,
//
//	socat TCP4-LISTEN:PORT,reuseaddr,bind=IP,range=NETWORK,fork \
//	      UNIX-SENDTO:PATH,bind=ONE_TMP_PATH,unlink-early
//
// so, as socat(1) describes those addresses and options:
//   - fork: every accepted TCP connection gets its own child;
//   - bind=ONE_TMP_PATH, unlink-early: each child removes that one path and
//     binds its datagram socket there, so the newest connection takes the
//     path and wpa_supplicant's replies and events for an older one reach
//     the newest;
//   - UNIX-SENDTO: each read from the TCP connection is sent as one
//     datagram to PATH, and the datagrams received from PATH (from no other
//     sender) are written to the TCP connection, one write each: the stream
//     keeps no boundaries, and datagrams that arrive together reach the
//     reader as one.
//
// Coalesce makes that merging certain: a child that has read a datagram
// waits that long for more before it writes what it has in one write; 0
// writes each datagram as it comes (the reader may still read several at
// once).
type Socat struct {
	Target   string // PATH, wpa_supplicant's socket
	Bind     string // ONE_TMP_PATH
	Coalesce time.Duration

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// Serve runs the children of ln's connections until ln is closed, then
// ends them and returns.
func (s *Socat) Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	var err error
	for {
		var c net.Conn
		if c, err = ln.Accept(); err != nil {
			break
		}
		s.mu.Lock()
		if s.conns == nil {
			s.conns = make(map[net.Conn]bool)
		}
		s.conns[c] = true
		s.mu.Unlock()
		wg.Go(func() {
			s.child(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		})
	}
	s.Drop()
	wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Drop closes every TCP connection, as a guest that restarts does.
func (s *Socat) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// child is one forked socat: it ends when either side ends.
func (s *Socat) child(c net.Conn) {
	defer c.Close()
	os.Remove(s.Bind) // unlink-early
	u, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Bind, Net: "unixgram"})
	if err != nil {
		return
	}
	defer u.Close()
	target := &net.UnixAddr{Name: s.Target, Net: "unixgram"}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer c.Close()
		s.toStream(u, c)
	})
	buf := make([]byte, 8192) // socat's default block size
	for {
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		if _, err := u.WriteToUnix(buf[:n], target); err != nil {
			break
		}
	}
	u.Close()
	wg.Wait()
}

// toStream writes the datagrams from the target to the stream.
func (s *Socat) toStream(u *net.UnixConn, c net.Conn) {
	buf := make([]byte, 8192)
	var out []byte
	for {
		u.SetReadDeadline(time.Time{})
		n, from, err := u.ReadFromUnix(buf)
		if err != nil {
			return
		}
		out = s.take(out[:0], buf[:n], from)
		u.SetReadDeadline(time.Now().Add(s.Coalesce))
		for {
			n, from, err := u.ReadFromUnix(buf)
			if err != nil {
				break
			}
			out = s.take(out, buf[:n], from)
		}
		if len(out) == 0 {
			continue
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// take appends a datagram that came from the target.
func (s *Socat) take(out, dgram []byte, from *net.UnixAddr) []byte {
	if from == nil || from.Name != s.Target {
		return out
	}
	return append(out, dgram...)
}
