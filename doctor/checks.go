package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/legacy"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
)

// checks are doctor's checks in the order a user would fix what they find;
// a later check may use what an earlier one read.
var checks = []func(*doctor){
	(*doctor).shellImplementation,
	(*doctor).vmManager,
	(*doctor).securelevel,
	(*doctor).lastFailure,
	(*doctor).vmm,
	(*doctor).iommu,
	(*doctor).bhyve,
	(*doctor).firmware,
	(*doctor).images,
	(*doctor).configFiles,
	(*doctor).devices,
	(*doctor).rcConf,
	(*doctor).otherVMs,
	(*doctor).suspendHook,
	(*doctor).logFile,
}

// doctor is one run of the checks.
type doctor struct {
	h        *host.Host
	found    []Finding
	vmmUp    bool                // vmm is loaded
	maxCPU   int                 // hw.vmm.maxcpu, 0 when unknown
	core     *config.Core        // nil when it cannot be used
	bhyveCfg *config.Bhyve       // nil when it cannot be used
	uds      *config.UDSPassthru // nil when absent or invalid
	devs     []host.PCIDevice    // the passthru devices present
	rc       *RCConf
}

// Check runs every check on the host and gives the findings in order.
func Check(h *host.Host) []Finding {
	d := &doctor{h: h}
	d.rc = ReadRCConf(h.Paths)
	for _, check := range checks {
		check(d)
	}
	return d.found
}

func (d *doctor) add(status Status, what, detail, fix string) {
	d.found = append(d.found, Finding{Status: status, What: what, Detail: detail, Fix: fix})
}

// lastFailure tells of the guest's last failure, as the VM manager
// recorded it, until a start gets the guest running again.
func (d *doctor) lastFailure() {
	const what = "last failure"
	f, err := manager.ReadLastFailure(d.h.Paths.RunDir)
	switch {
	case err != nil:
		d.add(Warn, what, err.Error(), "")
	case f != nil:
		detail := f.String()
		for _, line := range f.Bhyve {
			detail += "\nbhyve: " + line
		}
		d.add(Warn, what, detail, "`wifibox log` shows what led to it, and the checks below what on the host may cause it; "+
			"it is forgotten once a start gets the guest running")
	}
}

// shellImplementation warns when the shell implementation of wifibox still
// runs a guest, as after an upgrade over a running one.
func (d *doctor) shellImplementation() {
	const what = "shell implementation"
	ours, _, err := manager.Running(d.h.Paths.RunDir)
	var g legacy.Guest
	if err == nil {
		g, err = legacy.Find(d.h.Procs, ours)
	}
	switch {
	case err != nil:
		d.add(Warn, what, fmt.Sprintf("cannot look for its processes: %v", err), "")
	case g.Found():
		d.add(Warn, what, "still runs: "+g.String(),
			"`service wifibox restart` stops it the way it stops and starts the guest under this wifibox")
	} // nothing to say when it does not run: the usual case
}

// securelevel checks kern.securelevel: above 0 the kernel refuses what a
// start does, each with EPERM: kldload and kldunload (sys/kern/
// kern_linker.c kern_kldload, securelevel_gt), opening /dev/pci for
// writing (sys/dev/pci/pci_user.c pci_open), and bhyve's opening of
// /dev/io and /dev/mem for PCI pass-through (sys/dev/io/iodev.c ioopen,
// sys/dev/mem/memdev.c memopen). It cannot be lowered while the system
// runs (init(8)).
func (d *doctor) securelevel() {
	const what = "securelevel"
	level, err := d.h.Kernel.SysctlInt("kern.securelevel")
	switch {
	case err != nil:
		d.add(Warn, what, err.Error(), "")
	case level > 0:
		d.add(Fail, what, fmt.Sprintf("kern.securelevel=%d: above 0 the kernel refuses loading modules, binding the card to ppt and PCI pass-through (EPERM)", level),
			`set kern_securelevel_enable="NO" in `+filepath.Join(d.h.Paths.Root, "etc/rc.conf")+" and reboot (a securelevel cannot be lowered while the system runs)")
	default:
		d.add(OK, what, fmt.Sprintf("kern.securelevel=%d", level), "")
	}
}

