package conformance

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/tty"
)

// TestTerminal: the console's terminal calls (TIOCGETA and TIOCSETA on
// FreeBSD, on one side of an nmdm pair): made raw, its settings read back
// are raw, bytes cross the pair untranslated, the old settings come back,
// and a file that is no terminal is ENOTTY.
func TestTerminal(t *testing.T) {
	console, peer, name := terminalPair(t)
	saved, err := tty.MakeRawFile(console, name, true)
	if err != nil {
		t.Fatal(err)
	}
	var raw *unix.Termios
	if err := tty.Control(console, func(fd int) (err error) { raw, err = tty.Get(fd, name); return err }); err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 || raw.Cc[unix.VMIN] != 1 {
		t.Errorf("settings after MakeRawFile: lflag %#x oflag %#x vmin %d; want raw", raw.Lflag, raw.Oflag, raw.Cc[unix.VMIN])
	}
	if _, err := peer.Write([]byte("a\rb\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 4)
	buf := make([]byte, 4)
	for len(got) < 4 {
		n, err := console.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte("a\rb\n")) {
		t.Errorf("read %q through the raw terminal, want it untranslated", got)
	}
	var back *unix.Termios
	err = tty.Control(console, func(fd int) error {
		if err := tty.Set(fd, name, saved); err != nil {
			return err
		}
		back, err = tty.Get(fd, name)
		return err
	})
	if err != nil || back.Lflag != saved.Lflag || back.Oflag != saved.Oflag {
		t.Errorf("settings restored: %+v, %v; want %+v", back, err, saved)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	err = tty.Control(null, func(fd int) error { _, err := tty.Get(fd, os.DevNull); return err })
	if !errors.Is(err, unix.ENOTTY) {
		t.Errorf("terminal settings of %s: %v, want ENOTTY", os.DevNull, err)
	}
}
