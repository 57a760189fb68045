package console

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/tty"
)

// pty is a Linux pseudo-terminal pair standing in for an nmdm(4) pair or
// the user's terminal: the test plays the guest (or types) on master, and
// holds slave open to look at its settings.
type pty struct {
	master *os.File
	slave  *os.File
	path   string // the slave's device path
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, s, path, err := tty.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return &pty{master: m, slave: s, path: path}
}

// blockingSlave opens the slave once more the way a process inherits its
// standard input: a blocking descriptor the runtime does not poll.
func (p *pty) blockingSlave(t *testing.T) *os.File {
	t.Helper()
	fd, err := unix.Open(p.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), p.path)
	t.Cleanup(func() { f.Close() })
	return f
}

// statusFlags are f's file status flags (O_NONBLOCK among them).
func statusFlags(t *testing.T, f *os.File) int {
	t.Helper()
	var flags int
	err := tty.Control(f, func(fd int) error {
		var err error
		flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return flags
}

// device opens a pty as the guest's console the way a simulated host has
// it: a symbolic link named like the nmdm device.
func device(t *testing.T) *pty {
	t.Helper()
	p := openPTY(t)
	link := filepath.Join(t.TempDir(), "nmdm-wifibox.1B")
	if err := os.Symlink(p.path, link); err != nil {
		t.Fatal(err)
	}
	p.path = link
	return p
}

func (p *pty) termios(t *testing.T) unix.Termios {
	t.Helper()
	var tio *unix.Termios
	err := tty.Control(p.slave, func(fd int) error {
		var err error
		tio, err = tty.Get(fd, p.path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

func (p *pty) setTermios(t *testing.T, tio unix.Termios) {
	t.Helper()
	if err := tty.Control(p.slave, func(fd int) error { return tty.Set(fd, p.path, &tio) }); err != nil {
		t.Fatal(err)
	}
}

// makeRaw makes the slave raw before a session, so that what the guest
// writes before Attach has set the device up is neither echoed nor held.
func (p *pty) makeRaw(t *testing.T) {
	t.Helper()
	tio := p.termios(t)
	tty.MakeRaw(&tio)
	p.setTermios(t, tio)
}

func (p *pty) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := p.master.Write(b); err != nil {
		t.Fatal(err)
	}
}

// drain closes the test's hold on the slave and returns everything written
// to the slave that the master has not read yet: with no slave open, the
// master's read ends with EIO once it is empty.
func (p *pty) drain(t *testing.T) []byte {
	t.Helper()
	p.slave.Close()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := p.master.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return got.Bytes()
		}
	}
}
