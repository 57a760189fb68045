// Package logging owns wifibox's log: the file /var/log/wifibox.log in the
// shell implementation's format (`2026-11-26T08:15:04+0000 INFO  message`),
// the level set by core.conf, and the copy of errors and warnings shown to
// the user on standard error as `ERROR: ...` and `WARNING: ...`. The file is
// opened for each message and closed after it, so once newsyslog(8) has
// rotated it the next message goes to the new file, with no signal needed. A
// log file that cannot be written costs one warning, never a failure.
package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/internal/runfile"
)

// TimeFormat is the shell implementation's `date +'%FT%H:%M:%S%z'`.
const TimeFormat = "2006-01-02T15:04:05-0700"

// levels maps core.conf's loglevel to logrus's; none logs nothing below
// panic, which wifibox never logs.
var levels = [...]logrus.Level{
	config.LogNone:  logrus.PanicLevel,
	config.LogError: logrus.ErrorLevel,
	config.LogWarn:  logrus.WarnLevel,
	config.LogInfo:  logrus.InfoLevel,
	config.LogDebug: logrus.DebugLevel,
}

// formatter writes one line per entry: time, level padded to five
// characters, message.
type formatter struct{}

func (formatter) Format(e *logrus.Entry) ([]byte, error) {
	level := strings.ToUpper(e.Level.String())
	if e.Level == logrus.WarnLevel {
		level = "WARN"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %-5s %s\n", e.Time.Format(TimeFormat), level, e.Message)
	return b.Bytes(), nil
}

// file appends each write to the log file, opening and closing it every
// time, never through a link and only in a directory that is root's and not
// writable by others (checked at the first write). The first failure to
// write is reported once on warn.
type file struct {
	path    string
	warn    io.Writer
	mu      sync.Mutex
	warned  bool
	checked bool
	dirErr  error // why the log's directory is refused
}

func (f *file) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.checked {
		f.checked = true
		f.dirErr = runfile.CheckDir(filepath.Dir(f.path), os.Getuid())
	}
	err := f.dirErr
	var fd *os.File
	if err == nil {
		fd, err = runfile.Open(f.path, os.O_WRONLY|os.O_APPEND, true, 0o644)
	}
	if err == nil {
		_, err = fd.Write(p)
		if cerr := fd.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !f.warned && f.warn != nil {
		f.warned = true
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) { // the path is said once
			err = pathErr.Err
		}
		fmt.Fprintf(f.warn, "WARNING: %s is not writeable, messages could not be logged: %v\n", f.path, err)
	}
	return len(p), nil // a log that cannot be written never fails the caller
}

// userHook copies errors and warnings to the user's terminal.
type userHook struct {
	out    io.Writer
	levels []logrus.Level
}

func (h userHook) Levels() []logrus.Level { return h.levels }

func (h userHook) Fire(e *logrus.Entry) error {
	prefix := "ERROR"
	if e.Level == logrus.WarnLevel {
		prefix = "WARNING"
	}
	_, err := fmt.Fprintf(h.out, "%s: %s\n", prefix, e.Message)
	return err
}

// fileHook writes the entries of its levels to the log file.
type fileHook struct {
	out    *file
	levels []logrus.Level
}

func (h fileHook) Levels() []logrus.Level { return h.levels }

func (h fileHook) Fire(e *logrus.Entry) error {
	line, err := formatter{}.Format(e)
	if err != nil {
		return err
	}
	_, err = h.out.Write(line)
	return err
}

// upTo lists the logrus levels from panic to max.
func upTo(top logrus.Level) []logrus.Level {
	var levels []logrus.Level
	for _, l := range logrus.AllLevels {
		if l <= top {
			levels = append(levels, l)
		}
	}
	return levels
}

// New gives a logger writing to the file at path (none when path is "") at
// the given core.conf level. When user is not nil, errors and warnings are
// also written to it as core.conf.sample promises: errors at every level
// but none, which shows nothing (the exit status still tells), warnings
// from warn on.
func New(path string, level config.LogLevel, user io.Writer) *logrus.Logger {
	fileLevel := levels[level]
	l := logrus.New()
	l.SetOutput(io.Discard) // the hooks write
	if path != "" {
		l.AddHook(fileHook{out: &file{path: path, warn: user}, levels: upTo(fileLevel)})
	}
	top := fileLevel
	if user != nil && level != config.LogNone {
		userLevel := min(fileLevel, logrus.WarnLevel)
		l.AddHook(userHook{out: user, levels: upTo(userLevel)})
	}
	l.SetLevel(top)
	return l
}
