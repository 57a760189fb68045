//go:build freebsd

package logview

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The events kqueue reports: on the file, anything that changes what a
// reader sees; on the directory, an entry added or removed (a new file
// appearing at the path); and a user event that ends the watch.
const (
	fileNotes = unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB | unix.NOTE_RENAME | unix.NOTE_DELETE
	dirNotes  = unix.NOTE_WRITE
	closeID   = 1 // ident of the EVFILT_USER event
)

// kqueue watches the file and its directory. A goroutine owns the
// descriptors while it waits in kevent(2); Close triggers the user event
// that ends it, then closes them.
type kqueue struct {
	kq, dir int
	file    int // -1 while no file is at the path
	path    string
	changed chan struct{}
	done    chan struct{}
	err     error // set before changed is closed
}

func newWatcher(path string) (Watcher, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	w := &kqueue{kq: kq, dir: -1, file: -1, path: path, changed: make(chan struct{}, 1), done: make(chan struct{})}
	dir := filepath.Dir(path)
	if w.dir, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		w.closeAll()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	var user unix.Kevent_t
	unix.SetKevent(&user, closeID, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	err = w.register(w.dir, dirNotes)
	if err == nil {
		_, err = unix.Kevent(kq, []unix.Kevent_t{user}, nil, nil)
	}
	if err == nil {
		err = w.reopen()
	}
	if err != nil {
		w.closeAll()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	go w.wait()
	return w, nil
}

// register adds an EVFILT_VNODE event for the descriptor.
func (w *kqueue) register(fd int, notes uint32) error {
	var ev unix.Kevent_t
	unix.SetKevent(&ev, fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
	ev.Fflags = notes
	if _, err := unix.Kevent(w.kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		return fmt.Errorf("kevent EVFILT_VNODE: %w", err)
	}
	return nil
}

// reopen watches the file now at the path, if it is another one than the
// watched file; closing the old descriptor removes its event.
func (w *kqueue) reopen() error {
	var now, old unix.Stat_t
	if err := unix.Stat(w.path, &now); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if w.file >= 0 && unix.Fstat(w.file, &old) == nil && old.Dev == now.Dev && old.Ino == now.Ino {
		return nil
	}
	fd, err := unix.Open(w.path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if w.file >= 0 {
		unix.Close(w.file)
	}
	w.file = fd
	return w.register(fd, fileNotes)
}

// wait turns the events into changes until Close.
func (w *kqueue) wait() {
	defer close(w.done)
	events := make([]unix.Kevent_t, 8)
	for {
		n, err := unix.Kevent(w.kq, nil, events, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil {
			for _, ev := range events[:n] {
				if ev.Filter == unix.EVFILT_USER {
					return
				}
			}
			err = w.reopen()
		}
		if err != nil {
			w.err = fmt.Errorf("kevent: %w", err)
			close(w.changed)
			return
		}
		select {
		case w.changed <- struct{}{}:
		default: // a change is pending already
		}
	}
}

func (w *kqueue) Changed() <-chan struct{} { return w.changed }
func (w *kqueue) Err() error               { return w.err }

// Close ends the goroutine, if it still waits, then closes the descriptors.
// The descriptors are closed even when the goroutine cannot be told to end,
// so that they do not leak.
func (w *kqueue) Close() error {
	var stop error
	select {
	case <-w.done:
	default:
		var ev unix.Kevent_t
		unix.SetKevent(&ev, closeID, unix.EVFILT_USER, 0)
		ev.Fflags = unix.NOTE_TRIGGER
		if _, err := unix.Kevent(w.kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
			stop = fmt.Errorf("stop watching %s: kevent: %w", w.path, err)
		} else {
			<-w.done
		}
	}
	return errors.Join(stop, w.closeAll())
}

func (w *kqueue) closeAll() error {
	var errs []error
	for _, fd := range []int{w.file, w.dir, w.kq} {
		if fd < 0 {
			continue
		}
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("stop watching %s: close: %w", w.path, err))
		}
	}
	return errors.Join(errs...)
}
