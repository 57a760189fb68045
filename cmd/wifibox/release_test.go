package main

import (
	"strings"
	"testing"
)

// TestReleases: a simulated host answering as FreeBSD 13.5, 14.3 and 15.0
// (kern.osreldate) runs start, status, restart vmm and stop, with the Wi-Fi
// card's native driver kept out as wifibox advises (devmatch_blocklist),
// and logs no error.
func TestReleases(t *testing.T) {
	for _, rel := range []string{"1305000", "1403000", "1500068"} {
		t.Run(rel, func(t *testing.T) {
			h := newHost(t)
			h.fault("osreldate", rel)
			h.fault("native_driver_missing", "yes")
			h.must("start")
			h.must("status")
			if h.guestPID() == 0 {
				t.Errorf("no guest after start")
			}
			h.must("restart", "vmm")
			if h.guestPID() == 0 {
				t.Errorf("no guest after restart vmm")
			}
			h.must("stop")
			if h.guestPID() != 0 {
				t.Errorf("guest still running after stop")
			}
			for _, line := range strings.Split(h.log(), "\n") {
				if strings.Contains(line, "ERROR") {
					t.Errorf("log: %s", line)
				}
			}
		})
	}
}
