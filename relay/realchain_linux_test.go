package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// The real chain, as users run it: Debian's wpa_supplicant (wired driver
// on one end of a veth pair) and hostapd (wired driver, the other end),
// each behind socat with the guest image's exact command line
// (pgj/freebsd-wifibox-alpine, aports/uds_passthru/uds_passthru), the
// relay in front, and Debian's wpa_cli and hostapd_cli on the relay's
// sockets. It runs in a network namespace of its own (the test binary runs
// itself again in a new one), so the addresses are its own: socat binds
// 127.0.0.2 and accepts 127.0.0.2:255.0.0.0, what uds_passthru.conf's
// network= gives it.

// realChainEnv marks the run inside the namespace.
const realChainEnv = "WIFIBOX_REAL_CHAIN"

// realChainTools are the programs the chain needs, with their Debian
// packages.
var realChainTools = map[string]string{
	"ip": "iproute2", "socat": "socat",
	"wpa_supplicant": "wpasupplicant", "wpa_cli": "wpasupplicant",
	"hostapd": "hostapd", "hostapd_cli": "hostapd",
}

func TestRealChain(t *testing.T) {
	if os.Getenv(realChainEnv) != "" {
		realChain(t)
		return
	}
	if testing.Short() {
		t.Skip("skipped with -short: starts wpa_supplicant and hostapd")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates a network namespace and a veth pair")
	}
	for tool, pkg := range realChainTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package %s): run scripts/tools.sh as root", tool, pkg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRealChain$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), realChainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "operation not permitted") {
		t.Skipf("no network namespace here: %v", err)
	}
	t.Logf("in a network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the chain failed: %v", err)
	}
}

// chain is the running chain inside the namespace.
type chain struct {
	t   *testing.T
	dir string
	ctx context.Context
}

