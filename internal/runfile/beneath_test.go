package runfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenInFollowsNoLink: a link at any component below the directory,
// to a directory or a file, is refused naming it and its target; the
// same path without links opens.
func TestOpenInFollowsNoLink(t *testing.T) {
	run := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "messages"), []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(run, "appliance"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(run, "appliance", "log")
	for _, c := range []struct{ at, to string }{
		{log, outside}, // a directory component
		{filepath.Join(run, "appliance"), outside}, // the first component
		{log, filepath.Join(outside, "none")},      // dangling
	} {
		os.RemoveAll(c.at)
		if err := os.Symlink(c.to, c.at); err != nil {
			t.Fatal(err)
		}
		_, err := OpenIn(run, "appliance/log/messages", os.O_RDONLY)
		if err == nil || !strings.Contains(err.Error(), c.at+": ") || !strings.Contains(err.Error(), "symbolic link to \""+c.to+"\"") {
			t.Errorf("OpenIn through a link at %s to %s: %v, want an error naming both", c.at, c.to, err)
		}
		os.Remove(c.at)
		os.MkdirAll(filepath.Join(run, "appliance"), 0o755)
	}
	if _, err := OpenIn(run, "appliance/log/messages", os.O_RDONLY); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenIn of a missing file: %v, want ErrNotExist", err)
	}
	if err := os.MkdirAll(log, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(log, "messages"), []byte("guest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenIn(run, "appliance/log/messages", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, _ := io.ReadAll(f); string(data) != "guest\n" || f.Name() != filepath.Join(log, "messages") {
		t.Errorf("OpenIn read %q from %s", data, f.Name())
	}
}

// TestMakeDirsInRepairs: a link at a component, dangling (what made every
// later start fail with "file exists") or to a host directory, is replaced
// by a directory and named; the link's target is left alone.
func TestMakeDirsInRepairs(t *testing.T) {
	run := t.TempDir()
	outside := t.TempDir()
	if repaired, err := MakeDirsIn(run, "appliance/log", 0o755); err != nil || repaired != nil {
		t.Fatalf("MakeDirsIn in an empty directory: %v, %v", repaired, err)
	}
	log := filepath.Join(run, "appliance", "log")
	for _, to := range []string{filepath.Join(outside, "gone"), outside} {
		os.Remove(log)
		if err := os.Symlink(to, log); err != nil {
			t.Fatal(err)
		}
		repaired, err := MakeDirsIn(run, "appliance/log", 0o755)
		if err != nil || len(repaired) != 1 || !strings.Contains(repaired[0], log) || !strings.Contains(repaired[0], to) {
			t.Errorf("MakeDirsIn over a link to %s: %q, %v; want it named and replaced", to, repaired, err)
		}
		if fi, err := os.Lstat(log); err != nil || !fi.IsDir() {
			t.Errorf("%s after the repair: %v, %v; want a directory", log, fi, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
	os.Remove(log)
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MakeDirsIn(run, "appliance/log", 0o755); err == nil || !strings.Contains(err.Error(), "not a directory; remove it") {
		t.Errorf("MakeDirsIn over a file: %v, want an error saying to remove it", err)
	}
}