// vmManager checks that a running VM manager answers on its control
// socket, as status needs it to: one that is stopped (SIGSTOP) or hung
// fails status, wait and stop's orderly path. Nothing is said when none
// runs.
func (d *doctor) vmManager() {
	const what = "VM manager"
	dir := d.h.Paths.RunDir
	pid, _, err := manager.Running(dir)
	if err != nil {
		d.add(Fail, what, err.Error(), d.readFix(err, "remove what is named, then wifibox start"))
		return
	}
	if pid == 0 {
		return
	}
	st, err := manager.Query(dir, false)
	if err == nil {
		d.add(OK, what, fmt.Sprintf("PID %d answers (stage %s)", pid, st.Stage), "")
		return
	}
	if now, _, rerr := manager.Running(dir); rerr == nil && now == 0 {
		return // it ended meanwhile
	}
	d.add(Fail, what, fmt.Sprintf("PID %d does not answer on its control socket (%v); it may be stopped or hung", pid, err),
		d.readFix(err, fmt.Sprintf("kill -CONT %d if it was stopped; otherwise wifibox stop kills it and cleans up", pid)))
}

const whatVMM = "CPU virtualization"

// vmm checks that vmm is loaded, or can be loaded at start from the file
// wifibox expects it in.
func (d *doctor) vmm() {
	k := d.h.Kernel
	if arch, err := k.SysctlString("hw.machine_arch"); err == nil {
		if err := bhyve.ArchSupported(arch); err != nil {
			d.add(Fail, whatVMM, err.Error(), "run wifibox on an amd64 machine")
			return
		}
	}
	m, err := k.Module("vmm")
	if err != nil {
		d.add(Fail, whatVMM, err.Error(), d.readFix(err, "check that the kernel is FreeBSD's, 13.5 or later"))
		return
	}
	file, ferr := kmod.ModuleFile(k, "vmm")
	if !m.Present {
		switch {
		case ferr != nil:
			d.add(Fail, whatVMM, "vmm is not loaded and its file cannot be found: "+ferr.Error(),
				"set kern.module_path to the directories of the kernel's modules, /boot/kernel first")
		case !isFile(file):
			d.add(Fail, whatVMM, "vmm is not loaded and "+file+" does not exist",
				"restore "+file+" from FreeBSD's base system (freebsd-update fetch install), or put the directory holding vmm.ko first in kern.module_path")
		default:
			d.add(OK, whatVMM, "vmm is not loaded, wifibox start loads "+file, "")
		}
		return
	}
	d.vmmUp = true
	maxCPU, err := k.SysctlInt("hw.vmm.maxcpu")
	if err != nil {
		d.add(Fail, whatVMM, "vmm is loaded but hw.vmm.maxcpu cannot be read: "+err.Error(),
			"kldunload vmm, then wifibox start loads it again")
		return
	}
	d.maxCPU = int(maxCPU)
	if ferr == nil && m.File != "" && filepath.Clean(m.File) != filepath.Clean(file) {
		d.add(Warn, whatVMM, fmt.Sprintf("vmm is loaded from %s, not %s; wifibox start replaces it while its VM does not exist, which fails while other VMs run", m.File, file),
			"kldunload vmm while no VM runs")
		return
	}
	d.add(OK, whatVMM, fmt.Sprintf("vmm is loaded, hw.vmm.maxcpu=%d", maxCPU), "")
}

// iommu judges the IOMMU as start does (kmod.CheckIOMMU); before vmm is
// loaded, the loader tunables vmm will read are checked too.
func (d *doctor) iommu() {
	const what = "IOMMU"
	v := kmod.CheckIOMMU(d.h.Kernel, filepath.Join(d.h.Paths.Root, "boot/loader.conf"))
	switch {
	case v.Problem != "":
		d.add(Fail, what, v.Problem+", PCI pass-through cannot work", v.Fix)
	case !d.vmmUp:
		d.iommuBeforeVMM(v)
	case v.Err != nil:
		d.add(Warn, what, "cannot be told: "+v.Err.Error(), d.readFix(v.Err, "check that the firmware enables the IOMMU (VT-d or AMD-Vi)"))
	default:
		d.add(OK, what, v.Detail, "")
	}
}

// iommuFix tells how to enable the IOMMU for the host's CPU (hw.model), or
// for both vendors when the model does not tell.
func (d *doctor) iommuFix() string {
	loaderConf := filepath.Join(d.h.Paths.Root, "boot/loader.conf")
	amd := "add hw.vmm.amdvi.enable=1 to " + loaderConf + " and reboot"
	intel := "enable VT-d in the firmware settings and reboot"
	model, _ := d.h.Kernel.SysctlString("hw.model")
	switch {
	case strings.Contains(model, "AMD"):
		return amd
	case strings.Contains(model, "Intel"):
		return intel
	}
	return "on AMD, " + amd + "; on Intel, " + intel
}

