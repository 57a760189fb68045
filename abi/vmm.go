package abi

// vmm(4)'s facts wifibox uses (machine/vmm.h; sys/dev/vmm/vmm_param.h on
// 15.0).

// VM_MAX_NAMELEN is the longest VM name: SPECNAMELEN (255) less the
// device-name prefix and suffix vmm reserves, less 1.
const VM_MAX_NAMELEN = 229

// enum vm_suspend_how: the values wifibox uses are the same on amd64 and
// arm64; past VM_SUSPEND_HALT the two enums differ.
const (
	VM_SUSPEND_RESET    = 1
	VM_SUSPEND_POWEROFF = 2
	VM_SUSPEND_HALT     = 3
)

// VM_SUSPEND_TRIPLEFAULT is amd64's fourth way a VM is suspended.
const VM_SUSPEND_TRIPLEFAULT = 4

// The ioctls of a VM's device node /dev/vmm/NAME that the conformance
// tests make (vmm_dev.h): VM_ACTIVATE_CPU takes struct vm_activate_cpu
// (an int, the vCPU's id), VM_REINIT nothing.
const (
	VM_REINIT       = 0x20007605
	VM_ACTIVATE_CPU = 0x8004765a
)
