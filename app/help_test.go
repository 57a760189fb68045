package app

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestHelp: help, -h and --help print the usage on stdout and exit 0; a
// command's help tells about it; mistakes name themselves and the nearest
// valid word on stderr with a one-line usage, exit 1. None needs a host.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // prefixes
	}{
		{[]string{"help"}, 0, "USAGE: wifibox [-n] [-S DIR] COMMAND [ARGS]\n    start [guest|netif|vmm]\n", ""},
		{[]string{"-h"}, 0, "USAGE: wifibox", ""},
		{[]string{"--help"}, 0, "USAGE: wifibox", ""},
		{[]string{"-S", "/nonexistent", "--help"}, 0, "USAGE: wifibox", ""},
		{[]string{"help", "log"}, 0, "usage: wifibox log [-f] [-n N] [host|guest|guest dmesg]\n\nShow wifibox's log", ""},
		{[]string{"status", "--help"}, 0, "usage: wifibox status [-v|--json]\n", ""},
		{[]string{"--version"}, 0, "wifibox version ", ""},
		{[]string{"help", "sim"}, 0, "usage: wifibox sim init|legacy|netif-stop|netif-start DIR\n", ""},
		{[]string{"simm"}, 1, "", "ERROR: unknown command simm; did you mean sim?\n"},
		{nil, 1, "", "USAGE: wifibox"},
		{[]string{"statsu"}, 1, "", "ERROR: unknown command statsu; did you mean status?\nusage: wifibox [-n] [-S DIR] COMMAND [ARGS]; wifibox help lists the commands\n"},
		{[]string{"STATUS"}, 1, "", "ERROR: unknown command STATUS; did you mean status?\nusage: wifibox [-n] [-S DIR] COMMAND [ARGS]; wifibox help lists the commands\n"},
		{[]string{"frobnicate"}, 1, "", "ERROR: unknown command frobnicate\nusage: wifibox"},
		{[]string{"help", "stpo"}, 1, "", "ERROR: unknown command stpo; did you mean stop?\n"},
		{[]string{"help", "stop", "now"}, 1, "", "ERROR: Too many parameters\n"},
		{[]string{"--verison"}, 1, "", "ERROR: unknown option --verison; did you mean --version?\n"},
		{[]string{"-S", "/x", "-q", "status"}, 1, "", "ERROR: unknown option -q\n"},
		{[]string{"-S"}, 1, "", "ERROR: flag needs an argument: -S\n"},
		{[]string{"sim"}, 1, "", "ERROR: sim needs init, legacy, netif-stop or netif-start, and a directory\nusage: wifibox sim init|legacy|netif-stop|netif-start DIR\n"},
		// Each command's arguments are checked before anything else.
		{[]string{"start", "-x"}, 1, "", "ERROR: unknown option -x\nusage: wifibox start [guest|netif|vmm]\n"},
		{[]string{"doctor", "--jsno"}, 1, "", "ERROR: unknown option --jsno; did you mean --json?\n"},
		{[]string{"status", "now"}, 1, "", "ERROR: Too many parameters\n"},
		{[]string{"status", "-v", "--json"}, 1, "", "ERROR: Too many parameters\n"},
		{[]string{"resume", "now"}, 1, "", "ERROR: Too many parameters\n"},
		{[]string{"version", "x"}, 1, "", "ERROR: Too many parameters\n"},
	} {
		var out, errOut bytes.Buffer
		code := Main(tc.args, &out, &errOut)
		if code != tc.code || !strings.HasPrefix(out.String(), tc.stdout) || !strings.HasPrefix(errOut.String(), tc.stderr) ||
			tc.stdout == "" && out.Len() > 0 || tc.stderr == "" && errOut.Len() > 0 {
			t.Errorf("wifibox %q: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, code, out.String(), errOut.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

// Every command of the table has its help and its line in the usage.
func TestHelpCoversCommands(t *testing.T) {
	var usage bytes.Buffer
	writeUsage(&usage)
	for _, c := range commands {
		var out bytes.Buffer
		if err := help([]string{c.name}, &out); err != nil || !strings.Contains(out.String(), c.about) {
			t.Errorf("help %s: %v\n%s", c.name, err, out.String())
		}
		if !strings.Contains(usage.String(), "    "+c.name) {
			t.Errorf("the usage lacks %s", c.name)
		}
	}
}

// The shell completions offer every command and option of the table, but
// the simulated host's -S, which the installed (nosim) program lacks.
func TestCompletionsCoverCommands(t *testing.T) {
	for _, file := range []string{"../completion/wifibox.bash", "../completion/_wifibox"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		release := slices.DeleteFunc(slices.Clone(globalOptions), func(o string) bool { return o == "-S" })
		words := append(release, "guest", "netif", "vmm", "dmesg")
		for _, c := range commands {
			words = append(append(words, c.name), c.options...)
		}
		for _, w := range words {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s does not offer %s", file, w)
			}
		}
	}
}