// bhyve checks that bhyve runs and has virtio-9p, which the guest's
// configuration and run-time directories are shared through.
func (d *doctor) bhyve() {
	program := d.h.Paths.Bhyve
	if cfg, _, err := config.LoadBhyve(d.h.Paths.BhyveConf(), 0); err == nil {
		if program, err = cfg.ProgramPath(d.h.Paths); err != nil {
			d.add(Fail, "bhyve", err.Error(), "correct the bhyve line of "+d.h.Paths.BhyveConf()+", or remove it to run the base system's bhyve")
			d.add(Skip, "bhyve virtio-9p", "bhyve cannot run (see above)", "")
			return
		}
	}
	ems, err := d.h.Launcher.Emulations(program)
	if err != nil {
		d.add(Fail, "bhyve", err.Error(), "install FreeBSD's base system bhyve(8) at "+program+" (FreeBSD 13.0 or later, amd64)")
		d.add(Skip, "bhyve virtio-9p", "bhyve cannot run (see above)", "")
		return
	}
	d.add(OK, "bhyve", program, "")
	if !slices.Contains(ems, "virtio-9p") {
		d.add(Fail, "bhyve virtio-9p", program+" lacks the virtio-9p (VirtFS) emulation", "update FreeBSD to 13.0 or later")
		return
	}
	d.add(OK, "bhyve virtio-9p", "", "")
}

func (d *doctor) firmware() {
	const what = "UEFI firmware"
	if p := d.h.Paths.Firmware; !isFile(p) {
		d.add(Fail, what, p+" does not exist", "pkg install bhyve-firmware")
		return
	}
	d.add(OK, what, d.h.Paths.Firmware, "")
}

// images checks the guest images and gives their checksums.
func (d *doctor) images() {
	p := d.h.Paths
	for _, image := range []string{p.ESPImage(), p.RootImage()} {
		what := "guest image " + filepath.Base(image)
		sum, err := Checksum(image)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.add(Fail, what, image+" does not exist",
				"reinstall the guest package (pkg install -f wifibox-alpine), which puts its images in "+p.GuestRoot)
		case err != nil:
			d.add(Fail, what, err.Error(), "reinstall the guest package (pkg install -f wifibox-alpine)")
		default:
			d.add(OK, what, "sha256 "+sum, "")
		}
	}
}

// configFiles loads each configuration file the way wifibox does.
func (d *doctor) configFiles() {
	p := d.h.Paths
	core, warnings, err := config.LoadCore(p.CoreConf())
	if d.configFile(p.CoreConf(), "", warnings, err) {
		d.core = &core
		d.add(OK, "recovery", core.RecoveryText(), "")
	}

	cfg, warnings, err := config.LoadBhyve(p.BhyveConf(), d.maxCPU)
	note := "cpus is checked against hw.vmm.maxcpu once vmm is loaded"
	if d.maxCPU > 0 {
		note = ""
	}
	if d.configFile(p.BhyveConf(), note, warnings, err) {
		d.bhyveCfg = &cfg
	}

	if _, err := manager.AppConfig(p); err != nil {
		d.add(Warn, "app_config", err.Error(), manager.AppConfigFix(p))
	}
	// As start checks it: the file, and its sockets' users, groups and
	// paths.
	uds, present, warnings, err := manager.RelayConfig(p)
	if !present {
		d.add(OK, "uds_passthru.conf", "not present, no control socket is relayed", "")
		return
	}
	var cerr *config.Error
	if d.configFile(p.UDSPassthruConf(), "", warnings, err) || !errors.As(err, &cerr) {
		d.uds = &uds // its network is right even when a socket is not
	}
}

// configFile adds the findings of one configuration file and tells whether
// it can be used.
func (d *doctor) configFile(path, note string, warnings []string, err error) bool {
	what := filepath.Base(path)
	if err != nil {
		fix := "correct " + path + " as the problem says (wifibox(8) describes the settings)"
		switch {
		case errors.Is(err, config.ErrMissing):
			fix = "create " + path + " from the sample, " + path + ".sample"
		case errors.Is(err, config.ErrUnsafe):
			fix = "chown root " + path + " && chmod go-w " + path
		}
		d.add(Fail, what, err.Error(), fix)
		return false
	}
	for _, w := range warnings {
		d.add(Warn, what, w, "remove the setting from "+path+", or correct its name")
	}
	d.add(OK, what, note, "")
	return true
}

