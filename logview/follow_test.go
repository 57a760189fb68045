//go:build linux || freebsd

package logview

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// output collects what Show prints and tells each time it grows.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newOutput() *output { return &output{written: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case o.written <- struct{}{}:
	default:
	}
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// deadline bounds every wait, so a broken follow fails instead of hanging;
// nothing is asserted about how long anything takes.
const deadline = 10 * time.Second

// waitFor waits until the output is want.
func (o *output) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(deadline)
	for o.String() != want {
		select {
		case <-o.written:
		case <-timeout:
			t.Fatalf("output is %q, want %q", o.String(), want)
		}
	}
}

// following runs Show with follow on path, from its last 10 lines as
// `wifibox log -f` does, and gives its output and the function that stops
// it and checks that it ended well.
func following(t *testing.T, path string) (*output, func()) {
	t.Helper()
	out := newOutput()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- Show(out, path, View{Follow: true, Lines: followLines}, stop) }()
	return out, func() {
		t.Helper()
		close(stop)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Show: %v", err)
			}
		case <-time.After(deadline):
			t.Fatal("Show went on after stop was closed")
		}
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestFollowAppended(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	appendTo(t, path, "one\n")
	out, stop := following(t, path)
	out.waitFor(t, "one\n")
	appendTo(t, path, "two\n")
	out.waitFor(t, "one\ntwo\n")
	appendTo(t, path, "three\nfour\n")
	out.waitFor(t, "one\ntwo\nthree\nfour\n")
	stop()
}

// newsyslog renames the log and the writer creates a new one; what is
// written to the old file before the new one appears is shown before it.
func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wifibox.log")
	appendTo(t, path, "old\n")
	out, stop := following(t, path)
	out.waitFor(t, "old\n")
	if err := os.Rename(path, path+".0"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path+".0", "last of old\n")
	appendTo(t, path, "new\n")
	out.waitFor(t, "old\nlast of old\nnew\n")
	appendTo(t, path, "newer\n")
	out.waitFor(t, "old\nlast of old\nnew\nnewer\n")
	// Rotated again, by removal this time.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "newest\n")
	out.waitFor(t, "old\nlast of old\nnew\nnewer\nnewest\n")
	stop()
}

func TestFollowTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	appendTo(t, path, "a long first line\n")
	out, stop := following(t, path)
	out.waitFor(t, "a long first line\n")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "short\n")
	out.waitFor(t, "a long first line\nshort\n")
	stop()
}

// Stop ends a follow that has nothing to show.
func TestFollowStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	appendTo(t, path, "")
	out, stop := following(t, path)
	stop()
	if out.String() != "" {
		t.Errorf("output %q from an empty log", out.String())
	}
}

// Following starts at the last lines, as tail -f does, not at the start.
func TestFollowFromLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	var all []string
	for i := range 25 {
		all = append(all, fmt.Sprintf("line %d\n", i))
	}
	appendTo(t, path, strings.Join(all, ""))
	out, stop := following(t, path)
	last := strings.Join(all[25-followLines:], "")
	out.waitFor(t, last)
	appendTo(t, path, "more\n")
	out.waitFor(t, last+"more\n")
	stop()
}

// TestFollowBeforeItExists: following a log whose file and directories do
// not exist yet (the guest's, before it ever ran) waits for them, then
// shows what is written.
func TestFollowBeforeItExists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "appliance", "log")
	path := filepath.Join(dir, "messages")
	out, stop := following(t, path)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "up\n")
	out.waitFor(t, "up\n")
	stop()
}
