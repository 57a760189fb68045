package abi

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/abitest"
)

// The values are FreeBSD's, pinned by testdata/freebsd-abi.json.
func TestErrnoValues(t *testing.T) {
	got := map[string]int64{}
	for e, d := range errnos {
		got["errno."+d.name] = int64(e)
	}
	abitest.Check(t, got)
}

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
