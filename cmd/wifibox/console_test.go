package main

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestConsole talks to the simulated guest's login prompt through
// `wifibox console` with piped input, as a script would.
func TestConsole(t *testing.T) {
	h := newHost(t)
	if _, errOut, code := h.run("console"); code != 127 || !strings.Contains(errOut, "There is no guest to attach to") {
		t.Errorf("console without a guest: exit %d, %q", code, errOut)
	}
	h.must("start")
	cmd := exec.Command(binary, "-S", h.dir, "console")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(outPipe)
	expect := func(want string) {
		t.Helper()
		var seen strings.Builder
		for !strings.Contains(seen.String(), want) {
			b, err := out.ReadByte()
			if err != nil {
				t.Fatalf("console output ended before %q: %q", want, seen.String())
			}
			seen.WriteByte(b)
		}
	}
	expect(`Connecting, type "~." to leave the session...`)
	expect("wifibox login: ")
	io.WriteString(in, "root\n")
	expect("# ")
	io.WriteString(in, "uname -a\n")
	expect("Linux wifibox")
	in.Close() // the end of the input ends the session
	expect("Finished.")
	if err := cmd.Wait(); err != nil {
		t.Errorf("console: %v", err)
	}
}

// TestConsoleNotConfigured: console=no is refused with how to enable it.
func TestConsoleNotConfigured(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "console=no\npassthru=3/0/0\n")
	h.must("start")
	_, errOut, code := h.run("console")
	if code != 127 || !strings.Contains(errOut, "set console=yes in") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// TestConsoleConfiguredAfterStart: a guest started with console=no has no
// null-modem device, whatever bhyve.conf says since: console says so and
// that a restart brings it.
func TestConsoleConfiguredAfterStart(t *testing.T) {
	h := newHost(t)
	h.config("bhyve.conf", "console=no\npassthru=3/0/0\n")
	h.must("start")
	h.config("bhyve.conf", "console=yes\npassthru=3/0/0\n")
	_, errOut, code := h.run("console")
	if want := "The guest was started with console=no, so it has no null-modem device"; code != 127 || !strings.Contains(errOut, want) ||
		!strings.Contains(errOut, "wifibox restart guest") {
		t.Errorf("exit %d, %q; want 127 and %q", code, errOut, want)
	}
}
