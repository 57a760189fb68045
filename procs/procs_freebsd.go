//go:build freebsd

package procs

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// New gives the process table of the running FreeBSD system.
func New() *Table { return &Table{sys: freebsd{}} }

type freebsd struct{}

func (freebsd) procList() ([]byte, error) {
	// The table may grow between the size query and the read (ENOMEM).
	for range 3 {
		raw, err := unix.SysctlRaw("kern.proc.proc")
		if !errors.Is(err, unix.ENOMEM) {
			return raw, err
		}
	}
	return unix.SysctlRaw("kern.proc.proc")
}

func (freebsd) procArgs(pid int) ([]byte, error) { return unix.SysctlRaw("kern.proc.args", pid) }

func (freebsd) waitExit(pid int, timeout time.Duration) (bool, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return false, err
	}
	defer unix.Close(kq)
	change := []unix.Kevent_t{{Ident: uint64(pid), Filter: evfiltProc, Flags: evAdd | evOneshot, Fflags: noteExit}}
	events := make([]unix.Kevent_t, 1)
	deadline := time.Now().Add(timeout)
	for {
		left := max(time.Until(deadline), 0)
		ts := unix.NsecToTimespec(left.Nanoseconds())
		n, err := unix.Kevent(kq, change, events, &ts)
		change = nil // registered once; EINTR retries only wait
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, err
		case n == 0:
			return false, nil
		case events[0].Flags&evError != 0:
			return false, unix.Errno(events[0].Data)
		}
		return true, nil
	}
}
