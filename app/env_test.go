package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
