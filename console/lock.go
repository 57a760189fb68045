package console

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/runfile"
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
	if err := runfile.CheckDir(filepath.Dir(path), os.Getuid()); err != nil {
		return nil, fmt.Errorf("the console lock: %w", err)
	}
	f, err := runfile.Open(path, os.O_RDWR, true, 0o644)
	if err != nil {
		return nil, fmt.Errorf("the console lock: %w", err)
	}
	if err := tty.Control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = fmt.Errorf("%w (process %s holds %s); leave that session first",
				ErrBusy, runfile.Holder(f), path)
		} else {
			err = fmt.Errorf("lock %s: flock: %w", path, err)
		}
		f.Close()
		return nil, err
	}
	if err := runfile.Record(f, strconv.Itoa(os.Getpid())); err != nil {
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
