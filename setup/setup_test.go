package setup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/doctor"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/linktest"
	"github.com/wifibox/wifibox/sim/simtest"
)

// testHost is a fresh simulated host with passthru="" and its fault
// knobs set.
func testHost(t *testing.T, faults ...string) (string, *host.Host) {
	t.Helper()
	dir, h := simtest.Host(t, faults...)
	write(t, h.Paths.BhyveConf(), "# the VM\ncpus=1\nmemory=128M\npassthru=\"\"\nconsole=yes\n", 0o644)
	return dir, h
}

var write = simtest.WriteFile

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// run runs setup and gives what it printed.
func run(t *testing.T, h *host.Host, o Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o.Out = &out
	err := Run(h, o)
	return out.String(), err
}

func mustRun(t *testing.T, h *host.Host, o Options) string {
	t.Helper()
	out, err := run(t, h, o)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	return out
}

// TestKeepsEverythingElse: setup edits rc.conf as sysrc does, in the file
// that sets a variable last, keeping every other line, comment and the
// file's mode; doctor then finds nothing missing; undo gives back each
// file byte for byte.
func TestKeepsEverythingElse(t *testing.T) {
	dir, h := testHost(t)
	rcConf, rcLocal := filepath.Join(dir, "etc/rc.conf"), filepath.Join(dir, "etc/rc.conf.local")
	write(t, rcConf, "hostname=\"laptop\"\n# wired\nifconfig_em0=\"DHCP\"\ndevmatch_blocklist=\"if_foo\"", 0o600)
	write(t, rcLocal, "wifibox_enable=\"NO\"\n", 0o644)
	before := simtest.Files(t, dir)

	out := mustRun(t, h, Options{Yes: true})
	for _, want := range []string{"pci0:3:0:0 (3/0/0): 8086:2723", "Native driver: iwlwifi0, from /boot/kernel/if_iwlwifi.ko",
		"runs wpa_supplicant", "has a network", "Next: service wifibox start"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup says:\n%s\nwant %q", out, want)
		}
	}
	if got, want := read(t, rcConf), "hostname=\"laptop\"\n# wired\nifconfig_em0=\"DHCP\"\ndevmatch_blocklist=\"if_foo if_iwlwifi\"\nifconfig_wifibox0=\"SYNCDHCP\"\n"; got != want {
		t.Errorf("rc.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := read(t, rcLocal); got != "wifibox_enable=\"YES\"\n" {
		t.Errorf("rc.conf.local: %q", got)
	}
	if fi, _ := os.Stat(rcConf); fi.Mode().Perm() != 0o600 {
		t.Errorf("rc.conf's mode is %v, was 0600", fi.Mode())
	}
	if got := read(t, h.Paths.BhyveConf()); got != "# the VM\ncpus=1\nmemory=128M\npassthru=\"3/0/0\"\nconsole=yes\n" {
		t.Errorf("bhyve.conf:\n%s", got)
	}
	rc := doctor.ReadRCConf(h.Paths)
	if v, _, _ := rc.Value("wifibox", "wifibox_enable"); v != "YES" {
		t.Errorf("the service sees wifibox_enable=%q", v)
	}
	for _, f := range doctor.Check(h) {
		if f.Status == doctor.Warn || f.Status == doctor.Fail {
			t.Errorf("doctor after setup: %s", f)
		}
	}

	after := simtest.Files(t, dir)
	if out := mustRun(t, h, Options{Yes: true}); !strings.Contains(out, "Nothing to change") {
		t.Errorf("second setup:\n%s", out)
	}
	if diff := cmp.Diff(after, simtest.Files(t, dir)); diff != "" {
		t.Errorf("second setup changed (-first +second):\n%s", diff)
	}
	mustRun(t, h, Options{Undo: true})
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("undo left (-before +after):\n%s", diff)
	}
	if out := mustRun(t, h, Options{Undo: true}); !strings.Contains(out, "Nothing to undo") {
		t.Errorf("second undo:\n%s", out)
	}
}

