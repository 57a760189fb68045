package guestfake

import (
	"errors"
	"io"
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
//     keeps no boundaries, datagrams that arrive together reach the
//     reader as one, and an empty datagram is no write at all;
//   - a child whose TCP peer ends the stream ends Linger later (socat's
//     -t, 0.5 seconds by default) and removes the bind path as it ends,
//     whichever child binds it by then (socat 1.7.4, Debian 12: the path is
//     gone as the peer reads the end of the stream).
//
// Coalesce makes that merging certain: a child that has read a datagram
// waits that long for more before it writes what it has in one write; 0
// writes each datagram as it comes (the reader may still read several at
// once).
type Socat struct {
	Target   string // PATH, wpa_supplicant's socket
	Bind     string // ONE_TMP_PATH
	Coalesce time.Duration
	Linger   time.Duration

	mu    sync.Mutex
	conns map[net.Conn]chan struct{} // closed by Drop
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
		dropped := make(chan struct{})
		s.mu.Lock()
		if s.conns == nil {
			s.conns = make(map[net.Conn]chan struct{})
		}
		s.conns[c] = dropped
		s.mu.Unlock()
		wg.Go(func() {
			s.child(c, dropped)
			s.mu.Lock()
			if s.conns[c] == dropped {
				delete(s.conns, c)
			}
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

// Drop closes every TCP connection, as a guest that restarts does: the
// children end at once.
func (s *Socat) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, dropped := range s.conns {
		c.Close()
		close(dropped)
		delete(s.conns, c)
	}
}

// child is one forked socat: it ends when either side ends.
func (s *Socat) child(c net.Conn, dropped <-chan struct{}) {
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
		if errors.Is(err, io.EOF) {
			linger := time.NewTimer(s.Linger)
			select {
			case <-linger.C:
			case <-dropped:
			}
			linger.Stop()
			break
		}
		if err != nil {
			break
		}
		if _, err := u.WriteToUnix(buf[:n], target); err != nil {
			break
		}
	}
	os.Remove(s.Bind) // unlink-close, whichever child bound it last
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