// realChain runs inside the namespace.
func realChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &chain{t: t, dir: tempDir(t), ctx: ctx}
	c.run("ip", "link", "set", "lo", "up")
	c.run("ip", "link", "add", "wbv0", "type", "veth", "peer", "name", "wbv1")
	c.run("ip", "link", "set", "wbv0", "up")
	c.run("ip", "link", "set", "wbv1", "up")

	wpaDir := filepath.Join(c.dir, "wpa")
	c.write("wpa.conf", "ctrl_interface="+wpaDir+"\nap_scan=0\nnetwork={\n\tkey_mgmt=NONE\n\teapol_flags=0\n}\n")
	startWPA := func() func() {
		return c.start("wpa_supplicant", "-D", "wired", "-i", "wbv0", "-c", filepath.Join(c.dir, "wpa.conf"))
	}
	stopWPA := startWPA()
	hapdDir := filepath.Join(c.dir, "hapd")
	c.write("hostapd.conf", "interface=wbv1\ndriver=wired\nctrl_interface="+hapdDir+"\nieee8021x=0\n")
	c.start("hostapd", filepath.Join(c.dir, "hostapd.conf"))
	c.waitFile(filepath.Join(wpaDir, "wbv0"))
	c.waitFile(filepath.Join(hapdDir, "wbv1"))

	stopWPASocat := c.socat(1200, filepath.Join(wpaDir, "wbv0"))
	c.socat(1201, filepath.Join(hapdDir, "wbv1"))

	host := filepath.Join(c.dir, "host")
	log, _ := newLog()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.InfoLevel)
	// options relays both sockets, those handed over taken over.
	options := func(adopt map[string]Handed) Options {
		return Options{
			Log:   log,
			Guest: netip.MustParseAddr("127.0.0.2"),
			Sockets: []Socket{
				{Path: filepath.Join(host, "wlan0"), Port: 1200},
				{Path: filepath.Join(host, "wbv1"), Port: 1201},
			},
			Adopt: adopt,
		}
	}
	r, err := Start(options(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	step := func(name string, f func()) {
		t.Log("== " + name)
		f()
	}
	wpaCLI := func(args ...string) string {
		return c.output("wpa_cli", append([]string{"-p", host, "-i", "wlan0"}, args...)...)
	}

	step("ping and status", func() {
		if got := wpaCLI("ping"); got != "PONG\n" {
			t.Errorf("wpa_cli ping: %q", got)
		}
		// The wired driver connects once the link is up.
		c.waitFor("wpa_cli status to tell COMPLETED", func() bool {
			return strings.Contains(wpaCLI("status"), "wpa_state=COMPLETED\n")
		})
	})

	// wpa_cli -a: the action script gets every CONNECTED and
	// DISCONNECTED, and the commands given meanwhile print OK. The
	// guest's socat is restarted half way, as the guest's uds_passthru
	// service is with the guest.
	step("action script", func() {
		script, actions := c.actionScript("wpa")
		c.start("wpa_cli", "-p", host, "-i", "wlan0", "-a", script)
		c.waitAttached(r, 0, 1)
		oks := 0
		for round := 1; round <= 4; round++ {
			if round == 3 {
				stopWPASocat()
				stopWPASocat = c.socat(1200, filepath.Join(wpaDir, "wbv0"))
				c.waitFor("wpa_cli ping after socat's restart", func() bool { return wpaCLI("ping") == "PONG\n" })
			}
			for _, cmd := range []string{"disconnect", "reconnect"} {
				if got := wpaCLI(cmd); got == "OK\n" {
					oks++
				} else {
					t.Errorf("round %d: wpa_cli %s printed %q, want OK", round, cmd, got)
				}
			}
			want := strings.Repeat("DISCONNECTED\nCONNECTED\n", round)
			c.waitFor(fmt.Sprintf("round %d's events in the action script", round), func() bool {
				b, _ := os.ReadFile(actions)
				return string(b) == want
			})
		}
		t.Logf("%d of 8 disconnect and reconnect commands printed OK", oks)
	})

	step("interactive wpa_cli shows events", func() {
		cmd := exec.CommandContext(c.ctx, "wpa_cli", "-p", host, "-i", "wlan0")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer in.Close()
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		io.WriteString(in, "disconnect\n")
		expectLines(t, lines, "OK", "CTRL-EVENT-DISCONNECTED")
		io.WriteString(in, "reconnect\n")
		expectLines(t, lines, "OK", "CTRL-EVENT-CONNECTED")
		io.WriteString(in, "quit\n")
	})

	// A client of our own reads every datagram: each one message.
	step("one message per datagram", func() {
		cl := newClient(t, c.dir, "raw", filepath.Join(host, "wlan0"))
		cl.expect("ATTACH", "OK\n")
		seen := 0
		// read reads datagrams until last, checking each, and gives
		// the last.
		read := func(last func(d string) bool) string {
			for {
				d := cl.receive()
				seen++
				if !oneMessage([]byte(d)) {
					t.Errorf("a datagram with more than one message: %q", d)
				}
				if last(d) {
					return d
				}
			}
		}
		for round := 0; round < 4; round++ {
			cl.send("DISCONNECT")
			read(func(d string) bool { return d == "OK\n" })
			cl.send("RECONNECT")
			read(func(d string) bool { return strings.Contains(d, "CTRL-EVENT-CONNECTED") })
		}
		// The reply to DETACH; events that came before it are read as
		// wpa_ctrl_request does.
		cl.send("DETACH")
		if got := read(func(d string) bool { return d[0] != '<' }); got != "OK\n" {
			t.Errorf("DETACH: %q", got)
		}
		t.Logf("%d datagrams, each one message", seen)
	})

	// A figure for the report, not an assertion: the round trip through
	// the real socat and wpa_supplicant.
	step("round trip", func() {
		cl := newClient(t, c.dir, "rtt", filepath.Join(host, "wlan0"))
		rtts := make([]time.Duration, 0, 500)
		for range cap(rtts) {
			start := time.Now()
			cl.expect("PING", "PONG\n")
			rtts = append(rtts, time.Since(start))
		}
		slices.Sort(rtts)
		t.Logf("PING round trip over %d: median %v", len(rtts), rtts[len(rtts)/2])
	})

	step("hostapd_cli", func() {
		hostapdCLI := func(args ...string) string {
			return c.output("hostapd_cli", append([]string{"-p", host, "-i", "wbv1"}, args...)...)
		}
		if got := hostapdCLI("ping"); got != "PONG\n" {
			t.Errorf("hostapd_cli ping: %q", got)
		}
		if got := hostapdCLI("status"); !strings.Contains(got, "state=ENABLED\n") {
			t.Errorf("hostapd_cli status: %q", got)
		}
		script, actions := c.actionScript("hostapd")
		c.start("hostapd_cli", "-p", host, "-i", "wbv1", "-a", script)
		c.waitAttached(r, 1, 1)
		for round := 1; round <= 4; round++ {
			for _, cmd := range []string{"disable", "enable"} {
				if got := hostapdCLI(cmd); got != "OK\n" {
					t.Errorf("round %d: hostapd_cli %s printed %q, want OK", round, cmd, got)
				}
			}
			want := strings.Repeat("AP-DISABLED\nAP-ENABLED\n", round)
			c.waitFor(fmt.Sprintf("round %d's events in hostapd_cli's action script", round), func() bool {
				b, _ := os.ReadFile(actions)
				return string(b) == want
			})
		}
	})

	// What restart guest does: the VM manager hands its relay's sockets
	// to the next one, and the guest's wpa_supplicant and socat start
	// anew. The wpa_cli -a attached before gets the new
	// wpa_supplicant's CONNECTED.
	step("attached across a restart", func() {
		script, actions := c.actionScript("restart")
		c.start("wpa_cli", "-p", host, "-i", "wlan0", "-a", script)
		c.waitAttached(r, 0, 2) // with the action script's of before
		handed, err := r.Handover()
		if err != nil {
			t.Fatal(err)
		}
		stopWPASocat()
		stopWPA()
		adopt := map[string]Handed{}
		for _, h := range handed {
			adopt[h.Path] = h
		}
		next, err := Start(options(adopt))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { next.Stop() })
		c.waitAttached(next, 0, 2)
		stopWPA = startWPA()
		c.waitFile(filepath.Join(wpaDir, "wbv0"))
		stopWPASocat = c.socat(1200, filepath.Join(wpaDir, "wbv0"))
		// The wired driver associates at once, maybe before the relay
		// attaches: the CONNECTED asked for comes after.
		c.waitFor("wpa_cli ping to the new wpa_supplicant", func() bool { return wpaCLI("ping") == "PONG\n" })
		wpaCLI("disconnect")
		wpaCLI("reconnect")
		c.waitFor("the new wpa_supplicant's CONNECTED in the action script", func() bool {
			b, _ := os.ReadFile(actions)
			return strings.Contains(string(b), "CONNECTED\n")
		})
	})
}

