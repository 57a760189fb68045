package main

import (
	"strings"
	"testing"
)

// TestDoctorCommand: exit status 0 when every check passes, 127 with the
// finding and its fix otherwise; nothing on the host changes.
func TestDoctorCommand(t *testing.T) {
	h := newHost(t)
	out, _, code := h.run("doctor")
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Errorf("doctor on a fresh host: exit %d\n%s", code, out)
	}
	h.fault("pci_device_missing", "yes")
	out, _, code = h.run("doctor")
	if code != 127 || !strings.Contains(out, "FAIL passthru device") || !strings.Contains(out, "fix:") {
		t.Errorf("doctor with the card missing: exit %d\n%s", code, out)
	}
	if len(h.trace()) != 0 {
		t.Errorf("doctor made privileged operations: %q", h.trace())
	}
}

// TestLogCommand shows the host's log and the guest's.
func TestLogCommand(t *testing.T) {
	h := newHost(t)
	h.must("start")
	if out := h.must("log"); !strings.Contains(out, "INFO  Begin: wifibox start") {
		t.Errorf("log shows:\n%s", out)
	}
	if out := h.must("log", "guest", "dmesg"); !strings.Contains(out, "Linux version") {
		t.Errorf("log guest dmesg shows:\n%s", out)
	}
	if _, _, code := h.run("log", "nonsense"); code != 1 {
		t.Errorf("log nonsense: exit %d, want 1", code)
	}
}
