// Package console is wifibox's serial console client, a small cu(1): it
// attaches the user's terminal to the guest's serial console, the user's
// end of the nmdm(4) pair whose other end is bhyve's COM1, relays bytes both
// ways unchanged, and leaves when the user types "~." at the start of a
// line. It owns the session's terminal modes (the console device at 115200
// baud raw; the user's terminal raw during the session and restored exactly
// afterwards, whichever way the session ends) and the lock that allows one
// session at a time. Whether a guest runs and has a console is the caller's
// business.
package console

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/syncio"
	"github.com/wifibox/wifibox/internal/tty"
)

// Options describe a console session.
type Options struct {
	Device  string    // the user's end of the nmdm pair, host.Paths.ConsoleUser()
	Escape  byte      // the escape character; '~' when 0
	In      *os.File  // what the user types: a terminal (made raw) or any input (a script)
	Out     io.Writer // where the guest's output and the session's messages go
	LockDir string    // the directory of console.lock, host.Paths.RunDir
}

// The ways a session ends other than the user leaving or the input ending;
// Attach's errors wrap them.
var (
	// ErrHangup: the console device closed, the guest stopped.
	ErrHangup = errors.New("the guest's console closed (guest stopped?)")
	// ErrSignal: SIGHUP, SIGINT or SIGTERM arrived during the session.
	ErrSignal = errors.New("the console session ended on a signal")
	// ErrBusy: another console session holds the lock.
	ErrBusy = errors.New("another console session is running")
)

// Attach runs one console session on opts.Device and returns when it ends:
// the user typed the escape character and "." at the start of a line (nil),
// In reached its end (nil), the device hung up (ErrHangup), a signal arrived
// (ErrSignal), or reading or writing failed. It refuses to start while
// another session holds LockDir/console.lock (ErrBusy).
//
// It prints `Connecting, type "~." to leave the session...` first and
// `Finished.` last to Out. When In is a terminal it is raw during the
// session (^C is a byte for the guest, not a signal) and gets back its exact
// settings on every way out. While Attach runs it handles SIGHUP, SIGINT and
// SIGTERM itself (signal.Notify, undone before it returns): each ends the
// session cleanly instead of the process.
func Attach(opts Options) (err error) {
	if opts.Device == "" || opts.In == nil || opts.Out == nil || opts.LockDir == "" {
		return errors.New("attach to the guest's console: Options need Device, In, Out and LockDir")
	}
	esc := opts.Escape
	if esc == 0 {
		esc = '~'
	}
	lock, err := lockSession(filepath.Join(opts.LockDir, lockFile))
	if err != nil {
		return fmt.Errorf("attach to the guest's console: %w", err)
	}
	defer lock.release()
	dev, err := openDevice(opts.Device)
	if err != nil {
		return err
	}
	defer dev.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigs)

	out := &syncio.Writer{W: opts.Out}
	if _, err := fmt.Fprintf(out, "Connecting, type \"%c.\" to leave the session...\n", esc); err != nil {
		return fmt.Errorf("write to the user: %w", err)
	}
	in, err := openInput(opts.In)
	if err != nil {
		return err
	}
	err = relay(dev, in, out, esc, sigs)
	if in.raw() {
		out.Write([]byte("\r\n")) // the cursor may be anywhere on the guest's line
	}
	err = errors.Join(err, in.restore())
	fmt.Fprint(out, "Finished.\n")
	return err
}

// openDevice opens the console device and sets it to 115200 baud raw. It
// does not wait for carrier (O_NONBLOCK; the runtime's poller waits for
// data instead).
func openDevice(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open the guest's console: %w; the guest may not run, or console=yes is not set in bhyve.conf", err)
	}
	if err != nil {
		return nil, fmt.Errorf("open the guest's console: %w", err)
	}
	if _, err := tty.MakeRawFile(f, path, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("set up the guest's console: %w", err)
	}
	return f, nil
}

// relay copies the guest's output to out and the user's input to the guest
// until one side ends or a signal arrives, then stops both copies.
func relay(dev *os.File, in *userInput, out io.Writer, esc byte, sigs <-chan os.Signal) error {
	ends := make(chan error, 2) // room for both, so neither copy blocks on it
	var fromGuest, toGuest sync.WaitGroup
	fromGuest.Go(func() { ends <- copyFromGuest(dev, out) })
	toGuest.Go(func() { ends <- copyToGuest(in, dev, out, esc) })
	var err error
	select {
	case err = <-ends:
	case s := <-sigs:
		err = fmt.Errorf("%w: %v", ErrSignal, s)
	}
	// Closing a file in the runtime's poller ends a read in progress on it.
	dev.Close()
	in.f.Close()
	fromGuest.Wait()
	if in.cancellable {
		toGuest.Wait()
	}
	return err
}

func copyFromGuest(dev *os.File, out io.Writer) error {
	buf := make([]byte, 4096)
	for {
		n, err := dev.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("write the guest's output: %w", err)
			}
		}
		if err != nil {
			return deviceEnd("read", dev.Name(), err)
		}
	}
}

func copyToGuest(in *userInput, dev *os.File, out io.Writer, esc byte) error {
	e := newEscaper(esc)
	buf := make([]byte, 4096)
	for {
		n, rerr := in.f.Read(buf)
		for p := buf[:n]; len(p) > 0; {
			send, act, rest := e.feed(p)
			if _, err := dev.Write(send); err != nil {
				return deviceEnd("write", dev.Name(), err)
			}
			switch act {
			case leave:
				return nil
			case help:
				if _, err := io.WriteString(out, helpText(esc, in.newline())); err != nil {
					return fmt.Errorf("write to the user: %w", err)
				}
			}
			p = rest
		}
		switch {
		case rerr == io.EOF:
			if _, err := dev.Write(e.flush()); err != nil {
				return deviceEnd("write", dev.Name(), err)
			}
			return nil
		case errors.Is(rerr, os.ErrClosed):
			return nil // the session ends another way
		case rerr != nil:
			return fmt.Errorf("read the user's input: %w", rerr)
		}
	}
}

// deviceEnd says what an error on the console device means for the session:
// nil when the session closed the device itself, ErrHangup when the guest's
// end went away (end of file, or EIO as a Linux pty reports it).
func deviceEnd(op, name string, err error) error {
	switch {
	case errors.Is(err, os.ErrClosed):
		return nil
	case err == io.EOF || errors.Is(err, unix.EIO):
		return fmt.Errorf("%s %s: %w", op, name, ErrHangup)
	}
	return fmt.Errorf("%s the guest's console: %w", op, err)
}
