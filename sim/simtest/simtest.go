// Package simtest makes simulated FreeBSD hosts for the tests of the
// packages that run over them (ppt, ifnet, kmod, launch, rtsock,
// conformance, logging, doctor, setup): a fresh host in a temporary
// directory, with its fault knobs set, as the model of its kernel or as a
// host; and the files of a host, to tell what a command changed.
package simtest

import (
	"io/fs"
	"os"
	"path/filepath"
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
	initHost(t, dir, faults)
	k, err := sim.NewKernel(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, k
}

// Host makes a simulated host in a short temporary directory, so that the
// paths of its sockets fit a sockaddr_un, sets the fault knobs given as
// key=value, and gives the directory and the host as `wifibox -S DIR`
// sees it.
func Host(t testing.TB, faults ...string) (string, *host.Host) {
	t.Helper()
	dir, err := os.MkdirTemp("", "wbt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	initHost(t, dir, faults)
	h, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// initHost makes a simulated host in dir and sets its fault knobs, given
// as key=value.
func initHost(t testing.TB, dir string, faults []string) {
	t.Helper()
	if err := sim.Init(dir); err != nil {
		t.Fatal(err)
	}
	for _, kv := range faults {
		key, value, _ := strings.Cut(kv, "=")
		if err := sim.SetFault(dir, key, value); err != nil {
			t.Fatal(err)
		}
	}
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

// Files gives every file of the simulated host that a command could
// change, but the simulator's own, the run directory and the log: each
// path with its mode and content, or its link's target.
func Files(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch rel {
		case "sim", "var/run", "var/log", "dev", "trace.log":
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			files[rel] = "-> " + target
			return err
		case fi.IsDir():
			files[rel+"/"] = fi.Mode().String()
		default:
			data, err := os.ReadFile(path)
			files[rel] = fi.Mode().String() + " " + string(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// WriteFile writes a file of a host, its directories made, with exactly
// mode (the umask left out).
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
