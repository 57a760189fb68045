package abi

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestErrnoIsHostName(t *testing.T) {
	err := fmt.Errorf("vm_suspend wifibox: %w", EALREADY)
	if !errors.Is(err, unix.EALREADY) || !errors.Is(err, EALREADY) {
		t.Errorf("errors.Is(%v, EALREADY) is false", err)
	}
	if errors.Is(err, unix.EBUSY) {
		t.Errorf("errors.Is(%v, EBUSY) is true", err)
	}
	if got, want := EALREADY.Error(), "Operation already in progress"; got != want {
		t.Errorf("EALREADY.Error() = %q, want %q", got, want)
	}
	for e, d := range errnos {
		if back := FromUnix(d.host); back != e {
			t.Errorf("FromUnix(%s) = %d, want %d", d.name, back, e)
		}
	}
}

// TestErrnoAs: errors.As to syscall.Errno works on the model's errors, and
// gives the build's errno of the same name.
func TestErrnoAs(t *testing.T) {
	err := fmt.Errorf("bridge_add wifibox0 tap0: %w", EBUSY)
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != unix.EBUSY {
		t.Errorf("errors.As(%v, *syscall.Errno) = %v, %v; want EBUSY", err, errno, errno == unix.EBUSY)
	}
	var u unix.Errno
	if !errors.As(fmt.Errorf("x: %w", ENOMSG), &u) || u != unix.ENOMSG {
		t.Errorf("errors.As(ENOMSG, *unix.Errno) = %v; want ENOMSG", u)
	}
}
