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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// The pid file's locks (fcntl(2) byte ranges): the manager claims the file
// with a lock on claimByte, and publishes itself with one on liveByte once
// its control socket listens, until it is about to remove it. Running
// names the holder of liveByte only, so a command that finds a manager
// finds it answering.
const (
	liveByte  = 0
	claimByte = 1
)

// runFiles are the pid file, locked while the manager lives, the path of
// the control socket, and the file of bhyve's pid.
type runFiles struct {
	pid     *os.File
	pidPath string
	socket  string
	status  string // the status socket
	guest   string
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
	path := filepath.Join(runDir, host.ManagerPIDFile)
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	os.Remove(tmp) // left by a killed manager that had this pid
	f, err := runfile.Create(tmp, 0o644)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	lock := oneByte(unix.F_WRLCK, claimByte)
	err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lock)
	if err != nil {
		err = fmt.Errorf("lock %s: %w", tmp, err)
	} else if _, err = fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		err = fmt.Errorf("write %s: %w", tmp, errors.Unwrap(err))
	}
	for attempt := 0; err == nil; attempt++ {
		err = os.Link(tmp, path)
		if err == nil {
			return &runFiles{pid: f, pidPath: path, socket: filepath.Join(runDir, host.ManagerSocket),
				status: filepath.Join(runDir, host.StatusSocket), guest: filepath.Join(runDir, host.GuestPIDFile)}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		pid, stale, rerr := Running(runDir)
		switch {
		case rerr != nil:
			err = rerr
		case pid != 0:
			err = fmt.Errorf("another VM manager (PID %d) holds %s", pid, path)
		case !stale:
			err = fmt.Errorf("another VM manager holds %s, on its way in or out", path)
		case attempt == 0: // left by a manager that died, or gone meanwhile
			err = RemoveStale(runDir)
		}
	}
	f.Close()
	return nil, err
}

// publish makes the pid file name the manager (see liveByte).
func (r *runFiles) publish() error {
	lock := oneByte(unix.F_WRLCK, liveByte)
	if err := unix.FcntlFlock(r.pid.Fd(), unix.F_SETLK, &lock); err != nil {
		return fmt.Errorf("lock %s: %w", r.pidPath, err)
	}
	return nil
}

// setGuest records the pid of the bhyve that runs, or that none does (0).
func (r *runFiles) setGuest(pid int) {
	if pid == 0 {
		os.Remove(r.guest)
		return
	}
	if f, err := runfile.Create(r.guest+".new", 0o644); err == nil {
		fmt.Fprintf(f, "%d\n", pid)
		f.Close()
		os.Rename(r.guest+".new", r.guest)
	}
}

// release removes the files and gives up the locks: the live lock first,
// so that no command finds the manager while its socket goes.
func (r *runFiles) release() {
	unlock := oneByte(unix.F_UNLCK, liveByte)
	unix.FcntlFlock(r.pid.Fd(), unix.F_SETLK, &unlock)
	os.Remove(r.guest)
	os.Remove(r.socket)
	os.Remove(r.status)
	os.Remove(r.pidPath)
	r.pid.Close()
}

// listen opens the control socket, readable and writable by root only
// (mode 0600), or with public the status socket, which every user may
// connect to (0666: connect(2) needs write permission on a socket).
func listen(path string, public bool) (net.Listener, error) {
	os.Remove(path) // a socket left by a killed manager
	mask, what := 0o177, "control socket"
	if public {
		mask, what = 0o111, "status socket"
	}
	old := syscall.Umask(mask)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", what, path, runfile.Cause(err))
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// wholeFile is an fcntl(2) lock of the given type over the whole file.
func wholeFile(typ int16) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: io.SeekStart}
}

// oneByte is an fcntl(2) lock of the given type on one byte of the file.
func oneByte(typ int16, at int64) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: at, Len: 1}
}

// Running tells whether a VM manager lives, from its pid file: the file
// exists and a process holds its live lock; the kernel names that process,
// so nothing is read from the file and no lock is taken. stale is true when
// the pid file was left by a manager that died. A manager on its way to
// listening, or out, is none (0, not stale).
func Running(runDir string) (pid int, stale bool, err error) {
	path := filepath.Join(runDir, host.ManagerPIDFile)
	f, err := runfile.Open(path, os.O_RDONLY, false, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	live := oneByte(unix.F_WRLCK, liveByte)
	if pid, err = lockHolder(f, live); pid != 0 || err != nil {
		return pid, false, err
	}
	claimer, err := lockHolder(f, wholeFile(unix.F_WRLCK))
	return 0, err == nil && claimer == 0, err // nobody holds it: the manager is gone
}

// Leftover gives the pid of the bhyve a VM manager that died left running,
// or 0 when none is: the process the manager recorded still exists
// (kill(2) with signal 0 finds it).
func Leftover(runDir string) int {
	f, err := runfile.Open(filepath.Join(runDir, host.GuestPIDFile), os.O_RDONLY, false, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 || errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
		return 0
	}
	return pid
}

// lockHolder gives the process that holds a lock on the file where lock
// says, or 0.
func lockHolder(f *os.File, lock unix.Flock_t) (int, error) {
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
	for _, name := range []string{host.ManagerPIDFile, host.ManagerSocket, host.StatusSocket, host.GuestPIDFile} {
		if err := os.Remove(filepath.Join(runDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	data, _ := json.Marshal(v)
	_, err := w.Write(append(data, '\n'))
	return err
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

// dial connects to the VM manager's control socket by the deadline; a
// user that may not (anyone but root) is connected to its status socket
// for a request that socket answers (status, wait). Root keeps to the
// control socket, whose clients others cannot crowd out.
func dial(runDir, req string, deadline time.Time, wait time.Duration) (net.Conn, error) {
	name, _, _ := strings.Cut(req, " ")
	path := filepath.Join(runDir, host.ManagerSocket)
	d := &net.Dialer{Deadline: deadline}
	conn, err := d.Dial("unix", path)
	if errors.Is(err, fs.ErrPermission) && statusRequests[name] {
		path = filepath.Join(runDir, host.StatusSocket)
		conn, err = d.Dial("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the VM manager at %s: %w", path, noAnswer(runfile.Cause(err), wait))
	}
	return conn, nil
}

// request sends one request on the control socket and reads the answer,
// all of it within wait: a deadline on the socket, no timer polls.
func request(runDir, req string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	conn, err := dial(runDir, req, deadline, wait)
	if err != nil {
		return "", err
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

// noAnswer makes a deadline that passed an ErrNoAnswer error, saying the
// wait as people read it: what was left of stop's wait, 13.999599793s,
// is 14s.
func noAnswer(err error, wait time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		round := time.Millisecond
		if wait >= time.Second {
			round = 100 * time.Millisecond
		}
		return fmt.Errorf("%w within %s", ErrNoAnswer, wait.Round(round))
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
	path := filepath.Join(runDir, host.ManagerPIDFile)
	f, err := runfile.Open(path, os.O_RDWR, false, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("kill the VM manager PID %d: %w", pid, err)
	}
	defer f.Close()
	if holder, err := lockHolder(f, wholeFile(unix.F_WRLCK)); err != nil || holder != pid {
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
