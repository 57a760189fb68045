package sim

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/guestfake"
)

// bhyveArgs is what the simulated bhyve takes from its command line.
type bhyveArgs struct {
	flags   string // the options without argument given, e.g. "AHPSuw"
	cpus    string
	com1    string
	bootrom string
	slots   []string // the -s specifications
	name    string   // the VM's name
}

// parseBhyveArgs parses bhyve's options and operand the way getopt(3) does
// with bhyve's option string.
func parseBhyveArgs(argv []string) (bhyveArgs, error) {
	var a bhyveArgs
	i := 0
	for ; i < len(argv) && len(argv[i]) > 1 && argv[i][0] == '-'; i++ {
		if argv[i] == "--" {
			i++
			break
		}
		for j := 1; j < len(argv[i]); j++ {
			opt := argv[i][j]
			at := strings.IndexByte(bhyve.Getopt, opt)
			if opt == ':' || at < 0 {
				return a, fmt.Errorf("illegal option -- %c", opt)
			}
			if at+1 == len(bhyve.Getopt) || bhyve.Getopt[at+1] != ':' {
				a.flags += string(opt)
				continue
			}
			value := argv[i][j+1:]
			if value == "" {
				if i++; i == len(argv) {
					return a, fmt.Errorf("option requires an argument -- %c", opt)
				}
				value = argv[i]
			}
			if err := a.set(opt, value); err != nil {
				return a, err
			}
			break
		}
	}
	if len(argv)-i != 1 {
		return a, errors.New("usage: bhyve [-" + bhyve.Flags + "] [-c vcpus] [-l lpc] [-m mem] [-s pci] vmname")
	}
	a.name = argv[i]
	return a, nil
}

func (a *bhyveArgs) set(opt byte, value string) error {
	switch opt {
	case bhyve.OptCPUs:
		a.cpus = value
	case bhyve.OptSlot:
		a.slots = append(a.slots, value)
	case bhyve.OptLPC:
		device, path, _ := strings.Cut(value, ",")
		switch device {
		case "com1":
			a.com1 = path
		case "bootrom":
			a.bootrom, _, _ = strings.Cut(path, ",")
		default:
			return fmt.Errorf("invalid lpc device configuration '%s'", value)
		}
	}
	return nil
}

// bhyveProc is a running simulated bhyve (the name bhyve is the bhyve
// package's, whose command line the simulated one reads).
type bhyveProc struct {
	s    *system
	args bhyveArgs
	pid  int
	// suspended is how the VM was suspended, when bhyve exits through a
	// suspend (vmexit_suspend).
	suspended host.SuspendHow
	// tapOpened, when set, is called once bhyve has opened its tap (or
	// set up its devices, without one): the shell implementation's
	// simulation reports readiness to its script with it.
	tapOpened func()
}

// BhyveMain runs the simulated bhyve: args are the host's directory and
// bhyve's argv. Like bhyve(8) it exits 0 when the guest rebooted, 1 when it
// powered off, 2 when it halted and 4 on errors, printing them on stderr.
// While it sets up its devices it opens the tap of its network device
// through the kernel model, whose link comes up: what tells launch's
// Launcher that it is ready.
func BhyveMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "bhyve: usage: "+BhyveCommand+" DIR bhyve-argv...")
		return host.ExitError
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bhyve: %v\n", err)
		return host.ExitError
	}
	a, err := parseBhyveArgs(args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bhyve: %v\n", err)
		return host.ExitError
	}
	b := &bhyveProc{s: &system{dir: dir}, args: a, pid: os.Getpid()}
	return b.main()
}

