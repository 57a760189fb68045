package sim

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// logWaiter waits for the routing log to grow with inotify, and for a
// wake-up on a pipe, in one poll(2): no polling at intervals.
type logWaiter struct {
	ino   int
	wake2 [2]int // the pipe's read and write ends
}

func newLogWaiter(path string) (*logWaiter, error) {
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(ino, path, unix.IN_MODIFY); err != nil {
		unix.Close(ino)
		return nil, err
	}
	w := &logWaiter{ino: ino}
	if err := unix.Pipe2(w.wake2[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(ino)
		return nil, err
	}
	return w, nil
}

// wait returns once the log was written to since the last wait, a
// wake-up came, or one of the processes exited.
func (w *logWaiter) wait(pids []int) error {
	fds := []unix.PollFd{{Fd: int32(w.ino), Events: unix.POLLIN}, {Fd: int32(w.wake2[0]), Events: unix.POLLIN}}
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return nil // gone already: the caller reaps it
		}
		defer unix.Close(fd)
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	buf := make([]byte, 4096)
	for {
		if _, err := unix.Read(w.ino, buf); err != nil {
			break
		}
	}
	return nil
}

func (w *logWaiter) wake() { unix.Write(w.wake2[1], []byte{0}) }

func (w *logWaiter) close() {
	unix.Close(w.ino)
	unix.Close(w.wake2[0])
	unix.Close(w.wake2[1])
}

// processAlive tells whether a process runs: it exists and is no zombie,
// whose descriptors exit(2) has closed already.
func processAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	return !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z")
}
