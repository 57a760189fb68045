// Package simtest makes simulated FreeBSD hosts for the tests of the
// packages that run over them (ppt, ifnet, kmod, launch, rtsock,
// conformance, logging, doctor): a fresh host in a temporary directory,
// with its fault knobs set, as the model of its kernel or as a host.
package simtest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/host"
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

// Host makes a simulated host in a short temporary directory, so that the
// paths of its sockets fit a sockaddr_un, and gives the directory and the
// host as `wifibox -S DIR` sees it.
func Host(t testing.TB) (string, *host.Host) {
	t.Helper()
	dir, err := os.MkdirTemp("", "wbt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := sim.Init(dir); err != nil {
		t.Fatal(err)
	}
	h, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// Names lists the names of the host's interfaces, sorted.
func Names(t testing.TB, n host.Net) []string {
	t.Helper()
	list, err := n.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}