// run boots the guest and runs it until bhyve exits, giving the exit
// status. The guest comes up (its logs written, its control sockets
// served) guest_up_after_ms after bhyve has set up its devices, and
// associates wifi_after_ms later.
func (b *bhyveProc) run() int {
	events := make(chan os.Signal, 8)
	signal.Notify(events, unix.SIGTERM, vmChanged)
	var f faults
	err := b.s.run("bhyve", internal, b.open)
	// The devices up to the tap's are set up, and the tap opened, before
	// the later ones (the passthru device): a failure there comes after
	// the tap's link came up, as on FreeBSD.
	early, late := b.args.slots, []string(nil)
	if i := slices.IndexFunc(b.args.slots, func(spec string) bool { return tapOf(spec) != "" }); i >= 0 {
		early, late = b.args.slots[:i+1], b.args.slots[i+1:]
	}
	if err == nil {
		err = b.s.run("bhyve", internal, func(t *txn) error {
			f = t.faults
			return b.boot(t, early, false)
		})
	}
	if err == nil && b.tapOpened != nil {
		b.tapOpened()
	}
	if err == nil {
		err = b.s.run("bhyve", internal, func(t *txn) error { return b.boot(t, late, true) })
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return host.ExitError
	}
	if b.args.com1 != "" {
		c, err := openConsole(b.args.com1)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bhyve: Unable to initialize backend '%s' for LPC device com1: %v\n", b.s.strip(b.args.com1), err)
			return host.ExitError
		}
		defer c.close()
	}
	// A VM suspended before its vCPUs ran is seen by their first vm_run.
	if code, done := b.vmChanged(); done {
		return code
	}
	fmt.Printf("bhyve: guest %s booting\n", b.args.name)
	// A VM suspended or destroyed before this bhyve ran it (its pid was
	// not the VM's yet, so no signal told it) ends the first VM_RUN: the
	// vCPU's entry sees vm->suspend set and exits VM_EXITCODE_SUSPENDED
	// (freebsd-src stable/14:sys/amd64/vmm/intel/vmx.c vmx_run,
	// vcpu_suspended), which bhyve's vmexit_suspend turns into its exit.
	if code, done := b.vmChanged(); done {
		return code
	}
	fmt.Println("guest: Linux version 6.6.21-wifibox (simulated) #1 SMP")
	g := &simGuest{b: b}
	defer g.stop()

	var poweroff, guestExit, wifi, hang <-chan time.Time
	if f.guestExitAfter > 0 {
		guestExit = time.After(f.guestExitAfter)
	}
	guestUp := time.After(f.guestUpAfter)
	for {
		select { // a guest that exits does so before it does anything else
		case <-guestExit:
			return b.guestExit(f.guestExitStatus)
		default:
		}
		select {
		case <-guestUp:
			if err := g.up(); err != nil {
				fmt.Fprintf(os.Stderr, "guest: wpa_supplicant: %v\n", err)
			}
			if !f.wifiNever {
				wifi = time.After(f.wifiAfter)
			}
			if f.wpaHangAfter > 0 {
				hang = time.After(f.wpaHangAfter)
			}
		case <-wifi:
			g.associate()
		case <-hang:
			g.hang()
		case sig := <-events:
			if sig == vmChanged {
				if code, done := b.vmChanged(); done {
					return code
				}
				continue
			}
			f, err := readFaults(b.s.dir)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bhyve: %v\n", err)
			}
			if f.ignorePowerButton {
				fmt.Println("guest: power button pressed, ignored")
			} else if poweroff == nil {
				fmt.Println("guest: power button pressed, powering off")
				poweroff = time.After(f.poweroffDelay)
			}
		case <-poweroff:
			fmt.Println("guest: reboot: Power down")
			b.suspended = host.SuspendPowerOff
			return host.ExitPowerOff
		case <-guestExit:
			return b.guestExit(f.guestExitStatus)
		}
	}
}

// open creates the VM, or re-initialises an existing one, as bhyve does
// (usr.sbin/bhyve/bhyverun.c, do_open: 13.x and 14.x take vm_create's
// EEXIST and call vm_reinit when booting from a ROM, `perror("vm_reinit");
// exit(4)` when it fails; 15.0 opens with vm_openf(VMMAPI_OPEN_REINIT),
// `err(4, "vm_openf")`, and creates only on ENOENT). VM_REINIT answers
// EBUSY unless every active vCPU is suspended (reinitVM): while another
// bhyve runs the VM, and after a bhyve that ended other than through a VM
// suspend.
func (b *bhyveProc) open(t *txn) error {
	err := t.createVM(b.args.name)
	if !errors.Is(err, unix.EEXIST) {
		if err != nil {
			return fmt.Errorf("vm_create: %w", err)
		}
		return nil
	}
	if err := t.reinitVM(t.vm(b.args.name)); err != nil {
		if t.faults.osreldate >= 1500000 {
			return fmt.Errorf("bhyve: vm_openf: %w", err)
		}
		return fmt.Errorf("vm_reinit: %w", err)
	}
	return nil
}

