// Package trace is the vocabulary of the privileged operations wifibox
// makes, one line each, as the simulated host's trace (DIR/trace.log)
// records them and `wifibox -n` prints them: `kldload FILE`,
// `vm_create NAME`, `if_create TYPE NAME`, .... Both write their lines
// with these functions, so the two read alike.
package trace

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// Kldload is the loading of a module file.
func Kldload(file string) string { return "kldload " + file }

// Kldunload is the unloading of the file that provides a module, by the
// module's name.
func Kldunload(module string) string { return "kldunload " + module }

// VMCreate is the creation of a VM.
func VMCreate(name string) string { return "vm_create " + name }

// VMSuspend is the suspension of a VM.
func VMSuspend(name string, how host.SuspendHow) string {
	return fmt.Sprintf("vm_suspend %s %s", name, how)
}

// VMDestroy is the destruction of a VM.
func VMDestroy(name string) string { return "vm_destroy " + name }

// The words of the two devctl requests, for a trace line the kernel
// model completes as it reads the request (sim/kern_pci.go).
const (
	OpSetDriver   = "devctl_set_driver"
	OpClearDriver = "devctl_clear_driver"
)

// SetDriver is the binding of a device (pci0:3:0:0, ppt0) to a driver.
func SetDriver(device, driver string) string { return OpSetDriver + " " + device + " " + driver }

// ClearDriver is the release of a device from its fixed driver.
func ClearDriver(device string) string { return OpClearDriver + " " + device }

// IfCreate is the creation of an interface of a kind; name is the one the
// kernel gave it, "" when it gave none.
func IfCreate(kind, name string) string {
	if name == "" {
		return "if_create " + kind
	}
	return "if_create " + kind + " " + name
}

// IfRename is the renaming of an interface.
func IfRename(old, new string) string { return fmt.Sprintf("if_rename %s %s", old, new) }

// IfDestroy is the destruction of an interface.
func IfDestroy(name string) string { return "if_destroy " + name }

// IfUp is the setting of IFF_UP on an interface.
func IfUp(name string) string { return "if_up " + name }

// IfDown is the clearing of IFF_UP on an interface.
func IfDown(name string) string { return "if_down " + name }

// IfDescr is the setting of an interface's description.
func IfDescr(name, text string) string { return fmt.Sprintf("if_descr %s %s", name, text) }

// BridgeAdd is the addition of a member to a bridge.
func BridgeAdd(bridge, member string) string { return fmt.Sprintf("bridge_add %s %s", bridge, member) }

// BridgeDel is the removal of a member from a bridge.
func BridgeDel(bridge, member string) string { return fmt.Sprintf("bridge_del %s %s", bridge, member) }

// Exec is the start of bhyve with its command line.
func Exec(argv []string) string { return "exec " + strings.Join(argv, " ") }

// Run is the start of the one other program wifibox runs,
// /etc/pccard_ether (host.Launcher.Configure), with its command line.
func Run(argv []string) string { return "run " + strings.Join(argv, " ") }

// Signal is a signal sent to a process.
func Signal(pid int, sig syscall.Signal) string {
	return fmt.Sprintf("signal %d %s", pid, unix.SignalName(sig))
}
