package logview

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// inotifyMask is what changes a file of the watched directory, or the
// directory itself.
const inotifyMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// inotify watches the file's directory, which sees the file written,
// renamed, removed and created anew alike.
type inotify struct {
	f       *os.File // the inotify descriptor, non-blocking, in Go's poller
	name    string   // the file's name in the directory
	changed chan struct{}
	err     error // set before changed is closed
}

func newWatcher(path string) (Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	dir := filepath.Dir(path)
	if _, err := unix.InotifyAddWatch(fd, dir, inotifyMask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	w := &inotify{f: os.NewFile(uintptr(fd), "inotify"), name: filepath.Base(path), changed: make(chan struct{}, 1)}
	go w.read()
	return w, nil
}

// read turns the events about the file, or the directory, into changes
// until the descriptor is closed.
func (w *inotify) read() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			w.err = err
			close(w.changed)
			return
		}
		if concerns(buf[:n], w.name) {
			select {
			case w.changed <- struct{}{}:
			default: // a change is pending already
			}
		}
	}
}

// concerns tells whether any of the inotify events in buf (struct
// inotify_event: wd, mask, cookie, len, then len bytes of NUL-padded name)
// is about the named file or the directory itself (no name).
func concerns(buf []byte, name string) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		n := int(binary.NativeEndian.Uint32(buf[12:16]))
		end := unix.SizeofInotifyEvent + n
		if end > len(buf) {
			return true // cut short: look at the file anyway
		}
		got := bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00")
		if n == 0 || string(got) == name {
			return true
		}
		buf = buf[end:]
	}
	return false
}

func (w *inotify) Changed() <-chan struct{} { return w.changed }
func (w *inotify) Err() error               { return w.err }
func (w *inotify) Close() error             { return w.f.Close() }
