// Package guestfake holds the guest's end of the control-socket relay, for
// the tests of package relay and for the simulated guest of package sim:
// a fake wpa_supplicant control interface (WPA) on a Unix datagram socket,
// and a model of the guest image's uds_passthru relay, socat (Socat), which
// carries that socket's datagrams over a TCP stream without framing. No
// production code imports it.
package guestfake

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// MaxMessage is the largest request or reply, in bytes: the buffer of
// wpa_supplicant's control interface (hostap
// wpa_supplicant/ctrl_iface_unix.c, wpa_supplicant_ctrl_iface_receive:
// CTRL_IFACE_MAX_LEN 4096 for the request).
const MaxMessage = 4096

// The events the fake sends, as wpa_supplicant 2.10 words them
// (wpa_supplicant/events.c, wpa_supplicant.c).
const (
	ScanResults  = "<3>CTRL-EVENT-SCAN-RESULTS "
	Disconnected = "<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:01:00 reason=3 locally_generated=1"
	DSCPClear    = "<3>CTRL-EVENT-DSCP-POLICY clear_all"
	Connected    = "<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 completed [id=0 id_str=]"
)

// Status is what WPA answers to STATUS.
const Status = "bssid=02:00:00:00:01:00\n" +
	"freq=2412\n" +
	"ssid=wifibox\n" +
	"id=0\n" +
	"mode=station\n" +
	"key_mgmt=WPA2-PSK\n" +
	"wpa_state=COMPLETED\n" +
	"ip_address=10.0.0.2\n" +
	"address=02:00:00:00:00:02\n"

// Scanning is what WPA answers to STATUS while Scanning is set, and
// Signal to SIGNAL_POLL while it is not (wpa_supplicant/ctrl_iface.c,
// wpa_supplicant_ctrl_iface_status and wpa_supplicant_signal_poll, which
// fails without a link).
const (
	Scanning = "wpa_state=SCANNING\n" +
		"address=02:00:00:00:00:02\n"
	Signal = "RSSI=-52\n" +
		"LINKSPEED=866\n" +
		"NOISE=9999\n" +
		"FREQUENCY=2412\n"
)

// msgInfo is the level a new monitor gets, MSG_INFO (hostap
// src/utils/wpa_debug.h; src/common/ctrl_iface_common.c,
// ctrl_iface_attach).
const msgInfo = 3

// WPA is a fake wpa_supplicant control interface: a Unix datagram socket
// that answers each request datagram with one reply datagram to its
// sender, and sends each event as one datagram "<level>text" to every
// attached sender whose level is at most the event's (hostap
// wpa_supplicant/ctrl_iface_unix.c, wpa_supplicant_ctrl_iface_send). It
// answers PING (PONG), STATUS (Status), ATTACH, DETACH and LEVEL (kept per
// sender address as src/common/ctrl_iface_common.c does: a second ATTACH
// is not a second monitor; DETACH or LEVEL from a sender not attached is
// FAIL), DISCONNECT (the events Disconnected and DSCPClear, then OK, in
// that order, as wpa_supplicant sends them), RECONNECT (OK, then
// Connected), BSS (an empty reply, as for an index past the last entry:
// wpa_supplicant/ctrl_iface.c, wpa_supplicant_ctrl_iface_bss), and
// anything else with UNKNOWN COMMAND. A monitor that is gone (ENOENT,
// ECONNREFUSED) is detached, as wpa_supplicant does. While Mute is set,
// requests get no reply, as from a daemon that hangs. SIGNAL_POLL gets
// Signal, and while Scanning is set, STATUS gets Scanning and SIGNAL_POLL
// FAIL, as from a wpa_supplicant not associated yet.
type WPA struct {
	// Every, when not 0, sends ScanResults to the monitors at that
	// interval, as a scanning wpa_supplicant does.
	Every    time.Duration
	Mute     atomic.Bool
	Scanning atomic.Bool

	conn     *net.UnixConn
	done     chan struct{}
	wg       sync.WaitGroup
	close    sync.Once
	closeErr error

	mu       sync.Mutex
	monitors map[string]int // attached sender address: its level
	requests int
}

