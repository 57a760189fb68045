package vmmapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/abitest"
)

func TestSuspendHowABI(t *testing.T) {
	got := map[string]int64{}
	for _, arch := range []string{"amd64", "arm64"} {
		for how, name := range map[host.SuspendHow]string{
			host.SuspendReset:    "VM_SUSPEND_RESET",
			host.SuspendPowerOff: "VM_SUSPEND_POWEROFF",
			host.SuspendHalt:     "VM_SUSPEND_HALT",
		} {
			v, err := suspendValue(arch, how)
			if err != nil {
				t.Fatal(err)
			}
			got[arch+"."+name] = int64(v)
		}
	}
	abitest.Check(t, got)
}

func TestSuspendValueUnknown(t *testing.T) {
	if _, err := suspendValue("riscv64", host.SuspendPowerOff); err == nil || !strings.Contains(err.Error(), "riscv64") {
		t.Errorf("unknown architecture: %v", err)
	}
	if _, err := suspendValue("amd64", "sleep"); err == nil || !strings.Contains(err.Error(), `"sleep"`) {
		t.Errorf("unknown state: %v", err)
	}
}

// pathsWithVM gives the paths of a host on which the VM wifibox exists.
func pathsWithVM(t *testing.T) host.Paths {
	t.Helper()
	paths := host.DefaultPaths(t.TempDir())
	node := paths.VMDevice("wifibox")
	if err := os.MkdirAll(filepath.Dir(node), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestVMExists(t *testing.T) {
	v := New(Config{Paths: pathsWithVM(t)})
	for name, want := range map[string]bool{"wifibox": true, "other": false} {
		got, err := v.VMExists(name)
		if err != nil || got != want {
			t.Errorf("VMExists(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	// Without vmm loaded there is no /dev/vmm at all.
	if got, err := New(Config{Paths: host.DefaultPaths(t.TempDir())}).VMExists("wifibox"); err != nil || got {
		t.Errorf("VMExists without /dev/vmm = %v, %v", got, err)
	}
}

func TestVMExistsError(t *testing.T) {
	paths := host.DefaultPaths(t.TempDir())
	// vmm is a file, so vmm/wifibox cannot be looked at (ENOTDIR).
	if err := os.MkdirAll(paths.Dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths.Dev, "vmm"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Paths: paths}).VMExists("wifibox")
	if err == nil || !strings.Contains(err.Error(), "check whether VM wifibox exists") {
		t.Errorf("VMExists below a file: %v", err)
	}
}
