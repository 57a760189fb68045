package relay

import (
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// ScanResults is the event wpa_supplicant sends its attached clients when a
// scan has finished.
const ScanResults = "<3>CTRL-EVENT-SCAN-RESULTS "

// fakeStatus is what FakeWPA answers to STATUS.
const fakeStatus = "bssid=02:00:00:00:01:00\n" +
	"freq=2412\n" +
	"ssid=wifibox\n" +
	"id=0\n" +
	"mode=station\n" +
	"key_mgmt=WPA2-PSK\n" +
	"wpa_state=COMPLETED\n" +
	"ip_address=10.0.0.2\n" +
	"address=02:00:00:00:00:02\n"

// FakeWPA is the simulated guest's wpa_supplicant control interface, as the
// guest offers it on a TCP port to the relay: each read from a connection
// is one request, each reply one write. It answers PING with PONG, STATUS
// with a few key=value lines, ATTACH and DETACH with OK (an attached
// connection receives the events), and anything else with UNKNOWN COMMAND.
// The zero value is ready; Serve serves one listener.
type FakeWPA struct {
	// Every, when not 0, sends ScanResults to the attached connections
	// at that interval, as a scanning wpa_supplicant does.
	Every time.Duration

	mu    sync.Mutex
	conns map[net.Conn]bool // open connections: whether attached
}

// Serve answers the connections of ln until ln is closed, then closes them
// and returns.
func (f *FakeWPA) Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	done := make(chan struct{})
	if f.Every > 0 {
		tick := time.NewTicker(f.Every)
		wg.Go(func() {
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					f.Event(ScanResults)
				case <-done:
					return
				}
			}
		})
	}
	var err error
	for {
		var c net.Conn
		if c, err = ln.Accept(); err != nil {
			break
		}
		f.mu.Lock()
		if f.conns == nil {
			f.conns = make(map[net.Conn]bool)
		}
		f.conns[c] = false
		f.mu.Unlock()
		wg.Go(func() { f.answer(c) })
	}
	close(done)
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// answer answers one connection's requests until it is closed.
func (f *FakeWPA) answer(c net.Conn) {
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, MaxMessage)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		reply := "OK\n"
		switch strings.TrimSpace(string(buf[:n])) {
		case "PING":
			reply = "PONG\n"
		case "STATUS":
			reply = fakeStatus
		case "ATTACH":
			f.attach(c, true)
		case "DETACH":
			f.attach(c, false)
		default:
			reply = "UNKNOWN COMMAND\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

func (f *FakeWPA) attach(c net.Conn, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[c] = on
}

// Event sends an event line to every attached connection, and returns once
// it is written.
func (f *FakeWPA) Event(line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, attached := range f.conns {
		if attached {
			c.Write([]byte(line)) // a failure ends the connection's answer loop
		}
	}
}
