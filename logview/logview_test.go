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
		args []string
		path string
		view View
	}{
		{nil, "/h/var/log/wifibox.log", View{Lines: All}},
		{[]string{"-f"}, "/h/var/log/wifibox.log", View{Follow: true, Lines: 10}},
		{[]string{"-n", "3"}, "/h/var/log/wifibox.log", View{Lines: 3}},
		{[]string{"-f", "-n", "0", "host"}, "/h/var/log/wifibox.log", View{Follow: true}},
		{[]string{"-n", "2", "-f"}, "/h/var/log/wifibox.log", View{Follow: true, Lines: 2}},
		{[]string{"host"}, "/h/var/log/wifibox.log", View{Lines: All}},
		{[]string{"guest"}, "/h/var/run/wifibox/appliance/log/messages", View{Lines: All}},
		{[]string{"-f", "guest", "dmesg"}, "/h/var/run/wifibox/appliance/log/dmesg", View{Follow: true, Lines: 10}},
		// Options after the log's name, as tail(1) users type them.
		{[]string{"guest", "-n", "5"}, "/h/var/run/wifibox/appliance/log/messages", View{Lines: 5}},
		{[]string{"host", "-f"}, "/h/var/log/wifibox.log", View{Follow: true, Lines: 10}},
		{[]string{"guest", "-f", "dmesg"}, "/h/var/run/wifibox/appliance/log/dmesg", View{Follow: true, Lines: 10}},
	} {
		l, v, err := Select(p, tc.args)
		if err != nil || l.Path != tc.path || v != tc.view {
			t.Errorf("Select(%q) = %q, %+v, %v; want %q, %+v", tc.args, l.Path, v, err, tc.path, tc.view)
		}
	}
	for _, args := range [][]string{{"vmm"}, {"guest", "messages"}, {"host", "-f", "-f"}, {"-f", "-f"}, {"guest", "-n"}, {"-n"}, {"-n", "x"}, {"-n", "-1"}, {"-n", "1", "-n", "2"}, {"-x"}} {
		if _, _, err := Select(p, args); err == nil || !strings.Contains(err.Error(), "usage: wifibox log [-f] [-n N] [host|guest|guest dmesg]") {
			t.Errorf("Select(%q): %v, want a usage error", args, err)
		}
	}
}

func TestShow(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 10000) // lines across the blocks read backwards
	for _, tc := range []struct {
		content string
		lines   int
		want    string
	}{
		{"one\ntwo\n", All, "one\ntwo\n"},
		{"one\ntwo\nthree\n", 2, "two\nthree\n"},
		{"one\ntwo\nthree", 2, "two\nthree"},
		{"one\ntwo\n", 5, "one\ntwo\n"},
		{"one\ntwo\n", 0, ""},
		{"", 3, ""},
		{"\n\n\n", 2, "\n\n"},
		{"a\n" + long + "\nb\n" + long + "\n", 2, "b\n" + long + "\n"},
		{"a\n" + long + "\n" + long + "\n" + long + "\n", 3, long + "\n" + long + "\n" + long + "\n"},
	} {
		path := filepath.Join(dir, "wifibox.log")
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Show(&out, path, View{Lines: tc.lines}, nil); err != nil || out.String() != tc.want {
			t.Errorf("Show(%.20q, %d lines) = %.30q, %v; want %.30q", tc.content, tc.lines, out.String(), err, tc.want)
		}
	}
}

func TestShowMissing(t *testing.T) {
	p := host.DefaultPaths(t.TempDir())
	l, _, err := Select(p, []string{"guest"})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Show(&bytes.Buffer{}, View{Lines: All}, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasSuffix(err.Error(), ": the guest writes it there once it runs (wifibox start)") {
		t.Errorf("Show of a missing guest log: %v", err)
	}
}

// TestGuestLogFollowsNoLink: a link the guest planted at appliance/log,
// to a host directory that holds a messages file, is refused naming it;
// the host's file is not shown.
func TestGuestLogFollowsNoLink(t *testing.T) {
	p := host.DefaultPaths(t.TempDir())
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "messages"), []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.RunAppliance(), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(p.RunAppliance(), "log")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	l, _, err := Select(p, []string{"guest"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = l.Show(&out, View{Lines: All}, nil)
	if err == nil || out.Len() != 0 || !strings.Contains(err.Error(), link+": ") || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Show through a link at %s: printed %q, %v; want nothing and an error naming the link", link, out.String(), err)
	}
}
