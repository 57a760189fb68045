package manager

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/runfile"
)

// The manager's files in the run directory.
const (
	pidName    = "manager.pid"
	socketName = "manager.sock"
)

// runFiles are the pid file, locked while the manager lives, and the path of
// the control socket.
type runFiles struct {
	pid     *os.File
	pidPath string
	socket  string
}

// claim takes the pid file. A pid file locked by another process means a
// manager runs already. The pid file appears whole and locked: it is
// written and locked under a name of its own, then linked into place, which
// fails when anything is there; so a failed write (a full disk) leaves no
// empty pid file behind, and no link planted in the run directory is
// followed.
func claim(runDir string) (*runFiles, error) {
	if err := runfile.MakeDir(runDir); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, pidName)
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	os.Remove(tmp) // left by a killed manager that had this pid
	f, err := runfile.Create(tmp, 0o644)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	lock := wholeFile(unix.F_WRLCK)
	err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lock)
	if err != nil {
		err = fmt.Errorf("lock %s: %w", tmp, err)
	} else if _, err = fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		err = fmt.Errorf("write %s: %w", tmp, errors.Unwrap(err))
	}
	for attempt := 0; err == nil; attempt++ {
		err = os.Link(tmp, path)
		if err == nil {
			return &runFiles{pid: f, pidPath: path, socket: filepath.Join(runDir, socketName)}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		pid, _, rerr := Running(runDir)
		switch {
		case rerr != nil:
			err = rerr
		case pid != 0:
			err = fmt.Errorf("another VM manager (PID %d) holds %s", pid, path)
		case attempt == 0: // left by a manager that died, or gone meanwhile
			err = RemoveStale(runDir)
		}
	}
	f.Close()
	return nil, err
}

// release removes the files and gives up the lock.
func (r *runFiles) release() {
	os.Remove(r.socket)
	os.Remove(r.pidPath)
	r.pid.Close()
}

// listen opens the control socket, readable and writable by root only.
func listen(path string) (net.Listener, error) {
	os.Remove(path) // a socket left by a killed manager
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, runfile.Cause(err))
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// wholeFile is an fcntl(2) lock of the given type over the whole file.
func wholeFile(typ int16) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: io.SeekStart}
}

// Running tells whether a VM manager lives, from its pid file: the file
// exists and a process holds a lock on it; the kernel names that process,
// so nothing is read from the file and no lock is taken. stale is true when
// the pid file was left by a manager that died.
func Running(runDir string) (pid int, stale bool, err error) {
	path := filepath.Join(runDir, pidName)
	f, err := runfile.Open(path, os.O_RDONLY, false, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	pid, err = lockHolder(f)
	return pid, err == nil && pid == 0, err // nobody holds it: the manager is gone
}

// lockHolder gives the process that holds a lock on the file, or 0.
func lockHolder(f *os.File) (int, error) {
	lock := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lock); err != nil {
		return 0, fmt.Errorf("query the lock of %s: %w", f.Name(), err)
	}
	if lock.Type == unix.F_UNLCK {
		return 0, nil
	}
	return int(lock.Pid), nil
}

// RemoveStale removes the files a dead manager left.
func RemoveStale(runDir string) error {
	for _, name := range []string{pidName, socketName} {
		if err := os.Remove(filepath.Join(runDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) {
	data, _ := json.Marshal(v)
	w.Write(append(data, '\n'))
}

// lineLog logs each line written to it with a tag, and keeps the last few.
type lineLog struct {
	log  *logrus.Logger
	tag  string
	mu   sync.Mutex
	part []byte
	tail []string
}

func newLineLog(log *logrus.Logger, tag string) *lineLog {
	return &lineLog{log: log, tag: tag}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.line(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
}

func (l *lineLog) line(s string) {
	s = strings.TrimRight(s, "\r")
	l.log.Infof("%s %s", l.tag, s)
	l.tail = append(l.tail, s)
	if len(l.tail) > tailLines {
		l.tail = l.tail[1:]
	}
}

// Close logs an unterminated last line.
func (l *lineLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.part) > 0 {
		l.line(string(l.part))
		l.part = nil
	}
	return nil
}

func (l *lineLog) last() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}

// ErrNoAnswer: the VM manager did not answer a request in time; it may be
// stopped (SIGSTOP) or hung.
var ErrNoAnswer = errors.New("the VM manager does not answer")

// request sends one request on the control socket and reads the answer,
// all of it within wait: a deadline on the socket, no timer polls.
func request(runDir, req string, wait time.Duration) (string, error) {
	path := filepath.Join(runDir, socketName)
	deadline := time.Now().Add(wait)
	conn, err := (&net.Dialer{Deadline: deadline}).Dial("unix", path)
	if err != nil {
		return "", fmt.Errorf("connect to the VM manager at %s: %w", path, noAnswer(runfile.Cause(err), wait))
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, req+"\n"); err != nil {
		return "", fmt.Errorf("send %q to the VM manager: %w", req, noAnswer(err, wait))
	}
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the VM manager's answer to %q: %w", req, noAnswer(err, wait))
	}
	return strings.TrimSpace(answer), nil
}

// noAnswer makes a deadline that passed an ErrNoAnswer error.
func noAnswer(err error, wait time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w within %s", ErrNoAnswer, wait)
	}
	return err
}

// killWait bounds how long Kill waits for a killed VM manager to exit.
const killWait = 5 * time.Second

// Kill ends the VM manager pid, which holds the pid file in runDir, with
// SIGKILL, and waits until the kernel has released its lock on the pid
// file, that is until it is gone: at most killWait. The pid is the lock's
// holder, which the kernel names, so no other process can be hit. Its
// bhyve, in a process group of its own, is left: it ends when repair
// destroys its VM.
func Kill(runDir string, pid int) error {
	path := filepath.Join(runDir, pidName)
	f, err := runfile.Open(path, os.O_RDWR, false, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("kill the VM manager PID %d: %w", pid, err)
	}
	defer f.Close()
	if holder, err := lockHolder(f); err != nil || holder != pid {
		return err // gone, or another manager's by now: nothing to kill
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill the VM manager PID %d: %w", pid, err)
	}
	setlkw := func(fd int) error {
		lock := wholeFile(unix.F_WRLCK)
		return unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, &lock)
	}
	switch err := runfile.WaitLock(f, setlkw, killWait); {
	case errors.Is(err, runfile.ErrTimeout):
		return fmt.Errorf("the killed VM manager PID %d has not exited after %s", pid, killWait)
	case err != nil:
		return fmt.Errorf("wait for the killed VM manager PID %d to exit: lock %s: %w", pid, path, err)
	}
	return nil // closing f lets the lock go
}
