// Package simtest makes simulated FreeBSD hosts for the tests of the
// packages that run over the kernel model (ppt, ifnet, kmod, launch,
// rtsock, conformance): a fresh host in the test's temporary directory,
// its fault knobs set, and the model of its kernel.
package simtest

import (
	"strings"
	"testing"

	"github.com/wifibox/wifibox/sim"
)

// New makes a simulated host in a temporary directory the test removes,
// sets the fault knobs given as key=value, and gives the directory and
// the model of the host's kernel.
func New(t testing.TB, faults ...string) (dir string, k *sim.Kernel) {
	t.Helper()
	dir = t.TempDir()
	if err := sim.Init(dir); err != nil {
		t.Fatal(err)
	}
	for _, kv := range faults {
		key, value, _ := strings.Cut(kv, "=")
		if err := sim.SetFault(dir, key, value); err != nil {
			t.Fatal(err)
		}
	}
	k, err := sim.NewKernel(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, k
}
