package console

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/linktest"
)

const connecting = "Connecting, type \"~.\" to leave the session...\n"

// recorder is the session's Out: a pipe the test reads everything from.
type recorder struct {
	w      *os.File
	chunks chan []byte // what arrives, closed at the pipe's end
	seen   []byte
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{w: w, chunks: make(chan []byte, 16)}
	go func() {
		defer close(rec.chunks)
		defer r.Close()
		for {
			buf := make([]byte, 4096)
			n, err := r.Read(buf)
			if n > 0 {
				rec.chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { rec.all() })
	return rec
}

// waitFor returns once s has arrived.
func (r *recorder) waitFor(t *testing.T, s string) {
	t.Helper()
	for !strings.Contains(string(r.seen), s) {
		c, ok := <-r.chunks
		if !ok {
			t.Fatalf("output ended without %q; got %q", s, r.seen)
		}
		r.seen = append(r.seen, c...)
	}
}

// all ends the output and returns all of it.
func (r *recorder) all() string {
	r.w.Close()
	for c := range r.chunks {
		r.seen = append(r.seen, c...)
	}
	return string(r.seen)
}

// attach runs Attach in the background.
func attach(opts Options) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Attach(opts) }()
	return done
}

// userTerminal is a pty standing in for the user's terminal, with settings
// no default has, so that a restore to defaults shows.
func userTerminal(t *testing.T) (*pty, unix.Termios) {
	t.Helper()
	user := openPTY(t)
	tio := user.termios(t)
	tio.Cc[unix.VERASE] = 0x08
	tio.Iflag |= unix.IXANY
	tio.Lflag &^= unix.ECHOCTL
	user.setTermios(t, tio)
	return user, user.termios(t)
}

// liveSession is a session on a device pty and a user pty, running: the
// guest's first output has reached Out, so both relays run and the user's
// terminal is raw.
type liveSession struct {
	dev, user *pty
	in        *os.File     // the session's In: the user's terminal, blocking like a standard input
	before    unix.Termios // the user's terminal before the session
	out       *recorder
	done      <-chan error
}

func startLive(t *testing.T) *liveSession {
	t.Helper()
	s := &liveSession{dev: device(t), out: newRecorder(t)}
	s.dev.makeRaw(t)
	s.user, s.before = userTerminal(t)
	s.in = s.user.blockingSlave(t)
	if statusFlags(t, s.in)&unix.O_NONBLOCK != 0 {
		t.Fatal("the user's terminal is non-blocking before the session")
	}
	s.done = attach(Options{Device: s.dev.path, In: s.in, Out: s.out.w, LockDir: t.TempDir()})
	s.dev.write(t, []byte("hello"))
	s.out.waitFor(t, connecting+"hello")
	if tio := s.user.termios(t); tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || tio.Oflag&unix.OPOST != 0 {
		t.Fatalf("the user's terminal is not raw during the session: %+v", tio)
	}
	return s
}

// end waits for the session's end and checks that the user's terminal got
// its settings back and the session said Finished.
func (s *liveSession) end(t *testing.T) error {
	t.Helper()
	err := <-s.done
	checkRestored(t, s.user, s.before)
	if statusFlags(t, s.in)&unix.O_NONBLOCK != 0 {
		t.Error("the user's terminal is non-blocking after the session")
	}
	if out := s.out.all(); !strings.HasSuffix(out, "\r\nFinished.\n") {
		t.Errorf("output ends %q, want \"\\r\\nFinished.\\n\"", out[max(0, len(out)-40):])
	}
	return err
}

// checkRestored checks that the user's terminal has its settings from
// before the session.
func checkRestored(t *testing.T, user *pty, before unix.Termios) {
	t.Helper()
	if diff := cmp.Diff(before, user.termios(t)); diff != "" {
		t.Errorf("the user's terminal after the session (-before +after):\n%s", diff)
	}
}

func TestBytesArriveUnchanged(t *testing.T) {
	s := startLive(t)
	s.dev.write(t, []byte(allBytes()))
	s.out.waitFor(t, allBytes())
	// Typed at the start of a line, with "~" in its middle.
	s.user.write(t, []byte(allBytes()+"\r~."))
	if err := s.end(t); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got, want := string(s.out.seen), connecting+"hello"+allBytes()+"\r\nFinished.\n"; got != want {
		t.Errorf("user saw %q, want %q", got, want)
	}
	if got, want := string(s.dev.drain(t)), allBytes()+"\r"; got != want {
		t.Errorf("guest got %q, want %q", got, want)
	}
}

func TestEscapes(t *testing.T) {
	s := startLive(t)
	s.user.write(t, []byte("~?"))
	s.out.waitFor(t, helpText('~', "\r\n"))
	s.user.write(t, []byte("~~a~.b\r~zc\n~.never sent"))
	if err := s.end(t); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got, want := string(s.dev.drain(t)), "~a~.b\r~zc\n"; got != want {
		t.Errorf("guest got %q, want %q", got, want)
	}
}

