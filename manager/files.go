package manager

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The manager's files in the run directory.
const (
	pidName    = "manager.pid"
	socketName = "manager.sock"
)

// runFiles are the pid file, locked while the manager lives, and the path of
// the control socket.
type runFiles struct {
	pid    *os.File
	socket string
}

// claim takes the pid file. A pid file locked by another process means a
// manager runs already.
func claim(runDir string) (*runFiles, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, pidName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	lock := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lock); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("another VM manager holds %s", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &runFiles{pid: f, socket: filepath.Join(runDir, socketName)}, nil
}

// release removes the files and gives up the lock.
func (r *runFiles) release() {
	os.Remove(r.socket)
	os.Remove(r.pid.Name())
	r.pid.Close()
}

// listen opens the control socket, readable and writable by root only.
func listen(path string) (net.Listener, error) {
	os.Remove(path) // a socket left by a killed manager
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
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
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	lock := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lock); err != nil {
		return 0, false, fmt.Errorf("query the lock of %s: %w", path, err)
	}
	if lock.Type == unix.F_UNLCK {
		return 0, true, nil // nobody holds it: the manager is gone
	}
	return int(lock.Pid), false, nil
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

// request sends one request on the control socket and reads the answer.
func request(runDir, req string) (string, error) {
	path := filepath.Join(runDir, socketName)
	conn, err := net.Dial("unix", path)
	if err != nil {
		return "", fmt.Errorf("connect to the VM manager at %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req+"\n"); err != nil {
		return "", fmt.Errorf("send %q to the VM manager: %w", req, err)
	}
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the VM manager's answer to %q: %w", req, err)
	}
	return strings.TrimSpace(answer), nil
}
