package sim

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

func TestGetty(t *testing.T) {
	var out bytes.Buffer
	g := &getty{out: &out}
	g.start()
	g.feed([]byte("admin\r\nroot\r"))
	g.feed([]byte("unamx\x7fe -a\rfoo\rexit\r"))
	want := "\r\nWelcome to wifibox (simulated guest)\r\nKernel 6.6.21-wifibox on an x86_64 (ttyS0)\r\n\r\n" +
		"wifibox login: admin\r\nLogin incorrect\r\nwifibox login: root\r\nWelcome to the wifibox guest.\r\n" +
		"root@wifibox:~# unamx\b \be -a\r\nLinux wifibox 6.6.21-wifibox #1 SMP x86_64 Linux\r\n" +
		"root@wifibox:~# foo\r\n-sh: foo: not found\r\nroot@wifibox:~# exit\r\nlogout\r\n\r\nwifibox login: "
	same(t, "console", want, out.String())
}

// expect reads the console until want appears.
func expect(t *testing.T, f *os.File, want string) {
	t.Helper()
	var seen []byte
	buf := make([]byte, 256)
	for !bytes.Contains(seen, []byte(want)) {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("console: %v; read %q, want %q", err, seen, want)
		}
		seen = append(seen, buf[:n]...)
	}
}

func TestConsole(t *testing.T) {
	_, h, argv := guestHost(t)
	b := launch(t, h, argv)
	b.ready(t)
	// Ready comes when bhyve opens its tap (slot 5); the console, behind
	// the lpc device of slot 31, is opened after it.
	f, err := os.OpenFile(h.Paths.ConsoleUser(), os.O_RDWR|unix.O_NOCTTY, 0)
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, os.ErrNotExist) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		f, err = os.OpenFile(h.Paths.ConsoleUser(), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	must(t, err)
	defer f.Close()
	expect(t, f, "wifibox login: ")
	for _, step := range []struct{ send, want string }{
		{"root\r", "root@wifibox:~# "},
		{"uname -a\r", "Linux wifibox"},
		{"ip addr\r", "inet 10.0.0.1/24"},
		{"exit\r", "wifibox login: "},
	} {
		if _, err := f.WriteString(step.send); err != nil {
			t.Fatal(err)
		}
		expect(t, f, step.want)
	}
	if !strings.HasPrefix(mustReadlink(t, h.Paths.ConsoleHost()), "/dev/pts/") {
		t.Errorf("%s does not lead to a terminal", h.Paths.ConsoleHost())
	}
	must(t, h.Launcher.Signal(b.Pid(), syscall.SIGTERM))
	b.exit(t, host.ExitStatus{Code: host.ExitPowerOff})
}

func mustReadlink(t *testing.T, path string) string {
	t.Helper()
	target, err := os.Readlink(path)
	must(t, err)
	return target
}
