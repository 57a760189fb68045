package app

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/internal/mantest"
)

// TestIgnoredEnv: each of the shell implementation's variables that is
// set gets one warning naming what replaces it; unset ones, and others,
// none.
func TestIgnoredEnv(t *testing.T) {
	env := map[string]string{"BHYVE": "/usr/local/sbin/bhyve-custom", "IFCONFIG": "/sbin/ifconfig", "VMM_KO": "", "PATH": "/bin"}
	got := ignoredEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	want := []string{
		"BHYVE=/usr/local/sbin/bhyve-custom is ignored (the shell implementation read it): set bhyve= in bhyve.conf to run another bhyve(8)",
		"VMM_KO= is ignored (the shell implementation read it): vmm.ko is loaded from the first directory of kern.module_path",
		"IFCONFIG=/sbin/ifconfig is ignored (the shell implementation read it): wifibox runs no such utility, it makes the system calls itself",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if got := ignoredEnv(func(string) (string, bool) { return "", false }); got != nil {
		t.Errorf("no variable set: %q", got)
	}
}

// TestManualListsShellEnv: COMPATIBILITY in wifibox(8) names each of the
// shell implementation's variables.
func TestManualListsShellEnv(t *testing.T) {
	man := mantest.Render(t, "../man/wifibox.8")
	_, section, _ := strings.Cut(man, "COMPATIBILITY")
	section, _, _ = strings.Cut(section, "SEE ALSO")
	names := slices.Clone(shellTools)
	for _, e := range shellEnv {
		names = append(names, e.name)
	}
	for _, name := range names {
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(section) {
			t.Errorf("COMPATIBILITY does not name %s", name)
		}
	}
}
