package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLenientCoreConf: with a core.conf start cannot use (a misspelt
// recovery, or a file others can write), the way out works: status and
// stop warn with file:line or the chmod fix and exit 0, and stop stops
// the guest; start, and restart before it stops anything, refuse.
func TestLenientCoreConf(t *testing.T) {
	for _, c := range []struct {
		name, content string
		mode          os.FileMode
		warning       string
	}{
		{"misspelt", "recovery=suspend_gust\n", 0o644, `core.conf:1:10: malformed recovery value: "suspend_gust"`},
		{"group-writable", "recovery=suspend_guest\n", 0o664, "chmod g-w "},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			h.must("start")
			pid := h.guestPID()
			h.config("core.conf", c.content)
			if err := os.Chmod(filepath.Join(h.dir, "usr/local/etc/wifibox/core.conf"), c.mode); err != nil {
				t.Fatal(err)
			}
			if _, errOut, code := h.run("status"); code != 0 || !strings.Contains(errOut, c.warning) {
				t.Errorf("status: exit %d, %q", code, errOut)
			}
			if _, errOut, code := h.run("restart"); code != 3 || !strings.Contains(errOut, c.warning) || h.guestPID() != pid {
				t.Errorf("restart: exit %d, %q; the guest must keep running", code, errOut)
			}
			_, errOut, code := h.run("stop")
			if code != 0 || !strings.Contains(errOut, "WARNING: ") || !strings.Contains(errOut, c.warning) {
				t.Errorf("stop: exit %d, %q", code, errOut)
			}
			if h.guestPID() != 0 || alive(pid) {
				t.Errorf("stop left the guest PID %d running", pid)
			}
			if _, errOut, code := h.run("start"); code != 3 || !strings.Contains(errOut, c.warning) {
				t.Errorf("start: exit %d, %q", code, errOut)
			}
		})
	}
}

// TestStartChecksFirst: a start that refuses its configuration has
// changed nothing on the host: no module loaded, no interface or VM
// created.
func TestStartChecksFirst(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "cpus=many\n")
	_, errOut, code := h.run("start", "vmm")
	if code != 3 || !strings.Contains(errOut, "bhyve.conf:1:6") {
		t.Errorf("start: exit %d, %q", code, errOut)
	}
	for _, op := range h.trace() {
		for _, changed := range []string{"if_create", "kldload", "vm_create"} {
			if strings.HasPrefix(op, changed) {
				t.Errorf("a refused start made %q", op)
			}
		}
	}
}

// TestRelayRefused: a uds_passthru.conf whose group does not exist is
// named where the user looks: start warns with file:line:column (and the
// guest runs without the pass-through), status -v tells why the stage
// wifi cannot be seen, doctor lists the file as failed.
func TestRelayRefused(t *testing.T) {
	h := newHost(t)
	h.config("appliance/uds_passthru.conf",
		"network=127.0.0.1:255.0.0.0\nsockets=\"path=/var/run/wpa_supplicant/wlan0,user=root,group=nosuchgroup,mode=770,port=1201\"\n")
	_, errOut, code := h.run("start")
	if code != 0 || !strings.Contains(errOut, "WARNING: uds_passthru.conf:2:9: ") || !strings.Contains(errOut, `"nosuchgroup"`) {
		t.Errorf("start: exit %d, %q", code, errOut)
	}
	out := h.must("status", "-v")
	if strings.Contains(out, "does not exist") || !strings.Contains(out, `"nosuchgroup"`) {
		t.Errorf("status -v:\n%s", out)
	}
	out, _, _ = h.run("doctor")
	if !strings.Contains(out, "FAIL uds_passthru.conf") || !strings.Contains(out, "nosuchgroup") {
		t.Errorf("doctor:\n%s", out)
	}
}
