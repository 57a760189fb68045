package abi

import (
	"testing"

	"github.com/wifibox/wifibox/internal/abitest"
)

func TestVMM(t *testing.T) {
	abitest.Check(t, map[string]int64{
		"VM_MAX_NAMELEN":               VM_MAX_NAMELEN,
		"amd64.VM_SUSPEND_RESET":       VM_SUSPEND_RESET,
		"amd64.VM_SUSPEND_POWEROFF":    VM_SUSPEND_POWEROFF,
		"amd64.VM_SUSPEND_HALT":        VM_SUSPEND_HALT,
		"amd64.VM_SUSPEND_TRIPLEFAULT": VM_SUSPEND_TRIPLEFAULT,
		"VM_REINIT":                    VM_REINIT,
		"VM_ACTIVATE_CPU":              VM_ACTIVATE_CPU,
	})
}
