// Package runfile owns how wifibox, running as root, creates and opens the
// files of its run and log directories (/var/run/wifibox, /var/log) and the
// files the guest writes: a link planted there must not make root write or
// read through it. Files are opened with O_NOFOLLOW, only regular files are
// used, and a file that does not exist is created with O_EXCL. A directory
// wifibox writes into must be root's and not writable by others (Unsafe
// says why not and the command that fixes it). It also owns the record of
// who holds a lock file, and the bounded, event-driven wait for a lock.
package runfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Open opens the file at path with flag (os.O_RDONLY, os.O_RDWR or
// os.O_WRONLY|os.O_APPEND): never through a symbolic link, and only if it
// is a regular file. With create, a file that does not exist is created,
// exclusively, with perm. Opening does not block on a FIFO put in its place.
func Open(path string, flag int, create bool, perm fs.FileMode) (*os.File, error) {
	flag |= unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	for range 2 { // a file created between the two opens is opened the second time
		f, err := os.OpenFile(path, flag, 0)
		if create && errors.Is(err, fs.ErrNotExist) {
			f, err = os.OpenFile(path, flag|os.O_CREATE|os.O_EXCL, perm)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
		}
		if err != nil {
			return nil, openError(path, err)
		}
		if err := regular(f); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("open %s: it keeps appearing and disappearing", path)
}

// Create creates a new regular file at path with perm, for reading and
// writing; anything already at path, a link included, is an error wrapping
// fs.ErrExist.
func Create(path string, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, openError(path, err)
	}
	return f, nil
}

// Cause gives the cause of an error of the file system or a socket without
// the operation and path that *fs.PathError, *os.LinkError and *net.OpError
// add, for a message that names the path itself: "open X: open X: ..."
// otherwise.
func Cause(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	var oe *net.OpError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	case errors.As(err, &oe):
		return oe.Err
	}
	return err
}

// openError names the path once (not the operation and path of a
// *PathError and then the path again) and explains a symbolic link, which
// O_NOFOLLOW refuses with ELOOP (Linux, FreeBSD) or EMLINK (FreeBSD).
func openError(path string, err error) error {
	err = Cause(err)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf(
			"%w: it is a symbolic link, which wifibox does not follow there; remove it", err)}
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// regular refuses an open file that is not a regular file.
func regular(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("open %s: it is %s, not a regular file; remove it", f.Name(), TypeName(fi.Mode()))
	}
	return nil
}

// TypeName names the type of a file that is not regular: "a directory".
func TypeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}

// Unsafe tells why a file or directory whose content root trusts could be
// changed by others than root: it is writable by group or others, or owned
// by neither root nor uid (the running user: on a simulated host, the
// user who owns it). It gives the command that fixes it, to be followed by
// the path; "" and "" when it is safe.
func Unsafe(fi fs.FileInfo, uid int) (why, fix string) {
	perm := fi.Mode().Perm()
	switch perm & 0o022 {
	case 0o022:
		return fmt.Sprintf("it is writable by group and others (mode %04o)", perm), "chmod go-w"
	case 0o020:
		return fmt.Sprintf("it is writable by group (mode %04o)", perm), "chmod g-w"
	case 0o002:
		return fmt.Sprintf("it is writable by others (mode %04o)", perm), "chmod o-w"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "its owner cannot be told", "chown root"
	}
	if st.Uid != 0 && int64(st.Uid) != int64(uid) {
		return fmt.Sprintf("it is owned by uid %d, neither root nor the running user (uid %d)", st.Uid, uid), "chown root"
	}
	return "", ""
}

// CheckDir refuses a directory that wifibox creates files in (the run
// directory, the log's) when it is a symbolic link, not a directory, or
// Unsafe, saying how to fix it.
func CheckDir(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("refusing to use %s: it is %s, not a directory; remove it", path, TypeName(fi.Mode()))
	}
	if why, fix := Unsafe(fi, uid); why != "" {
		return fmt.Errorf("refusing to use %s: %s, so others could plant links in it that root follows; fix it with: %s %s",
			path, why, fix, path)
	}
	return nil
}

// MakeDir creates the directory at path (0755) unless it exists, then
// checks it with CheckDir for the running user.
func MakeDir(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err // names the directory that could not be created
	}
	return CheckDir(path, os.Getuid())
}

// Record writes into a held lock file who holds it, for Holder.
func Record(f *os.File, who string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(who+"\n"), 0)
	return err
}

// Holder reads who holds a lock file, as Record wrote it; "unknown" if the
// holder has not written it yet.
func Holder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 256))
	if who := strings.TrimSpace(string(b)); err == nil && who != "" {
		return strings.Map(printable, who)
	}
	return "unknown"
}

func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return '?'
	}
	return r
}

// ErrTimeout: a lock was not free within the wait.
var ErrTimeout = errors.New("the lock was not free in time")

// WaitLock takes a lock on f with lock, a call that blocks until the lock
// is free (flock LOCK_EX, fcntl F_SETLKW), waiting at most wait: the call
// runs aside and a timer bounds the wait, nothing polls. After a timeout
// the call goes on until the lock is free, and then lets it go: the caller
// closes f, which takes effect when the call returns.
func WaitLock(f *os.File, lock func(fd int) error, wait time.Duration) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		var lerr error
		cerr := rc.Control(func(fd uintptr) { lerr = lock(int(fd)) })
		done <- errors.Join(cerr, lerr)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return ErrTimeout
	}
}

// Replace replaces the file at path with data as WriteAtomic does, keeping
// the mode and owner of the file it replaces (perm and the running user's
// for a new file), as sysrc(8) keeps rc.conf's when it moves its
// temporary file over it. A link or anything but a regular file at path
// is refused: a file of the host's configuration is never replaced where
// someone put a link in its place.
func Replace(path string, data []byte, perm fs.FileMode) error {
	uid, gid := -1, -1
	switch fi, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("replace %s: it is %s, not a regular file", path, TypeName(fi.Mode()))
	default:
		perm = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	return writeAtomic(path, data, perm, uid, gid)
}

// WriteAtomic replaces the file at path with data: written to a new file
// of its own beside it (created exclusively, no link followed) and
// renamed over path, which replaces whatever is there, a planted link
// included, without following it. A reader finds the old content or the
// new, never part of it; a failed write (a full disk) leaves the old.
func WriteAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, -1, -1)
}

// writeAtomic is WriteAtomic giving the new file exactly perm, and the
// owner uid:gid unless uid is -1.
func writeAtomic(path string, data []byte, perm fs.FileMode, uid, gid int) error {
	tmp := fmt.Sprintf("%s.%d.new", path, os.Getpid())
	os.Remove(tmp) // left by a killed process that had this pid
	f, err := Create(tmp, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm) // what the umask took
	}
	if err == nil && uid >= 0 && (uid != os.Getuid() || gid != os.Getgid()) {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, Cause(err))
	}
	return nil
}

// ReadSmall reads a file of at most limit bytes at path, never through a
// link and only a regular file (Open); a longer file is an error.
func ReadSmall(path string, limit int64) ([]byte, error) {
	f, err := Open(path, os.O_RDONLY, false, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, Cause(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, limit)
	}
	return data, nil
}
