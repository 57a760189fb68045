// Package logview owns `wifibox log [-f] [host|guest|guest dmesg]`: which
// file each log is (wifibox's own log, and the guest's messages and dmesg
// that the guest writes into its shared run-time directory), printing one,
// and following it as it grows, like tail -F: across truncation and across
// rotation by newsyslog(8), which renames the file and lets a new one
// appear. Following is event-driven, never polling: inotify(7) on the
// file's directory on Linux, kqueue(2) EVFILT_VNODE on the file and its
// directory on FreeBSD, behind a small per-system seam (Watcher, which
// Watch gives to others). What a
// log holds is untrusted (the guest writes its own logs, and bhyve's output
// in the host's log is the guest's console): a log is opened without
// following links and only if it is a regular file, at most its last
// maxShown bytes are shown at once, and control characters are printed
// escaped, so that no escape sequence reaches the terminal.
package logview

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// Log is one of the logs `wifibox log` shows.
type Log struct {
	Path string
	// Below, when set, is a directory of root's that Path lies in: what
	// follows it in Path is opened following no link at any component
	// (runfile.OpenIn), since others control it.
	Below string
	// Missing says who writes the file, for when it does not exist yet.
	Missing string
}

// Usage is the command's synopsis, for its usage errors.
const Usage = "log [-f] [-n N] [host|guest|guest dmesg]"

// View is how a log is shown.
type View struct {
	Follow bool // go on printing what is appended, as tail -F does
	// Lines is how many of the last lines to print first; All for the
	// whole file.
	Lines int
}

// All is View.Lines for the whole file.
const All = -1

// followLines is how many lines -f prints before following, as tail -f.
const followLines = 10

// Select reads the arguments of `wifibox log`: -f to follow, -n N for the
// last N lines (10 with -f, the whole file without), and which log, the
// host's by default; the options may come before or after the log's name.
// An error is a usage error.
func Select(p host.Paths, args []string) (Log, View, error) {
	var v View
	v.Lines = All
	lines := false
	var name []string
	for len(args) > 0 {
		switch {
		case args[0] == "-f" && !v.Follow:
			v.Follow, args = true, args[1:]
		case args[0] == "-n" && !lines:
			n, err := -1, error(nil)
			if len(args) > 1 {
				n, err = strconv.Atoi(args[1])
			}
			if err != nil || n < 0 {
				return Log{}, View{}, fmt.Errorf("-n takes a number of lines (usage: wifibox %s)", Usage)
			}
			v.Lines, lines, args = n, true, args[2:]
		case strings.HasPrefix(args[0], "-"):
			return Log{}, View{}, fmt.Errorf("Unknown or repeated option: %s (usage: wifibox %s)", args[0], Usage)
		default:
			name, args = append(name, args[0]), args[1:]
		}
	}
	if v.Follow && !lines {
		v.Lines = followLines
	}
	// The guest mounts the run directory's appliance/ read-write: its
	// logs are opened below the run directory, following no link.
	guestLog := func(name string) Log {
		return Log{
			Path:    filepath.Join(p.RunAppliance(), "log", name),
			Below:   p.RunDir,
			Missing: "the guest writes it there once it runs (wifibox start)",
		}
	}
	switch strings.Join(name, " ") {
	case "", "host":
		return Log{Path: p.Log, Missing: "wifibox writes it at its first command"}, v, nil
	case "guest":
		return guestLog("messages"), v, nil
	case "guest dmesg":
		return guestLog("dmesg"), v, nil
	}
	return Log{}, View{}, fmt.Errorf("Unknown log: %s (usage: wifibox %s)", strings.Join(name, " "), Usage)
}

// Show shows the log as the package's Show does; a log that does not
// exist yet is an error that says who writes it.
func (l Log) Show(w io.Writer, v View, stop <-chan struct{}) error {
	err := show(w, l.Path, l.open, v, stop)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", err, l.Missing)
	}
	return err
}

// open opens the log, below l.Below when set.
func (l Log) open() (*os.File, error) {
	if l.Below == "" {
		return runfile.Open(l.Path, os.O_RDONLY, false, 0)
	}
	rel, err := filepath.Rel(l.Below, l.Path)
	if err != nil {
		return nil, err
	}
	return runfile.OpenIn(l.Below, rel, os.O_RDONLY)
}

// Show prints the file at path to w, or its last v.Lines lines. With
// v.Follow it then prints what is appended to it, starting over when the
// file is truncated and going on with the new file when the file is renamed
// or removed and another one appears at path, until stop is closed; then it
// returns nil. A file that does not exist is an error wrapping
// fs.ErrNotExist, unless it is followed: then Show waits for it to appear.
func Show(w io.Writer, path string, v View, stop <-chan struct{}) (err error) {
	return Log{Path: path}.Show(w, v, stop)
}