// TestPreview: -n prints each change and makes none; without --yes and
// without a terminal setup refuses, naming --yes.
func TestPreview(t *testing.T) {
	dir, h := testHost(t, "cpu=amd")
	before := simtest.Files(t, dir)
	out := mustRun(t, h, Options{DryRun: true})
	for _, want := range []string{`passthru="3/0/0"`, `add wifibox_enable="YES"`, `add devmatch_blocklist="if_iwlwifi"`,
		`add ifconfig_wifibox0="SYNCDHCP"`, `boot/loader.conf: add hw.vmm.amdvi.enable="1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("-n says:\n%s\nwant %q", out, want)
		}
	}
	_, err := run(t, h, Options{})
	if failure.Status(err) != failure.Usage || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("setup without a terminal: %v", err)
	}
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("changed (-before +after):\n%s", diff)
	}
}

// TestAMD: on an AMD CPU setup enables AMD-Vi in loader.conf, where
// doctor reads it, and says to reboot or use kenv; undo removes the file
// it created.
func TestAMD(t *testing.T) {
	dir, h := testHost(t, "cpu=amd")
	before := simtest.Files(t, dir)
	out := mustRun(t, h, Options{Yes: true})
	if !strings.Contains(out, "Next: reboot") || !strings.Contains(out, "kenv hw.vmm.amdvi.enable=1") {
		t.Errorf("setup says:\n%s", out)
	}
	if v, file, _ := doctor.LoaderTunable(dir, "hw.vmm.amdvi.enable"); v != "1" || file != filepath.Join(dir, "boot/loader.conf") {
		t.Errorf("the loader reads hw.vmm.amdvi.enable=%q from %s", v, file)
	}
	mustRun(t, h, Options{Undo: true})
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("undo left (-before +after):\n%s", diff)
	}
}

// TestCards: with two cards setup asks when it may, takes --device, and
// otherwise refuses naming --device; with none it changes nothing.
func TestCards(t *testing.T) {
	dir, h := testHost(t, "wifi_cards=2")
	before := simtest.Files(t, dir)
	_, err := run(t, h, Options{Yes: true})
	if failure.Status(err) != failure.Usage || !strings.Contains(err.Error(), "--device") {
		t.Errorf("two cards, no terminal: %v", err)
	}
	out, err := run(t, h, Options{Ask: true, In: strings.NewReader("3\n2\nn\n")})
	if err != nil || !strings.Contains(out, "Which one goes to the guest? [1-2]") || !strings.Contains(out, "Nothing changed") {
		t.Errorf("two cards, answered no: %v\n%s", err, out)
	}
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("changed (-before +after):\n%s", diff)
	}
	out = mustRun(t, h, Options{Ask: true, In: strings.NewReader("2\ny\n")})
	if !strings.Contains(out, "Native driver: ath0, from /boot/kernel/if_ath_pci.ko") || !strings.Contains(read(t, h.Paths.BhyveConf()), `passthru="4/0/0"`) {
		t.Errorf("two cards, the second chosen:\n%s", out)
	}
	mustRun(t, h, Options{Undo: true})
	out = mustRun(t, h, Options{Yes: true, Device: "pci0:3:0:0"})
	if !strings.Contains(read(t, h.Paths.BhyveConf()), `passthru="3/0/0"`) {
		t.Errorf("--device pci0:3:0:0:\n%s", out)
	}
	if _, err := run(t, h, Options{Yes: true, Device: "9/0/0"}); failure.Status(err) != failure.Usage {
		t.Errorf("--device of no card: %v", err)
	}

	dir, h = testHost(t, "wifi_cards=0")
	before = simtest.Files(t, dir)
	_, err = run(t, h, Options{Yes: true})
	if failure.Status(err) != failure.Environment || !strings.Contains(err.Error(), "no Wi-Fi card") || !strings.Contains(err.Error(), "hostb0@pci0:0:0:0") {
		t.Errorf("no card: %v", err)
	}
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("changed (-before +after):\n%s", diff)
	}
}

// TestSamples: what is absent is made from the samples: bhyve.conf,
// core.conf, uds_passthru.conf, app_config and wpa_supplicant.conf,
// whose missing network setup tells how to add; undo removes them all.
func TestSamples(t *testing.T) {
	dir, h := testHost(t)
	p := h.Paths
	wpa := filepath.Join(p.ConfDir, "wpa_supplicant/wpa_supplicant.conf")
	for _, f := range []string{p.BhyveConf(), p.CoreConf(), p.AppConfig(), wpa} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	write(t, p.BhyveConf()+".sample", "# sample\ncpus=1\npassthru=\"\"\n", 0o644)
	write(t, p.CoreConf()+".sample", "loglevel=warn\n", 0o644)
	write(t, p.UDSPassthruConf()+".sample", "network=10.0.0.1:255.255.255.0\nsockets=\"\"\n", 0o644)
	write(t, wpa+".sample", "#ctrl_interface=/var/run/wpa_supplicant\n", 0o644)
	before := simtest.Files(t, dir)

	out := mustRun(t, h, Options{Yes: true})
	if !strings.Contains(out, "has no network: add one with `wpa_passphrase SSID >> "+wpa) {
		t.Errorf("setup says:\n%s", out)
	}
	for path, want := range map[string]string{
		p.BhyveConf():       "# sample\ncpus=1\npassthru=\"3/0/0\"\n",
		p.CoreConf():        "loglevel=warn\n",
		p.UDSPassthruConf(): "network=10.0.0.1:255.255.255.0\nsockets=\"\"\n",
		wpa:                 "#ctrl_interface=/var/run/wpa_supplicant\n",
	} {
		if got := read(t, path); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", path, got, want)
		}
	}
	if target, err := os.Readlink(p.AppConfig()); err != nil || target != "wpa_supplicant" {
		t.Errorf("app_config -> %q, %v", target, err)
	}
	mustRun(t, h, Options{Undo: true})
	if diff := cmp.Diff(before, simtest.Files(t, dir)); diff != "" {
		t.Errorf("undo left (-before +after):\n%s", diff)
	}
}

