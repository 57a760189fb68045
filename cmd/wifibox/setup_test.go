package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/sim/simtest"
)

// TestSetup: on a fresh host with passthru="", -n names the card and
// changes no file; setup --yes sets passthru, enables the service,
// blocklists if_iwlwifi and configures wifibox0, after which doctor -q
// finds nothing and start works; a second setup changes nothing; --undo
// leaves every file as it was before setup.
func TestSetup(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "# the VM\ncpus=1\nmemory=128M\npassthru=\"\"\n")
	before := simtest.Files(t, h.dir)

	out := h.must("-n", "setup")
	if !strings.Contains(out, "pci0:3:0:0") || !strings.Contains(out, `passthru="3/0/0"`) {
		t.Errorf("-n setup:\n%s", out)
	}
	if diff := cmp.Diff(before, simtest.Files(t, h.dir)); diff != "" {
		t.Errorf("-n setup changed files (-before +after):\n%s", diff)
	}

	out = h.must("setup", "--yes")
	if !strings.Contains(out, "Next: service wifibox start") {
		t.Errorf("setup --yes:\n%s", out)
	}
	rc, _ := os.ReadFile(filepath.Join(h.dir, "etc/rc.conf"))
	want := "wifibox_enable=\"YES\"\ndevmatch_blocklist=\"if_iwlwifi\"\nifconfig_wifibox0=\"SYNCDHCP\"\n"
	if string(rc) != want {
		t.Errorf("rc.conf after setup:\n%s\nwant:\n%s", rc, want)
	}
	bhyve, _ := os.ReadFile(filepath.Join(h.dir, "usr/local/etc/wifibox/bhyve.conf"))
	if string(bhyve) != "# the VM\ncpus=1\nmemory=128M\npassthru=\"3/0/0\"\n" {
		t.Errorf("bhyve.conf after setup:\n%s", bhyve)
	}
	if out := h.must("doctor", "-q"); out != "" {
		t.Errorf("doctor -q after setup:\n%s", out)
	}
	h.must("start")
	h.must("stop")

	after := simtest.Files(t, h.dir)
	out = h.must("setup", "--yes")
	if !strings.Contains(out, "Nothing to change") {
		t.Errorf("second setup:\n%s", out)
	}
	if diff := cmp.Diff(after, simtest.Files(t, h.dir)); diff != "" {
		t.Errorf("second setup changed files (-first +second):\n%s", diff)
	}

	h.must("setup", "--undo")
	if diff := cmp.Diff(before, simtest.Files(t, h.dir)); diff != "" {
		t.Errorf("setup --undo left (-before setup +after undo):\n%s", diff)
	}
}

// TestSetupOtherHosts: with two cards setup refuses to guess and takes
// --device; with none it changes nothing and exits 127 with the reason.
func TestSetupOtherHosts(t *testing.T) {
	h := newHost(t)
	h.fault("wifi_cards", "2")
	before := simtest.Files(t, h.dir)
	_, errOut, code := h.run("setup", "--yes")
	if code != 1 || !strings.Contains(errOut, "--device") || !strings.Contains(errOut, "pci0:4:0:0 (4/0/0): 168c:0034") {
		t.Errorf("setup with two cards: exit %d\n%s", code, errOut)
	}
	if diff := cmp.Diff(before, simtest.Files(t, h.dir)); diff != "" {
		t.Errorf("setup with two cards changed files:\n%s", diff)
	}
	if out := h.must("setup", "--yes", "--device", "pci0:4:0:0"); !strings.Contains(out, `devmatch_blocklist="if_ath_pci"`) {
		t.Errorf("setup --device pci0:4:0:0:\n%s", out)
	}

	h = newHost(t)
	h.fault("wifi_cards", "0")
	before = simtest.Files(t, h.dir)
	_, errOut, code = h.run("setup", "--yes")
	if code != 127 || !strings.Contains(errOut, "no Wi-Fi card") || !strings.Contains(errOut, "nvme0@pci0:1:0:0") {
		t.Errorf("setup with no card: exit %d\n%s", code, errOut)
	}
	if diff := cmp.Diff(before, simtest.Files(t, h.dir)); diff != "" {
		t.Errorf("setup with no card changed files:\n%s", diff)
	}
}
