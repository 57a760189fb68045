package logging

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/sim/simtest"
)

// simHost gives a fresh simulated host.
func simHost(t *testing.T) *host.Host {
	t.Helper()
	_, h := simtest.Host(t)
	return h
}

// TestHostLevels: info tells each change once it is made, debug every
// operation with the kernel's answer, errno names included; neither level
// changes what the operations return.
func TestHostLevels(t *testing.T) {
	sel := host.Selector{Bus: 3}
	for _, tc := range []struct {
		level       config.LogLevel
		want, never []string
	}{
		{config.LogInfo,
			[]string{"INFO  Interface bridge0 is created", "INFO  PPT driver is configured for pci0:3:0:0",
				"INFO  pci0:3:0:0 is released from its driver", "INFO  Interface bridge0 is destroyed"},
			[]string{"DEBUG", "nmdm"}},
		{config.LogDebug,
			[]string{"DEBUG Kernel: if_create bridge bridge0 -> ok", "INFO  Kernel module /", "DEBUG Kernel: devctl_set_driver pci0:3:0:0 ppt -> ok",
				"DEBUG Kernel: kldunload nmdm -> ENOENT", "DEBUG Kernel: ifconfig nothere0 -> ENXIO",
				"DEBUG Kernel: sysctl hw.vmm.maxcpu -> 16", "INFO  Interface bridge0 is destroyed"},
			[]string{"Kernel module nmdm is unloaded"}},
		{config.LogWarn, nil, []string{"INFO", "DEBUG"}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wifibox.log")
			h := Host(simHost(t), New(path, tc.level, nil))
			for _, m := range []string{"if_bridge", "vmm"} {
				file, err := kmod.ModuleFile(h.Kernel, m)
				if err == nil {
					err = h.Kernel.Load(file)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			name, err := h.Net.CreateInterface("bridge")
			if err != nil || name != "bridge0" {
				t.Fatalf("CreateInterface = %q, %v", name, err)
			}
			if err := h.PCI.SetDriver(sel, "ppt"); err != nil {
				t.Fatal(err)
			}
			if err := h.PCI.ClearDriver(sel); err != nil {
				t.Fatal(err)
			}
			if err := h.Kernel.Unload("nmdm"); err == nil {
				t.Error("unloading nmdm, which is not loaded, succeeded")
			}
			if _, err := h.Net.Interface("nothere0"); err == nil {
				t.Error("a missing interface was found")
			}
			if _, err := h.Kernel.SysctlInt("hw.vmm.maxcpu"); err != nil {
				t.Error(err)
			}
			if err := h.Net.DestroyInterface("bridge0"); err != nil {
				t.Fatal(err)
			}
			log := read(t, path)
			for _, w := range tc.want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(log, n) {
					t.Errorf("log has %q:\n%s", n, log)
				}
			}
		})
	}
}
