// Package mantest renders the manual page, man/wifibox.8, as a reader sees
// it, for the tests that check it says what the program does: the text
// mandoc(1) prints, without its overstrikes, one space for each run of
// white space, so that a phrase is found wherever the lines break.
package mantest

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// overstrike is a character printed over by the next (bold, underline).
var overstrike = regexp.MustCompile(`.\x08`)

// Render gives the manual page at path (relative to the test's package
// directory) as mandoc -T utf8 renders it. Without mandoc the test is
// skipped.
func Render(t testing.TB, path string) string {
	t.Helper()
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		t.Skip("mandoc is not installed")
	}
	out, err := exec.Command(mandoc, "-T", "utf8", "-O", "width=500", path).Output()
	if err != nil {
		t.Fatalf("mandoc -T utf8 %s: %v", path, err)
	}
	return strings.Join(strings.Fields(overstrike.ReplaceAllString(string(out), "")), " ")
}