// oneMessage tells whether a datagram is one wpa_ctrl message: a reply
// (no event in it), or one event (that starts it, and no reply after).
func oneMessage(d []byte) bool {
	events := 0
	for i := range d {
		if eventAt(d, i) {
			events++
		}
	}
	switch {
	case events == 0:
		return true
	case events > 1 || !eventAt(d, 0):
		return false
	}
	for _, r := range fixedReplies {
		if len(d) > len(r) && string(d[len(d)-len(r):]) == string(r) {
			return false
		}
	}
	return true
}

// expectLines reads lines until each text was in one of them, within
// bound.
func expectLines(t *testing.T, lines <-chan string, texts ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, text := range texts {
		missing[text] = true
	}
	timeout := time.After(bound)
	for len(missing) > 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("wpa_cli ended; not shown: %v", missing)
			}
			for text := range missing {
				if strings.Contains(line, text) {
					delete(missing, text)
				}
			}
		case <-timeout:
			t.Fatalf("interactive wpa_cli did not show %v", missing)
		}
	}
}

// actionScript writes a script for wpa_cli -a or hostapd_cli -a that
// appends each event it is called for to a file, and gives both paths.
func (c *chain) actionScript(name string) (script, actions string) {
	c.t.Helper()
	script = filepath.Join(c.dir, name+"-action.sh")
	actions = filepath.Join(c.dir, name+"-actions")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$2\" >> "+actions+"\n"), 0o755); err != nil {
		c.t.Fatal(err)
	}
	return script, actions
}

func (c *chain) write(name, text string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// run runs a command to its end.
func (c *chain) run(name string, args ...string) {
	c.t.Helper()
	if out, err := exec.CommandContext(c.ctx, name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// output runs a command to its end and gives its standard output.
func (c *chain) output(name string, args ...string) string {
	c.t.Helper()
	out, err := exec.CommandContext(c.ctx, name, args...).Output()
	if err != nil {
		c.t.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// start starts a daemon and gives the function that stops it; the test's
// end stops it too.
func (c *chain) start(name string, args ...string) (stop func()) {
	c.t.Helper()
	cmd := exec.CommandContext(c.ctx, name, args...)
	// A process group of its own: stopping it stops socat's children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	log, err := os.Create(filepath.Join(c.dir, filepath.Base(name)+fmt.Sprint(time.Now().UnixNano())+".log"))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	pgid := cmd.Process.Pid
	stop = func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(bound):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
	}
	c.t.Cleanup(stop)
	return stop
}

// socat starts the guest's relay of one socket, with uds_passthru's
// command line, and waits until it listens. It does not connect to find
// out: a connection would take the bind path from the relay's.
func (c *chain) socat(port int, path string) (stop func()) {
	c.t.Helper()
	bindDir, err := os.MkdirTemp(c.dir, "uds") // uds_passthru's mktemp -d
	if err != nil {
		c.t.Fatal(err)
	}
	stop = c.start("socat",
		fmt.Sprintf("TCP4-LISTEN:%d,reuseaddr,bind=127.0.0.2,range=127.0.0.2:255.0.0.0,fork", port),
		fmt.Sprintf("UNIX-SENDTO:%s,bind=%s,unlink-early", path, filepath.Join(bindDir, "s")))
	// /proc/net/tcp: local address 127.0.0.2 and the port in hex, state
	// 0A (LISTEN).
	listening := fmt.Sprintf(" 0200007F:%04X 00000000:0000 0A ", port)
	c.waitFor(fmt.Sprintf("socat on port %d", port), func() bool {
		b, _ := os.ReadFile("/proc/net/tcp")
		return strings.Contains(string(b), listening)
	})
	return stop
}

func (c *chain) waitFile(path string) {
	c.t.Helper()
	c.waitFor(path, func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

// waitAttached waits until the relay's socket i has n attached clients.
func (c *chain) waitAttached(r *Relay, i, n int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d attached clients", n), func() bool { return r.Stats()[i].Attached == n })
}

// waitFor polls cond until it holds, within bound.
func (c *chain) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) || errors.Is(c.ctx.Err(), context.DeadlineExceeded) {
			c.t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
