package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCoreValues(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Core
	}{
		{"", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"#loglevel=warn  # level of logging: none < error < warn < info < debug\n", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"loglevel=none", Core{LogLevel: LogNone, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"loglevel=Error", Core{LogLevel: LogError, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"loglevel=WARN", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"loglevel=' info '", Core{LogLevel: LogInfo, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
		{"loglevel=debug\nrecovery=suspend_guest", Core{LogLevel: LogDebug, Recovery: RecoverySuspendGuest, RecoveryFrom: RecoveryFromFile}},
		{"recovery=suspend_vmm", Core{LogLevel: LogWarn, Recovery: RecoverySuspendVMM, RecoveryFrom: RecoveryFromFile}},
		{"recovery=none", Core{LogLevel: LogWarn, Recovery: RecoveryNone, RecoveryFrom: RecoveryFromFile}},
		{"recovery=restart_vmm", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryFromFile}},
		{"watchdog=30", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn, Watchdog: 30 * time.Second}},
		{"watchdog=0", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}},
	} {
		got, warnings, err := newCore("core.conf", mustParse(t, "core.conf", c.in), false)
		if err != nil || len(warnings) != 0 {
			t.Errorf("%q: %v, warnings %q", c.in, err, warnings)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", c.in, diff)
		}
	}
}

// TestCoreBuiltInRecovery: a core.conf without a recovery line has the
// method built in when the program was built (-X), and says so; one with a
// line has its own. A built-in value that is no method is an error that
// says what to do.
func TestCoreBuiltInRecovery(t *testing.T) {
	defer func(saved string) { defaultRecovery = saved }(defaultRecovery)
	defaultRecovery = "suspend_guest"
	for _, c := range []struct {
		in   string
		want Core
	}{
		{"loglevel=warn", Core{LogLevel: LogWarn, Recovery: RecoverySuspendGuest, RecoveryFrom: RecoveryBuiltIn}},
		{"recovery=restart_vmm", Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryFromFile}},
	} {
		got, _, err := newCore("core.conf", mustParse(t, "core.conf", c.in), false)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", c.in, diff)
		}
	}
	defaultRecovery = "suspend"
	_, _, err := newCore("core.conf", mustParse(t, "core.conf", "loglevel=warn"), false)
	checkInvalid(t, "built-in suspend", err, `core.conf: no recovery line, and the default built into this wifibox, "suspend", is none of restart_vmm, suspend_guest, suspend_vmm, none: set recovery= here, or build wifibox with one of them`)
	if _, _, err := newCore("core.conf", mustParse(t, "core.conf", "recovery=none"), false); err != nil {
		t.Errorf("a recovery line with a bad built-in default: %v", err)
	}
}

func TestCoreErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"recovery=Restart_VMM", `core.conf:1:10: malformed recovery value: "Restart_VMM", expected: restart_vmm, suspend_guest, suspend_vmm or none`},
		{"recovery=reboot", `core.conf:1:10: malformed recovery value: "reboot", expected: restart_vmm, suspend_guest, suspend_vmm or none`},
		{"watchdog=yes", `core.conf:1:10: malformed watchdog value: "yes", expected: non-negative integer`},
		{"watchdog=3601", `core.conf:1:10: watchdog should be in between 0 and 3600: 3601`},
	} {
		_, _, err := newCore("core.conf", mustParse(t, "core.conf", c.in), false)
		checkInvalid(t, c.in, err, c.want)
	}
}

// TestCoreUnknownLogLevel: an unknown or empty loglevel (warning, which
// the shell implementation spells warn) warns, names the valid values and
// is the default, so that no command, the boot's start included, stops on it.
func TestCoreUnknownLogLevel(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\nloglevel=warning", `core.conf:2:10: malformed loglevel value: "warning", expected: none, error, warn, info or debug; using warn`},
		{"loglevel=", `core.conf:1:10: malformed loglevel value: "", expected: none, error, warn, info or debug; using warn`},
	} {
		got, warnings, err := newCore("core.conf", mustParse(t, "core.conf", c.in), false)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got.LogLevel != LogWarn {
			t.Errorf("%q: level %d, want warn", c.in, got.LogLevel)
		}
		if diff := cmp.Diff([]string{c.want}, warnings); diff != "" {
			t.Errorf("%q: warnings (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestCoreWarnings(t *testing.T) {
	_, warnings, err := newCore("core.conf", mustParse(t, "core.conf", "_level=debug\nloglevel=$_level\nlog_level=info\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"core.conf:3: unknown setting log_level, ignored"}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestUnknownNamesClipped: an unknown setting's name is quoted in its
// warning up to 80 bytes, as values are, and so is a name in an error.
func TestUnknownNamesClipped(t *testing.T) {
	long := strings.Repeat("n", 500<<10)
	clipped := strings.Repeat("n", 80) + "... (512000 bytes)"
	_, warnings, err := newCore("core.conf", mustParse(t, "core.conf", "\n"+long+"=1\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"core.conf:2: unknown setting " + clipped + ", ignored"}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	_, err = Parse("core.conf", []byte("a=$"+long))
	if want := "core.conf:1:3: reference to " + clipped + ", which is not assigned earlier in this file"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestCoreLenient: read leniently, a malformed setting is its default
// with a warning saying where; a file that cannot be used at all (here
// one others can write) gives every default with the fix.
func TestCoreLenient(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "core.conf")
	if err := os.WriteFile(path, []byte("loglevel=info\nrecovery=suspend_gust\nwatchdog=5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, warnings := LoadCoreLenient(path)
	want := Core{LogLevel: LogInfo, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}
	if got != want || len(warnings) != 2 || !strings.HasPrefix(warnings[0], "core.conf:2:10: malformed recovery value") ||
		!strings.HasPrefix(warnings[1], "core.conf:3:10: malformed watchdog value") {
		t.Errorf("got %+v, %q; want %+v", got, warnings, want)
	}
	if err := os.Chmod(path, 0o664); err != nil {
		t.Fatal(err)
	}
	got, warnings = LoadCoreLenient(path)
	if got != defaultCore() || len(warnings) != 1 || !strings.Contains(warnings[0], "chmod g-w "+path) {
		t.Errorf("group-writable: got %+v, %q", got, warnings)
	}
}