// TestEveryWayOutRestores ends a session each way it can end.
func TestEveryWayOutRestores(t *testing.T) {
	signal := func(sig syscall.Signal) func(*testing.T, *liveSession) {
		return func(t *testing.T, _ *liveSession) {
			// Attach has Notify'd it: it ends the session, not the test.
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		end     func(*testing.T, *liveSession)
		wantErr error
	}{
		{name: "escape", end: func(t *testing.T, s *liveSession) { s.user.write(t, []byte("~.")) }},
		{name: "device hang-up", end: func(t *testing.T, s *liveSession) { s.dev.master.Close() }, wantErr: ErrHangup},
		{name: "SIGTERM", end: signal(syscall.SIGTERM), wantErr: ErrSignal},
		{name: "SIGHUP", end: signal(syscall.SIGHUP), wantErr: ErrSignal},
		{name: "SIGINT", end: signal(syscall.SIGINT), wantErr: ErrSignal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startLive(t)
			tt.end(t, s)
			err := s.end(t)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Attach: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHangupSaysGuestStopped(t *testing.T) {
	s := startLive(t)
	s.dev.master.Close()
	err := s.end(t)
	if err == nil || !strings.Contains(err.Error(), "the guest's console closed (guest stopped?)") || !strings.Contains(err.Error(), s.dev.path) {
		t.Errorf("Attach: %v, want the console %s closed, guest stopped?", err, s.dev.path)
	}
	// What the user types next is for whoever reads the terminal after
	// the session: no reader of the session is left to take it.
	s.user.write(t, []byte("after\n"))
	buf := make([]byte, 64)
	n, err := s.in.Read(buf)
	if err != nil || string(buf[:n]) != "after\n" {
		t.Errorf("read after the session: %q, %v; want \"after\\n\"", buf[:n], err)
	}
}

// TestPipedInput: a script's input is relayed as it is until its end, and
// the device is set to 115200 baud raw (no newline translation on output).
func TestPipedInput(t *testing.T) {
	dev := device(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := newRecorder(t)
	done := attach(Options{Device: dev.path, In: r, Out: out.w, LockDir: t.TempDir()})
	if _, err := w.WriteString("echo hi\n~x\n~"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("Attach: %v", err)
	}
	tio := dev.termios(t)
	if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG|unix.IEXTEN) != 0 || tio.Oflag&unix.OPOST != 0 ||
		tio.Iflag&(unix.ICRNL|unix.IXON|unix.IXOFF|unix.ISTRIP) != 0 || tio.Cflag&unix.CSIZE != unix.CS8 {
		t.Errorf("the device is not raw: %+v", tio)
	}
	if speed := tio.Cflag & unix.CBAUD; speed != unix.B115200 {
		t.Errorf("device speed code %#o, want B115200 (%#o)", speed, unix.B115200)
	}
	if got, want := string(dev.drain(t)), "echo hi\n~x\n~"; got != want {
		t.Errorf("guest got %q, want %q", got, want)
	}
	if got, want := out.all(), connecting+"Finished.\n"; got != want {
		t.Errorf("user saw %q, want %q", got, want)
	}
}

func TestSecondSessionRefused(t *testing.T) {
	dev := device(t)
	dev.makeRaw(t)
	lockDir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := newRecorder(t)
	done := attach(Options{Device: dev.path, In: r, Out: out.w, LockDir: lockDir})
	dev.write(t, []byte("hello"))
	out.waitFor(t, "hello")

	err = Attach(Options{Device: dev.path, In: r, Out: io.Discard, LockDir: lockDir})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())+" ") {
		t.Errorf("second Attach: %v, want %v naming process %d", err, ErrBusy, os.Getpid())
	}

	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("first Attach: %v", err)
	}
	// The lock is free again once the session is over.
	empty, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	w2.Close()
	if err := Attach(Options{Device: dev.path, In: empty, Out: io.Discard, LockDir: lockDir}); err != nil {
		t.Errorf("Attach after the first session: %v", err)
	}
}

func TestMissingDevice(t *testing.T) {
	lockDir := t.TempDir()
	path := filepath.Join(t.TempDir(), "nmdm-wifibox.1B")
	err := Attach(Options{Device: path, In: os.Stdin, Out: io.Discard, LockDir: lockDir})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "console=yes") {
		t.Errorf("Attach: %v, want %s missing, with a hint at console=yes", err, path)
	}
	l, err := lockSession(filepath.Join(lockDir, lockFile))
	if err != nil {
		t.Fatalf("the failed Attach kept the lock: %v", err)
	}
	l.release()
}

// errOutputGone is what brokenOutput's writes fail with.
var errOutputGone = errors.New("output gone")

// brokenOutput takes the first write (Connecting...) and fails after.
type brokenOutput struct{ writes int }

func (b *brokenOutput) Write(p []byte) (int, error) {
	b.writes++
	if b.writes > 1 {
		return 0, errOutputGone
	}
	return len(p), nil
}

func TestOutputWriteErrorRestores(t *testing.T) {
	dev := device(t)
	dev.makeRaw(t)
	user, before := userTerminal(t)
	done := attach(Options{Device: dev.path, In: user.blockingSlave(t), Out: &brokenOutput{}, LockDir: t.TempDir()})
	dev.write(t, []byte("hello"))
	if err := <-done; !errors.Is(err, errOutputGone) {
		t.Errorf("Attach: %v, want %v", err, errOutputGone)
	}
	checkRestored(t, user, before)
}

// TestLockRefusesLinks: a link planted at console.lock, dangling or to an
// existing file, is not followed.
func TestLockRefusesLinks(t *testing.T) {
	lockDir := t.TempDir()
	linktest.Check(t, filepath.Join(lockDir, lockFile), func(existing bool) {
		l, err := lockSession(filepath.Join(lockDir, lockFile))
		if err == nil {
			l.release()
			t.Errorf("lock through a link (target exists: %v) succeeded", existing)
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("lock through a link (target exists: %v): %v", existing, err)
		}
	})
}
