//go:build !linux && !freebsd

package logview

import (
	"errors"
	"runtime"
)

// newWatcher: following needs inotify or kqueue's EVFILT_VNODE.
func newWatcher(string) (Watcher, error) {
	return nil, errors.New("following a log is not supported on " + runtime.GOOS)
}
