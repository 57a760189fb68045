package sim

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// WaitExit waits on a pidfd(2) of the process, the Linux counterpart of
// kqueue's EVFILT_PROC (freebsd-src main:sys/kern/kern_event.c
// filt_procattach, filt_proc): it becomes readable when the process
// exits. A process that does not exist has exited, as sys.Native takes
// filt_procattach's ESRCH.
func (k *Kernel) WaitExit(pid int, timeout time.Duration) (bool, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("wait for process %d to exit: pidfd_open: %w", pid, err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		ms := int(max(time.Until(deadline), 0) / time.Millisecond)
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, fmt.Errorf("wait for process %d to exit: poll: %w", pid, err)
		}
		if n > 0 {
			return true, nil
		}
		// A zombie nobody reaps yet has exited all the same.
		return !Alive(pid), nil
	}
}
