package console

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/tty"
)

// userInput is the session's hold on the user's side: a duplicate of In's
// descriptor in non-blocking mode, so that the runtime's poller waits for
// the user's bytes and closing the duplicate ends a read in progress (a
// blocking read would outlive the session and swallow what the user types
// next to the shell), with what it takes to undo the session's changes.
type userInput struct {
	orig        *os.File
	f           *os.File      // the duplicate
	flags       int           // In's file status flags (O_NONBLOCK) before the session
	saved       *unix.Termios // In's terminal settings before the session; nil if not a terminal
	cancellable bool          // closing f ends a read in progress (f is in the poller)
}

// openInput takes hold of in, and makes it raw if it is a terminal.
func openInput(in *os.File) (*userInput, error) {
	u := &userInput{orig: in}
	err := tty.Control(in, func(fd int) error {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("read the file status flags of %s: fcntl F_GETFL: %w", in.Name(), err)
		}
		u.flags = flags
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("duplicate %s: fcntl F_DUPFD_CLOEXEC: %w", in.Name(), err)
		}
		if err := unix.SetNonblock(dup, true); err != nil {
			unix.Close(dup)
			return fmt.Errorf("make %s non-blocking: %w", in.Name(), err)
		}
		u.f = os.NewFile(uintptr(dup), in.Name())
		return nil
	})
	if err == nil {
		u.saved, err = tty.MakeRawFile(in, in.Name(), false)
		if errors.Is(err, unix.ENOTTY) {
			err = nil // not a terminal: nothing to make raw
		}
	}
	if err != nil {
		if u.f != nil {
			u.f.Close()
			u.restore()
		}
		return nil, fmt.Errorf("attach the user's input to the console: %w", err)
	}
	// Only a file in the poller has deadlines.
	u.cancellable = u.f.SetReadDeadline(time.Time{}) == nil
	return u, nil
}

// raw says whether In is a terminal the session made raw.
func (u *userInput) raw() bool { return u.saved != nil }

// newline ends a line the session prints: a raw terminal does not add the
// carriage return.
func (u *userInput) newline() string {
	if u.raw() {
		return "\r\n"
	}
	return "\n"
}

// restore gives In back its terminal settings and file status flags.
func (u *userInput) restore() error {
	return tty.Control(u.orig, func(fd int) error {
		var err error
		if u.saved != nil {
			err = tty.Set(fd, u.orig.Name(), u.saved)
		}
		if _, ferr := unix.FcntlInt(uintptr(fd), unix.F_SETFL, u.flags); ferr != nil {
			err = errors.Join(err, fmt.Errorf("restore the file status flags of %s: fcntl F_SETFL: %w", u.orig.Name(), ferr))
		}
		if err != nil {
			return fmt.Errorf("restore the user's terminal: %w", err)
		}
		return nil
	})
}