// boot checks the configuration against the host the way bhyve's device
// initialisation does: first (last false) the VM, its firmware and vCPUs
// and the devices of the slots given, then (last true) the devices of the
// others and the console; when all fit, it marks the VM as run by this
// bhyve.
func (b *bhyveProc) boot(t *txn, slots []string, last bool) error {
	v := t.vm(b.args.name)
	if v == nil {
		return fmt.Errorf("vm_open: %w", unix.ENOENT)
	}
	if !last {
		if b.args.bootrom == "" {
			return errors.New("no bootrom was configured")
		}
		if _, err := os.Stat(b.args.bootrom); err != nil {
			return fmt.Errorf("bootrom %s: %w", b.s.strip(b.args.bootrom), unix.ENOENT)
		}
		if n, err := strconv.Atoi(b.args.cpus); b.args.cpus != "" && (err != nil || n < 1 || n > maxCPU) {
			return fmt.Errorf("invalid vCPU count '%s'", b.args.cpus)
		}
	}
	for _, spec := range slots {
		if err := b.device(t, spec); err != nil {
			return err
		}
	}
	if !last {
		return nil
	}
	if b.args.com1 != "" && !t.present("nmdm") {
		return fmt.Errorf("Unable to initialize backend '%s' for LPC device com1", b.s.strip(b.args.com1))
	}
	// main starts the vCPUs after init_pci (bhyve_start_vcpu,
	// fbsdrun_addcpu: vm_activate_cpu).
	v.Pid, v.Active = b.pid, true
	return nil
}

// tapOf gives the tap of a network device's -s specification, or "".
func tapOf(spec string) string {
	parts := strings.Split(spec, ",")
	if len(parts) > 2 && (parts[1] == "virtio-net" || parts[1] == "e1000") {
		return parts[2]
	}
	return ""
}

// device checks one -s slot[:func],emulation[,config] specification.
func (b *bhyveProc) device(t *txn, spec string) error {
	parts := strings.Split(spec, ",")
	if len(parts) < 2 {
		return fmt.Errorf("invalid PCI slot specification '%s'", spec)
	}
	emul, conf := parts[1], ""
	if len(parts) > 2 {
		conf = parts[2]
	}
	if !slices.Contains(emulationsOf(t.faults), emul) {
		return fmt.Errorf("pci slot %s: unknown device \"%s\"", parts[0], emul)
	}
	stat := func(what, path string) error {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %s: %w", what, b.s.strip(path), unix.ENOENT)
		}
		return nil
	}
	switch emul {
	case "virtio-blk":
		return stat("virtio-blk: Could not open backing file", conf)
	case "virtio-9p":
		_, path, _ := strings.Cut(conf, "=")
		return stat("virtio-9p: cannot open shared directory", path)
	case "virtio-net", "e1000":
		// tap_init (usr.sbin/bhyve/net_backends.c) opens /dev/NAME
		// O_RDWR: tunopen, whose link-up message makes it ready.
		if err := tapOpen(t, conf); err != nil {
			return fmt.Errorf("%s: Could not open backend device %s: %w", emul, conf, err)
		}
	case "passthru":
		return b.passthru(t, conf)
	}
	return nil
}

