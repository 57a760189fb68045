package abi

import (
	"errors"
	"fmt"
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
