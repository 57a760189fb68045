package logview

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/host"
)

func TestSelect(t *testing.T) {
	p := host.DefaultPaths("/h")
	for _, tc := range []struct {
		args   []string
		path   string
		follow bool
	}{
		{nil, "/h/var/log/wifibox.log", false},
		{[]string{"-f"}, "/h/var/log/wifibox.log", true},
		{[]string{"host"}, "/h/var/log/wifibox.log", false},
		{[]string{"guest"}, "/h/var/run/wifibox/appliance/log/messages", false},
		{[]string{"-f", "guest", "dmesg"}, "/h/var/run/wifibox/appliance/log/dmesg", true},
	} {
		l, follow, err := Select(p, tc.args)
		if err != nil || l.Path != tc.path || follow != tc.follow {
			t.Errorf("Select(%q) = %q, %v, %v; want %q, %v", tc.args, l.Path, follow, err, tc.path, tc.follow)
		}
	}
	for _, args := range [][]string{{"vmm"}, {"guest", "messages"}, {"host", "-f"}, {"-f", "-f"}} {
		if _, _, err := Select(p, args); err == nil || !strings.Contains(err.Error(), "usage: wifibox log [-f] [host|guest|guest dmesg]") {
			t.Errorf("Select(%q): %v, want a usage error", args, err)
		}
	}
}

func TestShow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Show(&out, path, false, nil); err != nil || out.String() != "one\ntwo\n" {
		t.Errorf("Show = %q, %v; want the file", out.String(), err)
	}
}

func TestShowMissing(t *testing.T) {
	p := host.DefaultPaths(t.TempDir())
	l, _, err := Select(p, []string{"guest"})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Show(&bytes.Buffer{}, false, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasSuffix(err.Error(), ": the guest writes it there once it runs (wifibox start)") {
		t.Errorf("Show of a missing guest log: %v", err)
	}
}