// passthru checks a passthru device given as bus/slot/function.
func (b *bhyveProc) passthru(t *txn, bsf string) error {
	var bus, slot, fn uint8
	if _, err := fmt.Sscanf(bsf, "%d/%d/%d", &bus, &slot, &fn); err != nil {
		return fmt.Errorf("passthru: invalid PCI BDF '%s'", bsf)
	}
	d := t.device(host.Selector{Bus: bus, Slot: slot, Function: fn})
	if d == nil || d.Driver != "ppt" || !d.Attached {
		return fmt.Errorf("passthru: PCI device at %s is not using the ppt(4) driver", bsf)
	}
	if strings.IndexByte(b.args.flags, bhyve.OptWired) < 0 {
		return errors.New("passthru: the guest memory must be wired (-S) for PCI passthrough")
	}
	// vmm.c vm_assign_pptdev: ENXIO when iommu_create_domain finds no
	// IOMMU: iommu.c iommu_init does nothing with hw.vmm.iommu.enable=0,
	// and fails without an ACPI DMAR table (vtd.c vtd_init) or without
	// IVHDs or hw.vmm.amdvi.enable=1 (amdvi_hw.c amdvi_init).
	if t.faults.iommuDisabled || t.faults.noIOMMU || (t.faults.cpuVendor == "amd" && !t.faults.amdviEnable) {
		return fmt.Errorf("passthru: vm_assign_pptdev %s: %w", bsf, unix.ENXIO)
	}
	t.st.IOMMUInitialized = true
	if t.faults.passthruRejected {
		// passthru_init (usr.sbin/bhyve/pci_passthru.c) warns when
		// vm_assign_pptdev fails, ppt_assign_device's EBUSY for a
		// device another VM owns, and main (bhyverun.c) exits 4 on
		// init_pci's error.
		// strerror(EBUSY) on FreeBSD is "Device busy" (lib/libc/gen/errlst.c).
		return fmt.Errorf("PCI device at %s is not using the ppt(4) driver\n"+
			"Device emulation initialization error: Device busy", bsf)
	}
	if v := t.vm(b.args.name); !slices.Contains(v.PPT, d.Selector) {
		v.PPT = append(v.PPT, d.Selector)
	}
	return nil
}

// suspendExit is bhyve's exit status for each way a VM is suspended
// (vmexit_suspend: bhyverun.c on 13.x, amd64/vmexit.c on 14.x and 15.0,
// the same in each copy read).
var suspendExit = map[host.SuspendHow]int{
	host.SuspendReset:    host.ExitReset,
	host.SuspendPowerOff: host.ExitPowerOff,
	host.SuspendHalt:     host.ExitHalt,
	suspendTripleFault:   host.ExitTripleFault,
}

// suspendTripleFault is how the trace names VM_SUSPEND_TRIPLEFAULT.
const suspendTripleFault host.SuspendHow = "triplefault"

// guestExit ends bhyve with the status the guest_exit_status knob gives:
// one of a suspend's (the guest rebooted, powered off, halted or triple
// faulted: the VM was suspended) or another (an error, which suspends
// nothing).
func (b *bhyveProc) guestExit(status int) int {
	fmt.Printf("guest: exited by itself (status %d)\n", status)
	for how, code := range suspendExit {
		if code == status {
			b.suspended = how
		}
	}
	return status
}

// destroyedExit is bhyve's exit status when its VM is destroyed under it:
// vm_run fails and vm_loop returns, after which fbsdrun_start_thread
// calls exit(1) on 13.x and 14.x and exit(4) on 15.0 ("the VM was
// destroyed asynchronously"): usr.sbin/bhyve/bhyverun.c, 13-era and
// 14-era copies, and the 15-era one with vm_openf.
func destroyedExit(osreldate int) int {
	if osreldate >= 1500000 {
		return host.ExitError
	}
	return host.ExitPowerOff
}

