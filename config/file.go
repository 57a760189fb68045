package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/wifibox/wifibox/internal/runfile"
)

// maxSize bounds what ReadFile reads: configuration files are a few lines.
const maxSize = 1 << 20

// ReadFile reads a configuration file once it is found safe to trust, since
// what it says is done as root: a regular file, owned by root (uid 0) or by
// uid (the running user), and not writable by group or others. The checks
// and the read are made on the same open file. A file that does not exist is
// an ErrMissing error with the shell implementation's text; an unsafe one an
// ErrUnsafe error saying why and the chmod or chown that fixes it.
func ReadFile(path string, uid int) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO put in the file's place must not hang.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, &Error{Kind: ErrMissing, Msg: path + " is missing, please create it from the sample", Err: err}
	}
	failed := func(what string, err error) error {
		return &Error{Kind: ErrInvalid, Pos: Pos{File: path}, Msg: what + ": " + runfile.Cause(err).Error(), Err: err}
	}
	if err != nil {
		return nil, failed("cannot be opened", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, failed("cannot be examined", err)
	}
	if err := checkSafe(path, fi, uid); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, failed("cannot be read", err)
	}
	if len(data) > maxSize {
		return nil, invalid(Pos{File: path}, "is larger than %d bytes, too large for a configuration file", maxSize)
	}
	return data, nil
}

// checkSafe refuses a file that is not regular, is writable by group or
// others, or is owned by neither root nor uid.
func checkSafe(path string, fi fs.FileInfo, uid int) error {
	if !fi.Mode().IsRegular() {
		return invalid(Pos{File: path}, "is %s, not a regular file: replace it with one created from the sample", runfile.TypeName(fi.Mode()))
	}
	if why, fix := runfile.Unsafe(fi, uid); why != "" {
		return &Error{Kind: ErrUnsafe, Pos: Pos{File: path},
			Msg: fmt.Sprintf("refusing to read: %s, so others could make wifibox do anything as root; fix it with: %s %s", why, fix, path)}
	}
	return nil
}

// load reads and parses the configuration file at path, checked against the
// running user. It gives the file's display name, its base name, as the
// shell implementation's messages name it.
func load(path string) (string, Assignments, error) {
	data, err := ReadFile(path, os.Getuid())
	if err != nil {
		return "", nil, err
	}
	file := filepath.Base(path)
	as, err := Parse(file, data)
	return file, as, err
}
