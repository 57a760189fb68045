package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/internal/mantest"
)

// warning gives the text of the first WARNING line of out, up to the
// first of cut (the whole line when cut is "").
func warning(t *testing.T, out, cut string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if _, msg, ok := strings.Cut(line, "WARNING: "); ok {
			if cut != "" {
				msg, _, _ = strings.Cut(msg, cut)
			}
			return msg
		}
	}
	t.Fatalf("no warning in:\n%s", out)
	return ""
}

// TestManualDiagnostics: the diagnostics wifibox(8) quotes read, once
// rendered, as the program prints them.
func TestManualDiagnostics(t *testing.T) {
	man := mantest.Render(t, "../../man/wifibox.8")
	h := newHost(t)
	_, errOut, _ := h.run("restart")
	if msg := warning(t, errOut, ""); !strings.Contains(man, "“"+msg+"”") {
		t.Errorf("the manual does not quote restart's %q", msg)
	}
	h.config("bhyve.conf", "passthru=\"\"\n")
	_, errOut, _ = h.run("start")
	if msg := warning(t, errOut, ","); !strings.Contains(man, " "+msg+" ") {
		t.Errorf("the manual does not name start's %q", msg)
	}
}

// TestManualInstalledProgram: wifibox(8) describes the installed program,
// which has no simulated host.
func TestManualInstalledProgram(t *testing.T) {
	man := mantest.Render(t, "../../man/wifibox.8")
	for _, s := range []string{"WIFIBOX_SIMULATE", "sim init", "sim legacy", "SIMULATED HOST", "-S dir"} {
		if strings.Contains(man, s) {
			t.Errorf("the manual mentions %q", s)
		}
	}
}

// TestManualFiles: FILES in wifibox(8) lists each file wifibox keeps in
// /var/run/wifibox while a guest runs, and the journal of the interfaces
// being created, which is there only meanwhile.
func TestManualFiles(t *testing.T) {
	man := mantest.Render(t, "../../man/wifibox.8")
	_, files, _ := strings.Cut(man, " FILES ")
	files, _, _ = strings.Cut(files, " EXIT STATUS ")
	h := newHost(t)
	h.must("start")
	entries, err := os.ReadDir(filepath.Join(h.dir, "var/run/wifibox"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{ifnet.NewNetif(nil, host.Paths{RunDir: "/var/run/wifibox"}).Journal}
	for _, e := range entries {
		name := "/var/run/wifibox/" + e.Name()
		if e.IsDir() {
			name += "/"
		}
		names = append(names, name)
	}
	for _, name := range names {
		if !strings.Contains(files, " "+name+" ") {
			t.Errorf("FILES does not list %s", name)
		}
	}
}
