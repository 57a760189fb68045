package sim

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wifibox/wifibox/internal/guestfake"
)

// guestCtrl is one control socket of the simulated guest, served as the
// real guest image serves it: wpa_supplicant's Unix datagram socket, and
// the guest's uds_passthru relay in front of it, socat, on a TCP port (see
// guestfake.Socat for the command line it models).
type guestCtrl struct {
	dir   string
	wpa   *guestfake.WPA
	ln    net.Listener
	socat chan error
}

// How the simulated guest's socat runs: how long it gathers datagrams into
// one write (what a loaded guest does now and then, done every time), and
// how long a child stays after its stream's end (socat's -t default).
const (
	coalesce = time.Millisecond
	linger   = 500 * time.Millisecond
)

// serveCtrl serves the guest's control socket named path (its base name is
// kept) on port of 127.0.0.1, the simulated guest's address. The Unix
// sockets live in a directory of their own, short enough for sockaddr_un,
// as uds_passthru's mktemp -d.
func serveCtrl(path string, port int) (*guestCtrl, error) {
	dir, err := os.MkdirTemp("", "wbguest")
	if err != nil {
		return nil, err
	}
	g := &guestCtrl{dir: dir}
	if g.wpa, err = guestfake.ListenWPA(filepath.Join(dir, filepath.Base(path)), 5*time.Second); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if g.ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, errors.Join(err, g.wpa.Close(), os.RemoveAll(dir))
	}
	s := &guestfake.Socat{Target: g.wpa.Path(), Bind: filepath.Join(dir, "socat"), Coalesce: coalesce, Linger: linger}
	g.socat = make(chan error, 1)
	go func() { g.socat <- s.Serve(g.ln) }()
	return g, nil
}

// Close stops socat, then wpa_supplicant, and removes their sockets.
func (g *guestCtrl) Close() error {
	err := g.ln.Close()
	return errors.Join(err, <-g.socat, g.wpa.Close(), os.RemoveAll(g.dir))
}
