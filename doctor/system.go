package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
)

// LoaderTunable gives a tunable of loader.conf(5) of the host under root
// and the file that sets it, reading the files in the order the loader does (stand/defaults/
// loader.conf: loader_conf_files /boot/device.hints /boot/loader.conf,
// then the *.conf files of loader_conf_dirs /boot/loader.conf.d, then
// local_loader_conf_files /boot/loader.conf.local); the last setting wins.
// A line is name=value, the value maybe quoted, # starting a comment.
func LoaderTunable(root, name string) (value, file string, ok bool) {
	boot := filepath.Join(root, "boot")
	files := []string{filepath.Join(boot, "device.hints"), filepath.Join(boot, "loader.conf")}
	confs, _ := filepath.Glob(filepath.Join(boot, "loader.conf.d", "*.conf"))
	files = append(append(files, confs...), filepath.Join(boot, "loader.conf.local"))
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		lines := bufio.NewScanner(f)
		for lines.Scan() {
			line, _, _ := strings.Cut(lines.Text(), "#")
			n, v, found := strings.Cut(strings.TrimSpace(line), "=")
			if found && strings.TrimSpace(n) == name {
				value, file, ok = strings.Trim(strings.TrimSpace(v), `"`), path, true
			}
		}
		f.Close()
	}
	return value, file, ok
}

// iommuBeforeVMM checks, while vmm is not loaded and the hw.vmm sysctls
// do not exist yet, the loader tunables that vmm reads when it loads, after
// what the firmware's ACPI tables told (v). AMD-Vi is off unless
// hw.vmm.amdvi.enable=1 or hw.vmm.amdvi_enable=1 (sys/amd64/vmm/amd/
// amdvi_hw.c: SYSCTL_INT CTLFLAG_RDTUN and TUNABLE_INT of
// amdvi_enable_user, 0 by default); no IOMMU is used with
// hw.vmm.iommu.enable=0 (sys/amd64/vmm/io/iommu.c).
func (d *doctor) iommuBeforeVMM(v kmod.IOMMU) {
	const what = "IOMMU"
	model, _ := d.h.Kernel.SysctlString("hw.model")
	if v, file, ok := LoaderTunable(d.h.Paths.Root, "hw.vmm.iommu.enable"); ok && v == "0" {
		d.add(Fail, what, "hw.vmm.iommu.enable=0 in "+file+" turns PCI pass-through off",
			"remove hw.vmm.iommu.enable=0 from "+file+" and reboot")
		return
	}
	found := v.Detail
	if v.Err != nil {
		found = "whether the firmware enables it cannot be told (" + v.Err.Error() + ")"
	}
	if strings.Contains(model, "AMD") {
		// amdvi_hw.c reads both the sysctl's tunable and an older name.
		for _, name := range []string{"hw.vmm.amdvi.enable", "hw.vmm.amdvi_enable"} {
			if val, file, ok := LoaderTunable(d.h.Paths.Root, name); ok && val == "1" {
				d.add(OK, what, "AMD CPU, "+name+"=1 in "+file+"; "+found, "")
				return
			}
		}
		d.add(Fail, what, "AMD CPU and hw.vmm.amdvi.enable=1 is not set in loader.conf, so PCI pass-through will not work",
			d.iommuFix())
		return
	}
	if v.Err != nil {
		d.add(Skip, what, found+"; vmm checks it at the first start", "")
		return
	}
	d.add(OK, what, found, "")
}

// otherVMs checks for VMs other than wifibox's (/dev/vmm/NAME): while they
// exist vmm.ko cannot be unloaded, so restart vmm, stop vmm and the
// recoveries that use them only restart the guest in a new VM and warn.
func (d *doctor) otherVMs() {
	const what = "other VMs"
	others, err := bhyve.OtherVMs(d.h.Paths)
	if err != nil {
		d.add(Warn, what, err.Error(), d.readFix(err, "check /dev/vmm by hand"))
		return
	}
	if len(others) == 0 {
		d.add(OK, what, "none", "")
		return
	}
	recovery := config.Recovery("")
	if d.core != nil {
		recovery = d.core.Recovery
	}
	detail := fmt.Sprintf("%s exist: wifibox restart vmm and stop vmm cannot unload vmm.ko while they do (they warn, and restart the guest in a new VM)", strings.Join(others, ", "))
	switch recovery {
	case config.RecoveryRestartVMM, config.RecoverySuspendVMM:
		d.add(Warn, what, detail+", and neither can recovery="+string(recovery),
			"set recovery=suspend_guest in "+d.h.Paths.CoreConf()+", which leaves vmm.ko and the other VMs alone")
	default:
		d.add(OK, what, detail+"; recovery="+string(recovery)+" does not need it", "")
	}
}

// releaseWithSuspend is the kern.osreldate of FreeBSD 14.0 from which on
// the system runs the rc.d scripts' suspend command itself: the one the
// port (packaging/freebsd/net/wifibox-core/Makefile) installs the devd
// hook below.
const releaseWithSuspend = 1400090

// suspendHook checks the devd(8) hook of PREFIX/etc/devd/wifibox.conf: on
// 14.0 and later the system runs `service wifibox suspend` by itself, so
// the hook runs it twice; before 14.0 only the hook runs it, which matters
// to the recoveries that do something on suspend.
func (d *doctor) suspendHook() {
	const what = "suspend hook"
	hook := filepath.Join(filepath.Dir(d.h.Paths.ConfDir), "devd", host.Service+".conf")
	_, err := os.Stat(hook)
	installed := err == nil
	release, rerr := d.h.Kernel.SysctlInt("kern.osreldate")
	switch {
	case rerr != nil:
		d.add(Skip, what, "kern.osreldate cannot be read: "+rerr.Error(), "")
	case release >= releaseWithSuspend && installed:
		d.add(Warn, what, fmt.Sprintf("%s is installed, but FreeBSD %d runs wifibox's suspend itself: suspend runs twice", hook, release),
			"rm "+hook+" && service devd restart")
	case release >= releaseWithSuspend:
		d.add(OK, what, "FreeBSD runs wifibox's suspend and resume itself", "")
	case installed:
		d.add(OK, what, hook+" runs wifibox's suspend", "")
	case d.core != nil && (d.core.Recovery == config.RecoverySuspendGuest || d.core.Recovery == config.RecoverySuspendVMM):
		d.add(Warn, what, fmt.Sprintf("before FreeBSD 14.0 only the devd hook runs wifibox's suspend, which recovery=%s needs", d.core.Recovery),
			fmt.Sprintf("cp %s.sample %s && service devd restart", hook, hook))
	default:
		d.add(OK, what, "not installed; recovery does nothing on suspend", "")
	}
}

// readFix is the fix for an error reading what doctor checks: root reads
// what a user may not; root gets the fix for the problem.
func (d *doctor) readFix(err error, otherwise string) string {
	if (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && os.Geteuid() != 0 {
		return "run wifibox doctor as root"
	}
	return otherwise
}
