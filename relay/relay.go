// Package relay owns the control-socket pass-through: with
// appliance/uds_passthru.conf present, each configured Unix datagram socket
// on the host (say /var/run/wpa_supplicant/wlan0) is relayed to a TCP port
// of the guest, so wpa_cli, wpa_gui and hostapd_cli work from FreeBSD. Each
// client address gets its own TCP connection to the guest (a session), kept
// while the client exists, so that ATTACH and the events that follow reach
// that client and no other. It replaces the shell implementation's socat
// processes under daemon(8): the VM manager starts a Relay when the guest is
// ready and stops it with the guest. The package also finds the guest's
// address in the routing table (DefaultGateway) and holds the simulated
// guest's end of the protocol (FakeWPA).
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// MaxMessage is the largest message relayed, in bytes: wpa_ctrl's limit for
// a request or a reply.
const MaxMessage = 4096

// Defaults of Options, and the bound on connecting to the guest.
const (
	DefaultMaxSessions = 16
	DefaultIdleTimeout = 10 * time.Minute
	DialTimeout        = 2 * time.Second
)

// Socket is one `sockets` entry of uds_passthru.conf.
type Socket struct {
	Path string // the Unix socket on the host
	// User and Group own the socket: a name or a number; "" leaves the
	// owner the socket was created with (wifibox's).
	User, Group string
	// Mode holds the socket's permission bits; 0 leaves the ones it was
	// created with.
	Mode os.FileMode
	Port int // the guest's TCP port
}

// Options configure a Relay.
type Options struct {
	Sockets []Socket
	// Guest is the guest's address: the IP of uds_passthru.conf's
	// network=IP:NETMASK. When it is the zero Addr, Resolve finds it each
	// time a session starts (on FreeBSD, DefaultGateway of wifibox0), so a
	// default route that appears after the relay started is found.
	Guest   netip.Addr
	Resolve func() (netip.Addr, error)
	// MaxSessions bounds the concurrent sessions of each socket
	// (DefaultMaxSessions when 0).
	MaxSessions int
	// IdleTimeout closes the session of a client that sent nothing for
	// that long (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration
	Log         *logrus.Logger // nil: no log
}

// Relay relays a set of Unix sockets to the guest until Stop.
type Relay struct {
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sockets []*listener
	stop    sync.Once
	stopErr error
}

// SocketStats tells how busy one relayed socket is.
type SocketStats struct {
	Path     string `json:"path"`
	Port     int    `json:"port"`
	Sessions int    `json:"sessions"`
}

// Start creates every socket and starts relaying. A socket that cannot be
// created is an error, and the ones created before it are removed.
func Start(opts Options) (*Relay, error) {
	if !opts.Guest.IsValid() && opts.Resolve == nil {
		return nil, errors.New("start control-socket relay: no guest address: set network=IP:NETMASK in uds_passthru.conf")
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Log == nil {
		opts.Log = logrus.New()
		opts.Log.SetOutput(io.Discard)
	}
	r := &Relay{opts: opts}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, s := range opts.Sockets {
		l, err := listen(r, s)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start control-socket relay: %w", err), r.Stop())
		}
		r.sockets = append(r.sockets, l)
	}
	for _, l := range r.sockets {
		r.opts.Log.Infof("Relaying %s to the guest's TCP port %d (owner %s:%s, mode %s)",
			l.sock.Path, l.sock.Port, orDefault(l.sock.User), orDefault(l.sock.Group), modeString(l.sock.Mode))
		r.wg.Add(1)
		go l.serve()
	}
	return r, nil
}

func orDefault(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func modeString(m os.FileMode) string {
	if m == 0 {
		return "-"
	}
	return fmt.Sprintf("%#o", uint32(m.Perm()))
}

// Stop closes every session and socket and removes the socket files. It
// returns once every goroutine of the relay has ended; later calls return
// the first call's result.
func (r *Relay) Stop() error {
	r.stop.Do(func() {
		r.cancel()
		for _, l := range r.sockets {
			l.shut()
		}
		r.wg.Wait()
		var errs []error
		for _, l := range r.sockets {
			errs = append(errs, l.remove())
		}
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}

// Stats tells, for each socket, how many sessions it has now.
func (r *Relay) Stats() []SocketStats {
	stats := make([]SocketStats, 0, len(r.sockets))
	for _, l := range r.sockets {
		stats = append(stats, SocketStats{Path: l.sock.Path, Port: l.sock.Port, Sessions: l.count()})
	}
	return stats
}

// guest gives the guest's address for a new session.
func (r *Relay) guest() (netip.Addr, error) {
	if r.opts.Guest.IsValid() {
		return r.opts.Guest, nil
	}
	a, err := r.opts.Resolve()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the guest's address: %w", err)
	}
	return a, nil
}
