// Package failure owns wifibox's exit statuses: the numbers scripts and the
// rc.d service rely on (man/wifibox.8, EXIT STATUS), carried by the errors
// that cause them so that the command line maps any error to its status in
// one place.
package failure

import "errors"

// The documented exit statuses.
const (
	OK          = 0
	Usage       = 1   // usage, too many parameters, unknown target
	NotRunning  = 1   // status and restart with no guest
	Config      = 3   // configuration file missing or invalid
	Image       = 4   // guest image missing
	GuestFailed = 4   // start: bhyve exited before the guest ran, or the guest waits to restart
	TimedOut    = 2   // wait: the stage was not reached in time
	NoTap       = 5   // no tap interface
	Environment = 127 // modules, IOMMU, virtio-9p, console, bhyve failing
)

// ErrShown is the cause of a failure the command has already told the user
// about (a warning, a usage text): it is not shown again.
var ErrShown = errors.New("shown already")

// TooMany is the shell implementation's error for extra arguments.
var TooMany = &Error{Status: Usage, Err: errors.New("Too many parameters")}

// Error is an error with the exit status it causes.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with an exit status; a nil err stays nil.
func New(status int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Status: status, Err: err}
}

// Status gives the exit status err causes: 0 for nil, the status of the
// outermost Error it wraps, and Environment for any other error.
func Status(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return Environment
}
