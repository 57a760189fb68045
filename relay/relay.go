// Package relay owns the control-socket pass-through: with
// appliance/uds_passthru.conf present, each configured Unix datagram socket
// on the host (say /var/run/wpa_supplicant/wlan0) is relayed to a TCP port
// of the guest, so wpa_cli, wpa_gui and hostapd_cli work from FreeBSD. It
// replaces the shell implementation's socat processes under daemon(8): the
// VM manager starts a Relay when the guest is ready and stops it with the
// guest, and asks the guest's daemon through it (Request) how the Wi-Fi
// is.
//
// The guest's end is socat (see guestfake.Socat): every TCP connection
// binds the same datagram socket, so the newest one takes the replies and
// events of all, and the stream keeps no message boundaries. The relay
// therefore speaks the wpa_ctrl protocol itself. Each socket has one
// connection to the guest, shared by every client: requests go one at a
// time, each reply to the client that sent the request (FAIL when none
// comes within ReplyTimeout); the stream is cut back into messages (see
// splitter) and sent one per datagram; ATTACH, DETACH and LEVEL are kept
// per client, the connection being attached while a client is, and events
// go to the attached clients of their level. A connection lost while
// clients are attached (the guest restarted) is opened and attached
// again; the host sockets stay in place, and while the guest is away the
// relay answers ATTACH and PING itself. No client can hold up the others
// (see peer.go); each request is answered within ReplyTimeout of its
// coming. The VM manager is an attached client itself (Subscribe), and
// hands the sockets to the next VM manager across a restart (Handover,
// Options.Adopt).
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// MaxMessage is the largest request relayed, in bytes: the buffer of
// wpa_supplicant's control interface (hostap
// wpa_supplicant/ctrl_iface_unix.c, CTRL_IFACE_MAX_LEN).
const MaxMessage = 4096

// Defaults of Options, and the bound on connecting to the guest.
// DefaultReplyTimeout is below wpa_ctrl's own 10 seconds
// (src/common/wpa_ctrl.c, wpa_ctrl_request), so that a client reads the
// relay's FAIL rather than a timeout of its own.
const (
	DefaultMaxClients   = 16
	DefaultReplyTimeout = 5 * time.Second
	DialTimeout         = 2 * time.Second
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
	// time the relay connects (the default gateway through wifibox0,
	// host.Net.DefaultGateway),
	// so a default route that appears after the relay started is found.
	Guest   netip.Addr
	Resolve func() (netip.Addr, error)
	// MaxClients bounds the attached clients of each socket
	// (DefaultMaxClients when 0).
	MaxClients int
	// ReplyTimeout bounds the wait for the guest's reply to a request
	// (DefaultReplyTimeout when 0).
	ReplyTimeout time.Duration
	Log          *logrus.Logger // nil: no log
	// Adopt holds, by path, sockets handed over by the last relay
	// (Handover), served instead of new ones.
	Adopt map[string]Handed
	// deliver replaces the non-blocking send to clients: tests model
	// FreeBSD's kernel with it.
	deliver func(b []byte, to *net.UnixAddr) error
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
	Attached int    `json:"attached"` // clients that sent ATTACH
}

// Start creates every socket and starts relaying. A socket that cannot be
// created is an error, and the ones created before it are removed.
func Start(opts Options) (*Relay, error) {
	if !opts.Guest.IsValid() && opts.Resolve == nil {
		return nil, errors.New("start control-socket relay: no guest address: set network=IP:NETMASK in uds_passthru.conf")
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.ReplyTimeout <= 0 {
		opts.ReplyTimeout = DefaultReplyTimeout
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
		r.wg.Add(3)
		go l.serve()
		go l.run()
		go l.flush()
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

// Stop closes every guest connection and socket and removes the socket
// files. It
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

// Stats tells, for each socket, how many clients are attached now.
func (r *Relay) Stats() []SocketStats {
	stats := make([]SocketStats, 0, len(r.sockets))
	for _, l := range r.sockets {
		l.mu.Lock()
		n := l.clientsLocked()
		l.mu.Unlock()
		stats = append(stats, SocketStats{Path: l.sock.Path, Port: l.sock.Port, Attached: n})
	}
	return stats
}

// guest gives the guest's address for a new connection.
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
