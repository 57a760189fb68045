// Package logview owns `wifibox log [-f] [host|guest|guest dmesg]`: which
// file each log is (wifibox's own log, and the guest's messages and dmesg
// that the guest writes into its shared run-time directory), printing one,
// and following it as it grows, like tail -F: across truncation and across
// rotation by newsyslog(8), which renames the file and lets a new one
// appear. Following is event-driven, never polling: inotify(7) on the
// file's directory on Linux, kqueue(2) EVFILT_VNODE on the file and its
// directory on FreeBSD, behind a small per-system seam (watcher).
package logview

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wifibox/wifibox/host"
)

// Log is one of the logs `wifibox log` shows.
type Log struct {
	Path string
	// Missing says who writes the file, for when it does not exist yet.
	Missing string
}

// Usage is the command's synopsis, for its usage errors.
const Usage = "log [-f] [host|guest|guest dmesg]"

// Select reads the arguments of `wifibox log`: -f to follow, then which
// log, the host's by default. An error is a usage error.
func Select(p host.Paths, args []string) (l Log, follow bool, err error) {
	if len(args) > 0 && args[0] == "-f" {
		follow, args = true, args[1:]
	}
	guestLog := func(name string) Log {
		return Log{
			Path:    filepath.Join(p.RunAppliance(), "log", name),
			Missing: "the guest writes it there once it runs (wifibox start)",
		}
	}
	switch strings.Join(args, " ") {
	case "", "host":
		return Log{Path: p.Log, Missing: "wifibox writes it at its first command"}, follow, nil
	case "guest":
		return guestLog("messages"), follow, nil
	case "guest dmesg":
		return guestLog("dmesg"), follow, nil
	}
	return Log{}, false, fmt.Errorf("Unknown log: %s (usage: wifibox %s)", strings.Join(args, " "), Usage)
}

// Show shows the log as the package's Show does; a log that does not
// exist yet is an error that says who writes it.
func (l Log) Show(w io.Writer, follow bool, stop <-chan struct{}) error {
	err := Show(w, l.Path, follow, stop)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", err, l.Missing)
	}
	return err
}

// Show prints the file at path to w. With follow it then prints what is
// appended to it, starting over when the file is truncated and going on
// with the new file when the file is renamed or removed and another one
// appears at path, until stop is closed; then it returns nil. A file that
// does not exist is an error wrapping fs.ErrNotExist.
func Show(w io.Writer, path string, follow bool, stop <-chan struct{}) error {
	var changes watcher
	if follow {
		// Watching starts before the first read, so no change is missed.
		var err error
		if changes, err = newWatcher(path); err != nil {
			return fmt.Errorf("follow %s: %w", path, err)
		}
		defer changes.Close()
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("show log: %w", err)
	}
	defer func() { f.Close() }()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("show log %s: %w", path, err)
	}
	if !follow {
		return nil
	}
	for {
		select {
		case <-stop:
			return nil
		case _, ok := <-changes.Changed():
			if !ok {
				return fmt.Errorf("follow %s: %w", path, changes.Err())
			}
		}
		if f, err = catchUp(w, f, path); err != nil {
			return fmt.Errorf("follow %s: %w", path, err)
		}
	}
}

// catchUp prints what was appended to f since it was last read, from the
// start if f was truncated; then, when path names another file (rotated),
// that file from its start, which it gives back to be followed instead.
func catchUp(w io.Writer, f *os.File, path string) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		return f, err
	}
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil {
		return f, err
	} else if fi.Size() < pos {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return f, err
		}
	}
	if _, err := io.Copy(w, f); err != nil {
		return f, err
	}
	now, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && os.SameFile(fi, now) {
		return f, nil // the same file, or none yet after a rename
	}
	if err != nil {
		return f, err
	}
	next, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil // gone again: its successor is on its way
	}
	if err != nil {
		return f, err
	}
	f.Close()
	_, err = io.Copy(w, next)
	return next, err
}

// watcher tells when the file at a path may have changed: written to,
// truncated, renamed or removed, or created anew. It is the per-system
// seam of Show.
type watcher interface {
	// Changed receives a value after changes; several changes may give
	// one value. It is closed when watching fails; Err then says why.
	Changed() <-chan struct{}
	Err() error
	Close() error
}
