package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/tty"
)

// lockFile is the name of the lock, in Options.LockDir, that lets one
// console session run at a time.
const lockFile = "console.lock"

// sessionLock is the held lock: an flock(2) on the lock file, which holds
// the holder's process ID for the next one to name.
type sessionLock struct {
	f *os.File
}

// lockSession takes the lock at path without waiting. When another session
// holds it, the error wraps ErrBusy and names the holder.
func lockSession(path string) (*sessionLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the console lock: %w", err)
	}
	if err := tty.Control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = fmt.Errorf("%w (process %s holds %s); leave that session first",
				ErrBusy, holder(f), path)
		} else {
			err = fmt.Errorf("lock %s: flock: %w", path, err)
		}
		f.Close()
		return nil, err
	}
	if err := writePid(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the console lock %s: %w", path, err)
	}
	return &sessionLock{f: f}, nil
}

// release empties the lock file and lets the lock go (closing the file
// drops the flock).
func (l *sessionLock) release() {
	l.f.Truncate(0)
	l.f.Close()
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// holder reads the holder's process ID from the lock file; "unknown" if the
// holder has not written it yet.
func holder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return pid
	}
	return "unknown"
}
