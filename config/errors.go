// Package config reads wifibox's configuration files (core.conf, bhyve.conf
// and appliance/uds_passthru.conf) as users of the shell implementation write
// them: shell variable assignments, which it parses and never executes. It
// owns the parser of that assignment subset of sh(1), the checks that a file
// is safe to trust before it is read, and the typed, validated settings with
// the shell implementation's defaults, rules and error messages. Every error
// about a file says where (file:line or file:line:column) and what to do;
// callers tell the exit-status class with errors.Is(err, ErrMissing) and
// errors.Is(err, ErrInvalid).
package config

import (
	"errors"
	"fmt"
)

// The kinds of configuration error, for errors.Is. Both ErrMissing and
// ErrInvalid are exit status 3 for the command line. An ErrUnsafe error is
// also an ErrInvalid one.
var (
	// ErrMissing: a required configuration file does not exist.
	ErrMissing = errors.New("configuration file is missing")
	// ErrInvalid: a configuration file exists but cannot be used: it
	// cannot be read, is not a regular file, is unsafe, is not the
	// assignment subset of sh, or has a malformed value.
	ErrInvalid = errors.New("configuration file is invalid")
	// ErrUnsafe: a configuration file is writable by group or others or
	// owned by someone other than root and the running user.
	ErrUnsafe = errors.New("configuration file is unsafe to read")
)

// Pos is a place in a configuration file. Line and Column count from 1; a
// zero Line or Column is unknown and left out of the text.
type Pos struct {
	File   string // display name: the base name or the path as given
	Line   int
	Column int // in bytes from the start of the line
}

// String gives file:line:column, file:line or file, as far as known.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is a configuration file that cannot be used: missing, unsafe, or
// invalid. Its text is the position followed by the message, like
// "bhyve.conf:3:8: command substitution "$(" is not allowed: ...".
type Error struct {
	Kind error // ErrMissing, ErrUnsafe or ErrInvalid
	Pos  Pos   // where; a zero Pos when Msg names the file itself
	Msg  string
	Err  error // the underlying cause, such as an errno; may be nil
}

func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Is reports the kind of the error; an unsafe file is also an invalid one.
func (e *Error) Is(target error) bool {
	return target == e.Kind || (e.Kind == ErrUnsafe && target == ErrInvalid)
}

// Unwrap gives the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// invalid makes an ErrInvalid error at pos.
func invalid(pos Pos, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
