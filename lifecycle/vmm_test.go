package lifecycle

import (
	"bytes"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
)

// TestUnloadVMMKept: a vmm.ko the kernel keeps is no failure; the warning
// names the cause, and a preloaded vmm.ko is never blamed on other VMs.
func TestUnloadVMMKept(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faults    []string
		otherVM   bool
		want, not []string
	}{
		{
			name:   "preloaded",
			faults: []string{"vmm_preloaded=yes"},
			want:   []string{"the boot loader loaded it", "sysctl debug.dump_modinfo` lists ", "boot/kernel/vmm.ko"},
			not:    []string{"another VM", "other bhyve guests"},
		},
		{
			name:    "preloaded, another VM too",
			faults:  []string{"vmm_preloaded=yes"},
			otherVM: true,
			want:    []string{"the boot loader loaded it"},
			not:     []string{"another VM", "freebsd14"},
		},
		{
			name:    "another VM",
			otherVM: true,
			want:    []string{"it is in use by another VM: freebsd14 ("},
			not:     []string{"boot loader loaded it ("},
		},
		{
			name:   "busy, cause unseen",
			faults: []string{"vmm_busy=yes"},
			want:   []string{"the kernel refuses (EBUSY), though the boot loader did not load it and no other VM is under "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := simtest.New(t, tc.faults...)
			h, err := sim.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tc.faults, "vmm_preloaded=yes") {
				if err := h.Kernel.Load(filepath.Join(dir, "boot/kernel/vmm.ko")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.otherVM {
				if err := h.VMs.CreateVM("freebsd14"); err != nil {
					t.Fatal(err)
				}
			}
			var logged bytes.Buffer
			log := logrus.New()
			log.SetOutput(&logged)
			r := &Runner{Host: h, Log: log, Out: io.Discard}
			if err := r.unloadVMM(); err != nil {
				t.Fatalf("unloadVMM: %v", err)
			}
			if m, err := h.Kernel.Module("vmm"); err != nil || !m.Present {
				t.Errorf("vmm after the refused unload: %+v, %v", m, err)
			}
			got := logged.String()
			if !strings.Contains(got, "level=warning") || !strings.Contains(got, "vmm.ko could not be unloaded, so it stays loaded") {
				t.Errorf("no warning: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("the warning lacks %q: %s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("the warning says %q: %s", n, got)
				}
			}
		})
	}
}
