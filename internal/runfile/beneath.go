package runfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The guest mounts the run directory's appliance/ read-write, so it
// controls everything below it: a path there is resolved one component at
// a time from the run directory, with openat(2) and O_NOFOLLOW, so that a
// link the guest planted at any component (not only the last) is never
// followed. The run directory itself is root's (CheckDir).

// OpenIn opens the regular file at rel, a relative path, below the
// directory dir, for reading (os.O_RDONLY), following no symbolic link at
// any component of rel. A link found there is an error that names it and
// where it points. A file that does not exist is an error wrapping
// fs.ErrNotExist; opening does not block on a FIFO.
func OpenIn(dir, rel string, flag int) (*os.File, error) {
	parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	at := dir
	for i, part := range parts {
		next := filepath.Join(at, part)
		last := i == len(parts)-1
		how := unix.O_RDONLY | unix.O_DIRECTORY
		if last {
			how = flag | unix.O_NONBLOCK
		}
		nfd, err := unix.Openat(fd, part, how|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = linkError(fd, part, next, err)
		}
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd, at = nfd, next
	}
	f := os.NewFile(uintptr(fd), at)
	if err := regular(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MakeDirsIn creates the directories of rel below the directory dir with
// perm, as os.MkdirAll would, following no symbolic link at any component:
// a link found at one, dangling or not, is removed and replaced by a
// directory. It gives a sentence for each link it replaced, for the log.
// Anything else than a directory in the way is an error that says to
// remove it.
func MakeDirsIn(dir, rel string, perm os.FileMode) (repaired []string, err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer func() { unix.Close(fd) }()
	at := dir
	for _, part := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		next := filepath.Join(at, part)
		var st unix.Stat_t
		err := unix.Fstatat(fd, part, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target := readLink(fd, part)
			if err := unix.Unlinkat(fd, part, 0); err != nil {
				return repaired, &os.PathError{Op: "remove the symbolic link", Path: next, Err: err}
			}
			repaired = append(repaired, fmt.Sprintf("%s was a symbolic link to %q, which wifibox does not follow: replaced by a directory", next, target))
			err = unix.ENOENT
		}
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(fd, part, uint32(perm.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
				return repaired, &os.PathError{Op: "mkdir", Path: next, Err: err}
			}
		} else if err != nil {
			return repaired, &os.PathError{Op: "stat", Path: next, Err: err}
		}
		nfd, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return repaired, linkError(fd, part, next, err)
		}
		unix.Close(fd)
		fd, at = nfd, next
	}
	return repaired, nil
}

// linkError explains why openat(fd, name) failed at path: a symbolic
// link, which O_NOFOLLOW refuses (ELOOP on Linux, EMLINK on FreeBSD, or
// ENOTDIR with O_DIRECTORY), is named with where it points; anything else
// not a directory where one is needed is named by its type.
func linkError(fd int, name, path string, err error) error {
	var st unix.Stat_t
	if serr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return &os.PathError{Op: "open", Path: path, Err: fmt.Errorf(
			"%w: it is a symbolic link to %q, which wifibox does not follow there; remove it", err, readLink(fd, name))}
	}
	if errors.Is(err, unix.ENOTDIR) {
		return &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is not a directory; remove it", err)}
	}
	return &os.PathError{Op: "open", Path: path, Err: err}
}

// readLink gives where the link name in the directory fd points, clipped
// for a message.
func readLink(fd int, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Readlinkat(fd, name, buf)
	if err != nil {
		return "?"
	}
	return strings.Map(printable, string(buf[:n]))
}