const whatDevices = "passthru devices"

// devices checks that the devices of bhyve.conf are present, and which
// driver holds each.
func (d *doctor) devices() {
	if d.bhyveCfg == nil {
		d.add(Skip, whatDevices, "bhyve.conf cannot be used (see above)", "")
		return
	}
	sels := d.bhyveCfg.Passthru
	if len(sels) == 0 {
		d.add(Warn, whatDevices, "bhyve.conf passes no device through, so the guest has no Wi-Fi card",
			`set passthru="BUS/SLOT/FUNCTION" of the Wi-Fi card in `+d.h.Paths.BhyveConf())
		return
	}
	devs, ids, err := ppt.List(d.h.PCI, d.h.Paths.PCIIDs)
	if err != nil {
		d.add(Fail, whatDevices, err.Error(), d.readFix(err, "check that /dev/pci exists (the kernel's pci(4) device)"))
		return
	}
	if err := ppt.Check(devs, sels, ids); err != nil {
		d.add(Fail, whatDevices, err.Error(), "set passthru in "+d.h.Paths.BhyveConf()+" to the bus/slot/function of the Wi-Fi card")
		return
	}
	for _, line := range ppt.Describe(devs, sels, ids) {
		d.add(OK, "passthru device", line, "")
	}
	pid, _, err := manager.Running(d.h.Paths.RunDir)
	running := err == nil && pid != 0
	for _, sel := range sels {
		if dev, ok := ppt.Find(devs, sel); ok {
			d.devs = append(d.devs, dev)
			d.nativeDriver(dev, running)
		}
	}
}

// nativeDriver tells whether a driver other than ppt holds the device, or
// would take it back: a native driver that devmatch loads at boot takes
// the card whenever wifibox does not hold it.
func (d *doctor) nativeDriver(dev host.PCIDevice, guestRuns bool) {
	what := fmt.Sprintf("native driver of %s (%s)", dev.Selector, dev.Selector.BSF())
	switch {
	case !dev.Attached:
		d.add(OK, what, "none attached", "")
		return
	case ppt.OnPPT(dev) && guestRuns:
		d.add(OK, what, "none, the guest holds the device through "+dev.DriverUnit(), "")
		return
	case ppt.OnPPT(dev):
		d.add(OK, what, "none, "+dev.DriverUnit()+" holds the device", "")
		return
	}
	module, _, err := kmod.DriverModule(d.h.Kernel, dev.Driver)
	if err != nil { // built in, or a file of another name: the usual name
		module = ppt.NativeModule(dev.Driver)
	}
	add := d.rc.blocklist(module)
	switch {
	case guestRuns:
		fix := "kldunload " + module + " && wifibox restart vmm"
		if add != "" {
			fix = add + "\nthen: " + fix
		}
		d.add(Fail, what, dev.DriverUnit()+" took the device while the guest runs", fix)
	case add == "":
		_, file, _ := d.rc.Value("devmatch", "devmatch_blocklist")
		d.add(OK, what, fmt.Sprintf("%s holds the device until wifibox starts; %s is blocklisted in %s", dev.DriverUnit(), module, file), "")
	default:
		d.add(Warn, what, fmt.Sprintf("%s holds the device and %s is not blocklisted, so it takes the card back whenever wifibox lets it go (stop, resume, boot)",
			dev.DriverUnit(), module), add)
	}
}

// logFile checks that wifibox can append to its log, without creating it.
func (d *doctor) logFile() {
	const what = "log file"
	path := d.h.Paths.Log
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|unix.O_NONBLOCK, 0)
	if err == nil {
		f.Close()
		d.add(OK, what, path, "")
		return
	}
	dir := filepath.Dir(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := unix.Access(dir, unix.W_OK); err != nil {
			d.add(Fail, what, fmt.Sprintf("%s does not exist and %s is not writable: %v", path, dir, err),
				d.readFix(err, "make sure "+dir+" exists on a writable file system"))
			return
		}
		d.add(OK, what, path+" (created at the first command)", "")
		return
	}
	d.add(Fail, what, err.Error(), d.readFix(err, path+" must be a regular file on a writable file system"))
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
