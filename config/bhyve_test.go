package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wifibox/wifibox/host"
)

// mustParse parses text as the file named file.
func mustParse(t *testing.T, file, text string) Assignments {
	t.Helper()
	as, err := Parse(file, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// checkInvalid checks err is an ErrInvalid error with the text want.
func checkInvalid(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %s", what, want)
	case err.Error() != want:
		t.Errorf("%s:\n got %s\nwant %s", what, err, want)
	case !errors.Is(err, ErrInvalid) || errors.Is(err, ErrMissing):
		t.Errorf("%s: %v is not only ErrInvalid", what, err)
	}
}

func TestBhyveValues(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     Bhyve
	}{
		{"defaults", "", Bhyve{CPUs: 1, Memory: "128M", Priority: 50, StopWaitMax: 10}},
		{"sample", "cpus=1\nmemory=128M\nconsole=no\npassthru=\npriority=50\n",
			Bhyve{CPUs: 1, Memory: "128M", Priority: 50, StopWaitMax: 10}},
		{"every setting", "cpus=16\nmemory=1g\nconsole=yes\npassthru=\"3/0/0 0/20/0\"\npriority=0\nstop_wait_max=60\n",
			Bhyve{CPUs: 16, Memory: "1g", Console: true, Priority: 0, StopWaitMax: 60,
				Passthru: []host.Selector{{Bus: 3}, {Slot: 20}}}},
		{"limits", "cpus=1\nmemory=0\npassthru=255/31/7\npriority=99\nstop_wait_max=1\n",
			Bhyve{CPUs: 1, Memory: "0", Priority: 99, StopWaitMax: 1,
				Passthru: []host.Selector{{Bus: 255, Slot: 31, Function: 7}}}},
		{"space around values", "cpus=' 2 '\nmemory=\"\t512K\n\"\nconsole=' yes'\npassthru='\n 1/2/3\n\t004/05/6 '\npriority=' 07'\nstop_wait_max=\"30 \"",
			Bhyve{CPUs: 2, Memory: "512K", Console: true, Priority: 7, StopWaitMax: 30,
				Passthru: []host.Selector{{Bus: 1, Slot: 2, Function: 3}, {Bus: 4, Slot: 5, Function: 6}}}},
		{"last assignment wins", "cpus=20\ncpus=2", Bhyve{CPUs: 2, Memory: "128M", Priority: 50, StopWaitMax: 10}},
		{"bhyve", "bhyve=/usr/local/sbin/bhyve-custom", Bhyve{CPUs: 1, Memory: "128M", Priority: 50, StopWaitMax: 10,
			Program: "/usr/local/sbin/bhyve-custom"}},
	} {
		got, warnings, err := newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", c.in), 16)
		if err != nil || len(warnings) != 0 {
			t.Errorf("%s: %v, warnings %q", c.name, err, warnings)
			continue
		}
		if diff := cmp.Diff(c.want, got, cmpopts.IgnoreUnexported(Bhyve{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestBhyveErrors(t *testing.T) {
	const list = `, expected: list of bus/slot/function, triples of non-negative integers`
	for _, c := range []struct{ in, want string }{
		{"memory=12X", `bhyve.conf:1:8: malformed memory value: "12X", expected: non-negative integer, suffixed with unit: K, M, G, T`},
		{"\n# c\n\nmemory=", `bhyve.conf:4:8: malformed memory value: "", expected: non-negative integer, suffixed with unit: K, M, G, T`},
		{"memory='1 G'", `bhyve.conf:1:8: malformed memory value: "1 G", expected: non-negative integer, suffixed with unit: K, M, G, T`},
		{"memory=1MB", `bhyve.conf:1:8: malformed memory value: "1MB", expected: non-negative integer, suffixed with unit: K, M, G, T`},
		{"cpus=20", `bhyve.conf:1:6: cpus should be in between 1 and 16: 20`},
		{"cpus=0", `bhyve.conf:1:6: cpus should be in between 1 and 16: 0`},
		{"cpus=' 17'", `bhyve.conf:1:6: cpus should be in between 1 and 16:  17`},
		{"cpus=99999999999999999999", `bhyve.conf:1:6: cpus should be in between 1 and 16: 99999999999999999999`},
		{"cpus=x", `bhyve.conf:1:6: malformed cpus value: "x", expected: non-negative integer`},
		{"cpus=-1", `bhyve.conf:1:6: malformed cpus value: "-1", expected: non-negative integer`},
		{"cpus=", `bhyve.conf:1:6: malformed cpus value: "", expected: non-negative integer`},
		{"cpus=2\ncpus=1.5", `bhyve.conf:2:6: malformed cpus value: "1.5", expected: non-negative integer`},
		{"console=maybe", `bhyve.conf:1:9: malformed console value: "maybe", expected: yes or no`},
		{"console=YES", `bhyve.conf:1:9: malformed console value: "YES", expected: yes or no`},
		{"console=", `bhyve.conf:1:9: malformed console value: "", expected: yes or no`},
		{"passthru=3/0", `bhyve.conf:1:10: malformed passthru value: "3/0"` + list},
		{"passthru='3/0/0,4/0/0'", `bhyve.conf:1:10: malformed passthru value: "3/0/0,4/0/0"` + list},
		{"passthru=1234/0/0", `bhyve.conf:1:10: malformed passthru value: "1234/0/0"` + list},
		{"passthru=pci0:3:0:0", `bhyve.conf:1:10: malformed passthru value: "pci0:3:0:0"` + list},
		{"passthru=256/0/0", `bhyve.conf:1:10: passthru device 256/0/0: bus should be in between 0 and 255: 256`},
		{"passthru='1/2/3 0/32/0'", `bhyve.conf:1:10: passthru device 0/32/0: slot should be in between 0 and 31: 32`},
		{"passthru=0/0/8", `bhyve.conf:1:10: passthru device 0/0/8: function should be in between 0 and 7: 8`},
		{"passthru='3/0/0 003/0/0'", `bhyve.conf:1:10: passthru device 003/0/0 is listed twice`},
		{"priority=100", `bhyve.conf:1:10: priority should be in between 0 and 99: 100`},
		{"priority=high", `bhyve.conf:1:10: malformed priority value: "high", expected: non-negative integer`},
		{"stop_wait_max=0", `bhyve.conf:1:15: stop_wait_max should be in between 1 and 60: 0`},
		{"stop_wait_max=61", `bhyve.conf:1:15: stop_wait_max should be in between 1 and 60: 61`},
		{"memory=17179869183G\nmemory=17179869184G", `bhyve.conf:2:8: memory is too large: 17179869184G, more than 2^64 bytes`},
		{"memory=9999999999999999999T", `bhyve.conf:1:8: memory is too large: 9999999999999999999T, more than 2^64 bytes`},
		{"memory=99999999999999999999", `bhyve.conf:1:8: memory is too large: 99999999999999999999, more than 2^64 bytes`},
		{"stop_wait_max=10s", `bhyve.conf:1:15: malformed stop_wait_max value: "10s", expected: non-negative integer`},
		{"bhyve=bhyve", `bhyve.conf:1:7: malformed bhyve value: "bhyve", expected: absolute path of bhyve(8), such as /usr/sbin/bhyve`},
		{"bhyve=/usr/local/../sbin/bhyve", `bhyve.conf:1:7: malformed bhyve value: "/usr/local/../sbin/bhyve", expected: absolute path of bhyve(8), such as /usr/sbin/bhyve`},
		{"bhyve=/usr/sbin/bhyve/", `bhyve.conf:1:7: malformed bhyve value: "/usr/sbin/bhyve/", expected: absolute path of bhyve(8), such as /usr/sbin/bhyve`},
	} {
		_, _, err := newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", c.in), 16)
		checkInvalid(t, c.in, err, c.want)
	}
}

// TestBhyveProgram: the bhyve bhyve= names is run once it is a regular,
// executable file that only root (or the running user) can change; else
// the error says what to do. Without bhyve= the base system's is run.
func TestBhyveProgram(t *testing.T) {
	root := t.TempDir()
	p := host.DefaultPaths(root)
	if got, err := (Bhyve{}).ProgramPath(p); err != nil || got != p.Bhyve {
		t.Errorf("no bhyve=: %q, %v; want %s", got, err, p.Bhyve)
	}
	const custom = "/usr/local/sbin/bhyve-custom"
	path := filepath.Join(root, custom)
	b := Bhyve{Program: custom}
	_, err := b.ProgramPath(p)
	checkInvalid(t, "missing", err, "bhyve.conf: bhyve="+custom+" cannot be run: no such file or directory; install bhyve there, or remove the bhyve line to run the base system's")
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = b.ProgramPath(p)
	checkInvalid(t, "directory", err, "bhyve.conf: bhyve="+custom+" is a directory, not a regular file")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode fs.FileMode
		want string
	}{
		{0o644, "bhyve.conf: bhyve=" + custom + " is not executable (mode 0644); fix it with: chmod 555 " + custom},
		{0o775, "bhyve.conf: refusing to run bhyve=" + custom + ": it is writable by group (mode 0775), so others could make wifibox run anything as root; fix it with: chmod g-w " + custom},
		{0o757, "bhyve.conf: refusing to run bhyve=" + custom + ": it is writable by others (mode 0757), so others could make wifibox run anything as root; fix it with: chmod o-w " + custom},
		{0o755, ""},
	} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		got, err := b.ProgramPath(p)
		switch {
		case c.want == "" && (err != nil || got != path):
			t.Errorf("mode %04o: %q, %v; want %s", c.mode, got, err, path)
		case c.want != "":
			checkInvalid(t, fmt.Sprintf("mode %04o", c.mode), err, c.want)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBhyveUnknownMaxCPU(t *testing.T) {
	b, _, err := newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", "\ncpus=64"), 0)
	if err != nil || b.CPUs != 64 {
		t.Fatalf("cpus=64 with an unknown maximum: %+v, %v", b, err)
	}
	_, _, err = newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", "cpus=0"), 0)
	checkInvalid(t, "cpus=0 with an unknown maximum", err, "bhyve.conf:1:6: cpus should be at least 1: 0")
	_, _, err = newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", "cpus=99999999999999999999999"), 0)
	checkInvalid(t, "cpus too large for an int with an unknown maximum", err,
		"bhyve.conf:1:6: cpus is too large: 99999999999999999999999")
}

// TestValuesClipped: a value is quoted in an error up to 80 bytes, then
// cut with its length.
func TestValuesClipped(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	clipped := strings.Repeat("x", 80) + "... (102400 bytes)"
	_, _, err := newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", "memory="+long), 16)
	checkInvalid(t, "100 KB memory", err, `bhyve.conf:1:8: malformed memory value: "`+clipped+
		`", expected: non-negative integer, suffixed with unit: K, M, G, T`)
	_, _, err = newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", "cpus=1"+long), 0)
	checkInvalid(t, "100 KB cpus", err, `bhyve.conf:1:6: malformed cpus value: "1`+strings.Repeat("x", 79)+
		`... (102401 bytes)", expected: non-negative integer`)
	_, _, err = newUDSPassthru("uds_passthru.conf", mustParse(t, "uds_passthru.conf", "sockets=path=/"+long))
	checkInvalid(t, "100 KB socket path", err, `uds_passthru.conf:1:9: sockets entry "path=/`+strings.Repeat("x", 74)+
		`... (102406 bytes)": user is missing`)
}

func TestBhyveStopWait(t *testing.T) {
	if got := (Bhyve{StopWaitMax: 30}).StopWait(); got != 30*time.Second {
		t.Errorf("StopWait() = %v, want 30s", got)
	}
}

func TestBhyveWarnings(t *testing.T) {
	in := "cpu=2\n_helper=1\nfoo=1\ncpus=1\nfoo=2\n_x=$foo\n"
	_, warnings, err := newBhyve("bhyve.conf", mustParse(t, "bhyve.conf", in), 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bhyve.conf:1: unknown setting cpu, ignored", "bhyve.conf:3: unknown setting foo, ignored"}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