// vmChanged reads the VM's state after it was suspended or destroyed and
// tells whether bhyve exits, with which status. A suspend is handled by
// its vCPUs (vm_handle_suspend: each adds itself to the suspended set),
// then bhyve's vmexit_suspend exits with the status of the suspend.
func (b *bhyveProc) vmChanged() (code int, done bool) {
	err := b.s.run("bhyve", internal, func(t *txn) error {
		v := t.vm(b.args.name)
		switch {
		case v == nil:
			fmt.Fprintf(os.Stderr, "vm_run error -1, errno %d\n", int(unix.ENXIO))
			code, done = destroyedExit(t.faults.osreldate), true
		case v.Suspended != "":
			fmt.Printf("bhyve: VM suspended (%s)\n", v.Suspended)
			v.CPUsSuspended = v.Active
			b.suspended = v.Suspended
			code, done = suspendExit[v.Suspended], true
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return host.ExitError, true
	}
	return code, done
}

// main runs the guest and records how bhyve ended, giving its exit status.
func (b *bhyveProc) main() int {
	code := b.run()
	b.finish()
	return code
}

// finish records that this bhyve no longer runs the VM, and the suspend
// a guest that rebooted, powered off or halted went through: its vCPUs
// are suspended then. Any other end (an error, a signal) suspends
// nothing: the active vCPUs stay active.
func (b *bhyveProc) finish() {
	err := b.s.run("bhyve", internal, func(t *txn) error {
		v := t.vm(b.args.name)
		if v == nil || v.Pid != b.pid {
			return nil
		}
		v.Pid = 0
		if b.suspended != "" {
			if v.Suspended == "" {
				v.Suspended = b.suspended
			}
			v.CPUsSuspended = v.Active
		}
		return nil
	})
	if err == nil {
		// Its exit closes the taps it has open (tundtor).
		err = b.s.run("bhyve", internal, func(t *txn) error {
			for _, i := range t.st.Interfaces {
				if i.Opener == b.pid {
					t.closeTap(i)
				}
			}
			return nil
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// simGuest is the system the simulated guest runs: its logs, written into
// the exported run directory as the real guest's syslogd writes them, and
// its control sockets.
type simGuest struct {
	b        *bhyveProc
	messages *os.File
	ctrls    []*guestCtrl
}

// up writes the guest's boot logs and serves its control sockets on each
// port uds_passthru.conf names, at the guest's address 127.0.0.1, as the
// real guest reads that file from its configuration share (serveCtrl);
// wpa_supplicant scans until associate.
func (g *simGuest) up() error {
	p := g.b.s.paths()
	logDir := filepath.Join(p.RunAppliance(), "log")
	os.WriteFile(filepath.Join(logDir, "dmesg"), []byte("[    0.000000] Linux version 6.6.21-wifibox (simulated) #1 SMP\n"+
		"[    1.234567] iwlwifi 0000:00:06.0: Detected Intel(R) Wi-Fi 6 AX200\n"), 0o644)
	g.messages, _ = os.OpenFile(filepath.Join(logDir, "messages"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	g.log("syslogd started: BusyBox v1.36.1 (simulated)")
	uds, exists, _, err := config.LoadUDSPassthru(p.UDSPassthruConf())
	if err != nil || !exists {
		return err
	}
	for _, sock := range uds.Sockets {
		c, err := serveCtrl(sock.Path, sock.Port)
		if err != nil {
			return err
		}
		c.wpa.Scanning.Store(true)
		g.ctrls = append(g.ctrls, c)
		g.log(fmt.Sprintf("uds_passthru: control interface on port %d", sock.Port))
	}
	return nil
}

// associate makes wpa_supplicant complete its association: it tells its
// monitors, and logs it as wpa_supplicant -s does.
func (g *simGuest) associate() {
	for _, c := range g.ctrls {
		c.wpa.Scanning.Store(false)
		c.wpa.Event(guestfake.Connected)
	}
	g.log("wpa_supplicant: wlan0: CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 completed [id=0 id_str=]")
}

// hang makes wpa_supplicant stop answering.
func (g *simGuest) hang() {
	for _, c := range g.ctrls {
		c.wpa.Mute.Store(true)
	}
}

// log appends a line to the guest's syslog file.
func (g *simGuest) log(line string) {
	if g.messages != nil {
		fmt.Fprintf(g.messages, "%s wifibox daemon.info %s\n", time.Now().Format(time.Stamp), line)
	}
}

// stop ends the guest's services.
func (g *simGuest) stop() {
	for _, c := range g.ctrls {
		c.Close()
	}
	if g.messages != nil {
		g.messages.Close()
	}
}
