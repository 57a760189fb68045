// Package conformance holds tests of FreeBSD's kernel interface written
// once against the system-call seam (sys.Sys) and run twice: against the
// model of the kernel in sim/ on any system, and against the running
// FreeBSD kernel (sys.Native()) when WIFIBOX_CONFORMANCE=1 is set, as root.
// They pin the answers the model gives, every errno path included, so a
// run on FreeBSD shows where the model is wrong (`make conformance`;
// .cirrus.yml runs them on FreeBSD 13.5, 14.3 and 15.0).
//
// The API for tests:
//   - kernel(t, faults...) gives the kernel to test, with a fresh state on
//     the model: a fresh simulated host with the given fault knobs
//     ("osreldate=1305000"), which a real kernel ignores;
//   - releases(t, fn) runs fn as each release the model answers as (13.5,
//     14.3, 15.0), once on a real kernel;
//   - modelOnly(t) skips on a real kernel, for states only the model can
//     set up, and gives the simulated host's directory; fault(t, kv) sets
//     a knob there;
//   - osreldate(t, k) is the release the kernel answers as, loadVMM(t, k)
//     loads vmm (or skips where it cannot be), open(t, k, path, flags)
//     opens a file closed at the end of the test.
//
// Tests on a real kernel skip what the machine cannot do, and never touch
// a device the machine needs: a test that changes a PCI device's driver
// runs only on the one WIFIBOX_CONFORMANCE_PCI names (pciD:B:S:F), see
// spareDevice.
package conformance

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
	"github.com/wifibox/wifibox/sys"
)

// real tells whether the tests run against the running kernel.
func real() bool { return os.Getenv("WIFIBOX_CONFORMANCE") == "1" }

// model is the simulated host a test runs on, by kernel.
type model struct {
	dir string
	k   *sim.Kernel
}

var (
	modelsMu sync.Mutex
	models   = map[*testing.T]*model{}
)

// modelOf gives the simulated host of a test on the model, nil on a real
// kernel.
func modelOf(t *testing.T) *model {
	modelsMu.Lock()
	defer modelsMu.Unlock()
	return models[t]
}

// kernel gives the kernel a test runs against: the running one with
// WIFIBOX_CONFORMANCE=1 (where the faults are ignored: the machine is what
// it is), the model of a fresh simulated host with the given fault knobs
// ("osreldate=1305000") otherwise.
func kernel(t *testing.T, faults ...string) sys.Sys {
	t.Helper()
	if real() {
		k := native()
		if k == nil {
			t.Skip("WIFIBOX_CONFORMANCE=1 runs on FreeBSD only")
		}
		if os.Geteuid() != 0 {
			t.Skip("the conformance tests run as root")
		}
		return k
	}
	dir, k := simtest.New(t, faults...)
	modelsMu.Lock()
	models[t] = &model{dir: dir, k: k}
	modelsMu.Unlock()
	t.Cleanup(func() {
		modelsMu.Lock()
		delete(models, t)
		modelsMu.Unlock()
	})
	return k
}

// modelOnly skips a test, or the rest of one, on a real kernel: for states
// only the model can set up (a device list changing between two calls).
// It gives the simulated host's directory, for its fault knobs.
func modelOnly(t *testing.T) string {
	t.Helper()
	m := modelOf(t)
	if m == nil {
		t.Skip("needs a state only the model can set up")
	}
	return m.dir
}

// fault sets a fault knob of the simulated host: modelOnly.
func fault(t *testing.T, kv string) {
	t.Helper()
	key, value, _ := strings.Cut(kv, "=")
	if err := sim.SetFault(modelOnly(t), key, value); err != nil {
		t.Fatal(err)
	}
}

// osreldate is kern.osreldate, the release the kernel answers as.
func osreldate(t *testing.T, k sys.Sys) int {
	t.Helper()
	b, err := k.Sysctl("kern.osreldate")
	if err != nil || len(b) != 4 {
		t.Fatalf("sysctl kern.osreldate = %v, %v", b, err)
	}
	return int(binary.NativeEndian.Uint32(b))
}

// loadVMM makes sure vmm.ko, and with it the ppt driver, is loaded: on the
// model by loading it, on a real kernel by skipping when it is not.
func loadVMM(t *testing.T, k sys.Sys) {
	t.Helper()
	if m := modelOf(t); m != nil {
		if _, err := k.Kldload(filepath.Join(m.dir, "boot/kernel/vmm.ko")); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := k.Modfind("vmm"); err != nil {
		t.Skipf("vmm is not loaded (modfind: %v)", err)
	}
}

// releases runs a test as each release the model answers as (13.5, 14.3,
// 15.0), or once on a real kernel, as the release it is.
func releases(t *testing.T, test func(t *testing.T, k sys.Sys)) {
	if real() {
		test(t, kernel(t))
		return
	}
	for _, rel := range []string{"1305000", "1403000", "1500068"} {
		t.Run(rel, func(t *testing.T) { test(t, kernel(t, "osreldate="+rel)) })
	}
}

func open(t *testing.T, k sys.Sys, path string, flags int) int {
	t.Helper()
	fd, err := k.Open(path, flags)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { k.Close(fd) })
	return fd
}