// TestNoLink: setup never writes through a link planted at rc.conf, and
// puts back what it changed before it met the link.
func TestNoLink(t *testing.T) {
	dir, h := testHost(t)
	before := read(t, h.Paths.BhyveConf())
	linktest.Check(t, filepath.Join(dir, "etc/rc.conf"), func(bool) {
		if _, err := run(t, h, Options{Yes: true}); err == nil {
			t.Errorf("setup wrote through a link")
		}
		if got := read(t, h.Paths.BhyveConf()); got != before {
			t.Errorf("bhyve.conf after the failed setup:\n%s", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "var/db/wifibox/setup.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("record after the failed setup: %v", err)
		}
	})
}

// TestUndoLeavesWhatChanged: a line the user changed since setup is left,
// and named; the rest is taken back.
func TestUndoLeavesWhatChanged(t *testing.T) {
	dir, h := testHost(t)
	mustRun(t, h, Options{Yes: true})
	rcConf := filepath.Join(dir, "etc/rc.conf")
	write(t, rcConf, strings.Replace(read(t, rcConf), `"SYNCDHCP"`, `"inet 10.0.0.2/24"`, 1), 0o644)
	out, err := run(t, h, Options{Undo: true})
	if err == nil || !strings.Contains(out, `left, changed since setup: `+rcConf+`: add ifconfig_wifibox0="SYNCDHCP"`) {
		t.Errorf("undo: %v\n%s", err, out)
	}
	if got := read(t, rcConf); got != "ifconfig_wifibox0=\"inet 10.0.0.2/24\"\n" {
		t.Errorf("rc.conf after undo:\n%s", got)
	}
}