// show is Show with open to open the file at path.
func show(w io.Writer, path string, open func() (*os.File, error), v View, stop <-chan struct{}) (err error) {
	out := &escaper{w: w}
	defer func() {
		if ferr := out.flush(); err == nil && ferr != nil {
			err = fmt.Errorf("show log %s: %w", path, ferr)
		}
	}()
	w = out
	var changes Watcher
	if v.Follow {
		if appeared, err := waitFor(path, stop); err != nil || !appeared {
			return err
		}
		// Watching starts before the first read, so no change is missed.
		var err error
		if changes, err = newWatcher(path); err != nil {
			return fmt.Errorf("follow %s: %w", path, err)
		}
		defer changes.Close()
	}
	f, err := open()
	if err != nil {
		return fmt.Errorf("show log: %w", err)
	}
	defer func() { f.Close() }()
	if v.Lines != All {
		if err := seekLastLines(f, v.Lines); err != nil {
			return err // seek or read PATH: the cause
		}
	}
	if err := copyBounded(w, f); err != nil {
		return fmt.Errorf("show log %s: %w", path, err)
	}
	if !v.Follow {
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
		if f, err = catchUp(w, f, path, open); err != nil {
			return fmt.Errorf("follow %s: %w", path, err)
		}
	}
}

// waitFor waits until something is at path, watching the nearest
// directory above it that exists for the next component to appear, one
// after the other, as a log that has never been written (the guest's,
// before its first start) comes into being. It gives false when stop is
// closed first. The file found is opened and checked by the caller.
func waitFor(path string, stop <-chan struct{}) (bool, error) {
	for {
		next := path // the first component that does not exist
		for {
			_, err := os.Lstat(next)
			if err == nil && next == path {
				return true, nil
			}
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			parent := filepath.Dir(next)
			if parent == next {
				return false, err
			}
			if _, err := os.Lstat(parent); err == nil {
				break
			}
			next = parent
		}
		w, err := newWatcher(next)
		if err != nil {
			return false, fmt.Errorf("wait for %s: %w", path, err)
		}
		// Watched before it is looked for again: its creation is seen.
		if _, err := os.Lstat(next); err == nil {
			w.Close()
			continue
		}
		select {
		case <-stop:
			w.Close()
			return false, nil
		case _, ok := <-w.Changed():
			w.Close()
			if !ok {
				return false, fmt.Errorf("wait for %s: %w", path, w.Err())
			}
		}
	}
}

// seekLastLines sets f's offset to the start of its last n lines, reading
// it backwards a block at a time: a log of any size costs what its last
// lines do. A last line without its newline counts as a line. It reads no
// further back than maxShown bytes, what copyBounded shows at most.
func seekLastLines(f *os.File, n int) error {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || n == 0 {
		return err
	}
	const block = 8192
	buf := make([]byte, block)
	pos, newlines := end, 0
	for pos > 0 && end-pos < maxShown { // no further back than is shown
		size := min(block, pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil {
			return err
		}
		for i := size - 1; i >= 0; i-- {
			// A newline ends the line before the last lines; the
			// last line's own does not count.
			if at := pos + i; buf[i] == '\n' && at != end-1 {
				if newlines++; newlines == n {
					_, err := f.Seek(at+1, io.SeekStart)
					return err
				}
			}
		}
	}
	_, err = f.Seek(pos, io.SeekStart)
	return err
}

// catchUp prints what was appended to f since it was last read, from the
// start if f was truncated; then, when path names another file (rotated),
// that file from its start, which it gives back to be followed instead.
func catchUp(w io.Writer, f *os.File, path string, open func() (*os.File, error)) (*os.File, error) {
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
	if err := copyBounded(w, f); err != nil {
		return f, err
	}
	now, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && os.SameFile(fi, now) {
		return f, nil // the same file, or none yet after a rename
	}
	if err != nil {
		return f, err
	}
	next, err := open()
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil // gone again: its successor is on its way
	}
	if err != nil {
		return f, err
	}
	f.Close()
	return next, copyBounded(w, next)
}

// maxShown bounds what is shown of a log at once: its end, when more was
// written since it was last read.
const maxShown = 1 << 20

// copyBounded copies what f holds from its offset to w, at most its last
// maxShown bytes (from the start of a line), saying how much it skipped.
func copyBounded(w io.Writer, f *os.File) error {
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r := bufio.NewReader(io.LimitReader(f, maxShown))
	if skip := fi.Size() - pos - maxShown; skip > 0 {
		if _, err := f.Seek(skip, io.SeekCurrent); err != nil {
			return err
		}
		line, err := r.ReadBytes('\n') // the rest of a cut line
		if err != nil && err != io.EOF {
			return err
		}
		if _, err := r.Peek(1); err == io.EOF {
			// The cut line is the last, longer than what is shown:
			// its end, as the last lines show it.
			fmt.Fprintf(w, "[wifibox: %d bytes skipped, the last %d shown]\n", skip, len(line))
			_, err = w.Write(line)
			return err
		}
		fmt.Fprintf(w, "[wifibox: %d bytes skipped, the last %d shown]\n", skip+int64(len(line)), maxShown-len(line))
	}
	_, err = io.Copy(w, r)
	return err
}

// Watcher tells when the file at a path may have changed: written to,
// truncated, renamed or removed, or created anew. It is the per-system
// seam of Show, and the VM manager's sign of the guest's log being
// written.
type Watcher interface {
	// Changed receives a value after changes; several changes may give
	// one value. It is closed when watching fails; Err then says why.
	Changed() <-chan struct{}
	Err() error
	Close() error
}

// Watch watches the file at path, which need not exist yet (its directory
// must): inotify(7) on Linux, kqueue(2) on FreeBSD.
func Watch(path string) (Watcher, error) { return newWatcher(path) }