// ListenWPA binds the control socket at path and serves it until Close.
func ListenWPA(path string, every time.Duration) (*WPA, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("fake wpa_supplicant: %w", err)
	}
	w := &WPA{Every: every, conn: conn, done: make(chan struct{}), monitors: make(map[string]int)}
	w.wg.Go(w.serve)
	if every > 0 {
		w.wg.Go(w.scan)
	}
	return w, nil
}

// Path is the control socket's path.
func (w *WPA) Path() string { return w.conn.LocalAddr().String() }

// Close stops serving and removes the socket; later calls return the
// first one's result.
func (w *WPA) Close() error {
	w.close.Do(func() {
		close(w.done)
		err := w.conn.Close()
		w.wg.Wait()
		w.closeErr = errors.Join(err, os.Remove(w.Path()))
	})
	return w.closeErr
}

func (w *WPA) scan() {
	tick := time.NewTicker(w.Every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			w.Event(ScanResults)
		case <-w.done:
			return
		}
	}
}

func (w *WPA) serve() {
	buf := make([]byte, MaxMessage)
	for {
		n, from, err := w.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		if from == nil || from.Name == "" {
			continue // no address to answer: wpa_supplicant's reply fails too
		}
		w.mu.Lock()
		w.requests++
		w.mu.Unlock()
		if !w.Mute.Load() {
			w.answer(string(buf[:n]), from)
		}
	}
}

// answer handles one request: events it causes first, then the reply.
func (w *WPA) answer(req string, from *net.UnixAddr) {
	reply := "OK\n"
	cmd, arg, _ := strings.Cut(strings.TrimSpace(req), " ")
	switch cmd {
	case "PING":
		reply = "PONG\n"
	case "STATUS":
		reply = Status
		if w.Scanning.Load() {
			reply = Scanning
		}
	case "SIGNAL_POLL":
		reply = Signal
		if w.Scanning.Load() {
			reply = "FAIL\n"
		}
	case "BSS":
		reply = ""
	case "ATTACH":
		w.mu.Lock()
		if _, ok := w.monitors[from.Name]; !ok {
			w.monitors[from.Name] = msgInfo
		}
		w.mu.Unlock()
	case "DETACH":
		w.mu.Lock()
		if _, ok := w.monitors[from.Name]; !ok {
			reply = "FAIL\n"
		}
		delete(w.monitors, from.Name)
		w.mu.Unlock()
	case "LEVEL":
		level, _ := strconv.Atoi(arg) // atoi, as ctrl_iface_level
		w.mu.Lock()
		if _, ok := w.monitors[from.Name]; ok {
			w.monitors[from.Name] = level
		} else {
			reply = "FAIL\n"
		}
		w.mu.Unlock()
	case "DISCONNECT":
		w.Event(Disconnected)
		w.Event(DSCPClear)
	case "RECONNECT":
		w.send(reply, from)
		w.Event(Connected)
		return
	default:
		reply = "UNKNOWN COMMAND\n"
	}
	w.send(reply, from)
}

func (w *WPA) send(msg string, to *net.UnixAddr) error {
	_, err := w.conn.WriteToUnix([]byte(msg), to)
	return err
}

// Event sends an event, "<level>text", to every monitor whose level is at
// most the event's, and returns once it is sent.
func (w *WPA) Event(event string) {
	level := 0
	if len(event) > 2 && event[0] == '<' && event[2] == '>' {
		level = int(event[1] - '0')
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for addr, min := range w.monitors {
		if level < min {
			continue
		}
		err := w.send(event, &net.UnixAddr{Name: addr, Net: "unixgram"})
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			delete(w.monitors, addr)
		}
	}
}

// Monitors tells how many senders are attached.
func (w *WPA) Monitors() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.monitors)
}

// Requests tells how many requests the fake has received.
func (w *WPA) Requests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests
}
