package bhyve

import (
	"strings"
	"testing"
)

// Only amd64 runs a guest: arm64's bhyve has no -A/-H/-P/-l and its vmm
// no ppt.
func TestArchSupported(t *testing.T) {
	if err := ArchSupported("amd64"); err != nil {
		t.Errorf("amd64: %v", err)
	}
	err := ArchSupported("aarch64")
	if err == nil || !strings.Contains(err.Error(), "cannot run its guest on aarch64") || !strings.Contains(err.Error(), "amd64 only") {
		t.Errorf("aarch64: %v", err)
	}
}
