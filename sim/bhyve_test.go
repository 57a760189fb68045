package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/rtsock"
)

// guestHost gives a simulated host ready to run the wifibox guest: modules
// loaded, bridge and tap0, the Wi-Fi card on ppt; and bhyve's command line
// for it, the shell implementation's (pgj/freebsd-wifibox sbin/wifibox
// vm_manager).
func guestHost(t *testing.T) (string, *host.Host, []string) {
	t.Helper()
	dir, h := newHost(t)
	for _, m := range []string{"vmm", "nmdm", "if_bridge"} {
		must(t, h.Kernel.Load(koFile(dir, m)))
	}
	_, err := h.Net.CreateInterface("tap")
	must(t, err)
	must(t, h.PCI.SetDriver(wifiCard, "ppt"))
	p := h.Paths
	argv := []string{p.Bhyve, "-c", "1", "-m", "128M", "-AHPSuw", "-l", "com1," + p.ConsoleHost(),
		"-s", "0,hostbridge", "-s", "31,lpc", "-l", "bootrom," + p.Firmware,
		"-s", "4:0,virtio-blk," + p.ESPImage(), "-s", "4:1,virtio-blk," + p.RootImage(),
		"-s", "4:2,virtio-9p,config=" + p.Appliance() + ",ro",
		"-s", "4:3,virtio-9p,var=" + p.RunAppliance(),
		"-s", "4:4,virtio-9p,app_config=" + filepath.Join(p.ConfDir, "wpa_supplicant") + ",ro",
		"-s", "5:0,e1000,tap0", "-s", "6:0,passthru,3/0/0", "wifibox"}
	return dir, h, argv
}

// output collects a simulated bhyve's output.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// launchNice is the nice value the tests launch bhyve with.
const launchNice = 7

// running is a launched simulated bhyve.
type running struct {
	host.Guest
	out    *output
	exited chan host.ExitStatus
}

func launch(t *testing.T, h *host.Host, argv []string) *running {
	t.Helper()
	r := &running{out: &output{}, exited: make(chan host.ExitStatus, 1)}
	g, err := h.Launcher.Launch(host.LaunchSpec{Argv: argv, Nice: launchNice, Output: r.out})
	must(t, err)
	r.Guest = g
	go func() {
		st, err := g.Wait()
		if err != nil {
			t.Error(err)
		}
		r.exited <- st
	}()
	return r
}

// ready waits until the guest runs; it fails the test if bhyve exits first.
func (r *running) ready(t *testing.T) {
	t.Helper()
	select {
	case <-r.Ready():
	case st := <-r.exited:
		t.Fatalf("bhyve exited before the guest ran: %v\n%s", st, r.out)
	}
}

// exit waits, at most 30 s, for bhyve to exit and checks its status.
func (r *running) exit(t *testing.T, want host.ExitStatus) {
	t.Helper()
	select {
	case st := <-r.exited:
		if st != want {
			t.Errorf("bhyve: %v, want %v; output:\n%s", st, want, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("bhyve has not exited after 30s, want %v; output:\n%s", want, r.out)
	}
}

func TestBhyvePowerButton(t *testing.T) {
	dir, h, argv := guestHost(t)
	fault(t, dir, "poweroff_delay_ms", "20")
	b := launch(t, h, argv)
	b.ready(t)
	if ok, err := h.VMs.VMExists("wifibox"); !ok || err != nil {
		t.Errorf("VMExists while running = %v, %v", ok, err)
	}
	if pgid, err := unix.Getpgid(b.Pid()); pgid != b.Pid() || err != nil {
		t.Errorf("bhyve's process group %d (%v), want its own, %d", pgid, err, b.Pid())
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.Pid()))
	must(t, err)
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if fields[16] != strconv.Itoa(launchNice) { // field 19, nice
		t.Errorf("bhyve's nice value %s, want %d", fields[16], launchNice)
	}
	must(t, h.Launcher.Signal(b.Pid(), syscall.SIGTERM))
	b.exit(t, host.ExitStatus{Code: host.ExitPowerOff})
	for _, want := range []string{"bhyve: guest wifibox booting", "guest: Linux version"} {
		if !strings.Contains(b.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.out)
		}
	}
	trace, err := ReadTrace(dir)
	must(t, err)
	exec := "exec /usr/sbin/bhyve -c 1 -m 128M -AHPSuw -l com1,/dev/nmdm-wifibox.1A -s 0,hostbridge -s 31,lpc " +
		"-l bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd -s 4:0,virtio-blk,/usr/local/share/wifibox/esp.img " +
		"-s 4:1,virtio-blk,/usr/local/share/wifibox/root.img -s 4:2,virtio-9p,config=/usr/local/etc/wifibox/appliance,ro " +
		"-s 4:3,virtio-9p,var=/var/run/wifibox/appliance -s 4:4,virtio-9p,app_config=/usr/local/etc/wifibox/wpa_supplicant,ro " +
		"-s 5:0,e1000,tap0 -s 6:0,passthru,3/0/0 wifibox"
	same(t, "trace", []string{exec, "signal " + strconv.Itoa(b.Pid()) + " SIGTERM"}, trace[len(trace)-2:])
	// The powered-off VM stays until destroyed, and keeps vmm loaded.
	check(t, "suspend after poweroff", h.VMs.SuspendVM("wifibox", host.SuspendPowerOff), unix.EALREADY)
	check(t, "unload vmm", h.Kernel.Unload("vmm"), syscall.EBUSY)
	must(t, h.VMs.DestroyVM("wifibox"))
	for _, link := range []string{h.Paths.ConsoleHost(), h.Paths.ConsoleUser()} {
		if _, err := os.Lstat(link); !os.IsNotExist(err) {
			t.Errorf("%s after bhyve exited: %v, want it removed", link, err)
		}
	}
}

func TestBhyveSuspend(t *testing.T) {
	for _, how := range []host.SuspendHow{host.SuspendReset, host.SuspendPowerOff, host.SuspendHalt} {
		code := suspendExit[how]
		t.Run(string(how), func(t *testing.T) {
			dir, h, argv := guestHost(t)
			fault(t, dir, "ignore_power_button", "yes")
			b := launch(t, h, argv)
			b.ready(t)
			must(t, h.Launcher.Signal(b.Pid(), syscall.SIGTERM))
			must(t, h.VMs.SuspendVM("wifibox", how))
			b.exit(t, host.ExitStatus{Code: code})
		})
	}
}

func TestBhyveGuestExits(t *testing.T) {
	dir, h, argv := guestHost(t)
	fault(t, dir, "guest_exit_after_ms", "1")
	fault(t, dir, "guest_exit_status", "3")
	b := launch(t, h, argv)
	b.ready(t)
	b.exit(t, host.ExitStatus{Code: host.ExitTripleFault})
}

// TestBhyveDestroyedVM: a second bhyve cannot reinitialise a VM another
// runs, and a bhyve whose VM is destroyed under it exits as its release's
// does: 1 up to 14.x, 4 on 15.0.
func TestBhyveDestroyedVM(t *testing.T) {
	for _, tc := range []struct {
		osreldate, code int
		reinit          string
	}{{1305000, 1, "vm_reinit"}, {1403000, 1, "vm_reinit"}, {1500068, 4, "vm_openf"}} {
		t.Run(strconv.Itoa(tc.osreldate), func(t *testing.T) {
			dir, h, argv := guestHost(t)
			fault(t, dir, "osreldate", strconv.Itoa(tc.osreldate))
			b := launch(t, h, argv)
			b.ready(t)
			second := launch(t, h, argv)
			second.exit(t, host.ExitStatus{Code: host.ExitError})
			if !strings.Contains(second.out.String(), tc.reinit+": Device busy") {
				t.Errorf("second bhyve's output lacks %s's EBUSY:\n%s", tc.reinit, second.out)
			}
			must(t, h.VMs.DestroyVM("wifibox"))
			b.exit(t, host.ExitStatus{Code: tc.code})
		})
	}
}

// TestBhyveReinit: the next bhyve reinitialises the VM after a guest
// that went through a VM suspend (a reboot), and not after a bhyve that
// was killed, or forced off after it was killed: its vCPU stays active
// and unsuspended (vm_reinit's EBUSY), until the VM is destroyed.
func TestBhyveReinit(t *testing.T) {
	_, h, argv := guestHost(t)
	b := launch(t, h, argv)
	b.ready(t)
	must(t, h.VMs.SuspendVM("wifibox", host.SuspendReset))
	b.exit(t, host.ExitStatus{Code: host.ExitReset})
	b = launch(t, h, argv)
	b.ready(t)
	// Killed only once it has activated its boot vCPU, which comes after
	// the tap's readiness: a bhyve killed before leaves the VM reusable.
	for began := time.Now(); ; time.Sleep(time.Millisecond) {
		if active, err := h.VMs.BootCPUActive("wifibox"); active || err != nil || time.Since(began) > 10*time.Second {
			break
		}
	}
	must(t, h.Launcher.Signal(b.Pid(), syscall.SIGKILL))
	b.exit(t, host.ExitStatus{Signal: syscall.SIGKILL})
	if active, err := h.VMs.BootCPUActive("wifibox"); !active || err != nil {
		t.Errorf("BootCPUActive after bhyve was killed = %v, %v; want true", active, err)
	}
	must(t, h.VMs.SuspendVM("wifibox", host.SuspendPowerOff)) // no vCPU thread suspends
	b = launch(t, h, argv)
	b.exit(t, host.ExitStatus{Code: host.ExitError})
	if !strings.Contains(b.out.String(), "vm_reinit: Device busy") {
		t.Errorf("bhyve's output lacks vm_reinit's EBUSY:\n%s", b.out)
	}
	must(t, h.VMs.DestroyVM("wifibox"))
	b = launch(t, h, argv)
	b.ready(t)
	must(t, h.Launcher.Signal(b.Pid(), syscall.SIGTERM))
	b.exit(t, host.ExitStatus{Code: host.ExitPowerOff})
}

// TestBhyveErrors checks each configuration bhyve refuses: it exits 4 with a
// message and the guest never runs.
func TestBhyveErrors(t *testing.T) {
	replace := func(argv []string, old, new string) []string {
		i := slices.Index(argv, old)
		argv[i] = new
		return argv
	}
	tests := []struct {
		name    string
		prepare func(dir string, h *host.Host, argv []string) []string
		message string
	}{
		{"missing image", func(dir string, h *host.Host, argv []string) []string {
			must(t, os.Remove(h.Paths.RootImage()))
			return argv
		}, "/usr/local/share/wifibox/root.img"},
		{"missing bootrom", func(dir string, h *host.Host, argv []string) []string {
			must(t, os.Remove(h.Paths.Firmware))
			return argv
		}, "bootrom"},
		{"no tap", func(dir string, h *host.Host, argv []string) []string {
			return replace(argv, "5:0,e1000,tap0", "5:0,e1000,tap7")
		}, "tap7"},
		{"not on ppt", func(dir string, h *host.Host, argv []string) []string {
			must(t, h.PCI.ClearDriver(wifiCard))
			return argv
		}, "ppt"},
		{"not wired", func(dir string, h *host.Host, argv []string) []string {
			return replace(argv, "-AHPSuw", "-AHPuw")
		}, "wired"},
		{"no nmdm", func(dir string, h *host.Host, argv []string) []string {
			must(t, h.Kernel.Unload("nmdm"))
			return argv
		}, "com1"},
		{"no virtio-9p", func(dir string, h *host.Host, argv []string) []string {
			fault(t, dir, "no_virtio_9p", "yes")
			return argv
		}, "virtio-9p"},
		{"bad option", func(dir string, h *host.Host, argv []string) []string {
			return replace(argv, "-AHPSuw", "-AHPSuwZ")
		}, "illegal option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, h, argv := guestHost(t)
			b := launch(t, h, tt.prepare(dir, h, argv))
			b.exit(t, host.ExitStatus{Code: host.ExitError})
			if !strings.Contains(b.out.String(), tt.message) {
				t.Errorf("output lacks %q:\n%s", tt.message, b.out)
			}
			if strings.Contains(b.out.String(), "booting") {
				t.Errorf("the guest booted:\n%s", b.out)
			}
		})
	}
}

// TestBhyvePassthruRejected: a passthru device bhyve cannot assign makes it
// exit 4 after it opened its tap (its link came up, what makes a Launcher
// ready), before it starts the vCPUs. The routing socket tells the link
// came up: Ready may stay open, the watch ending with bhyve.
func TestBhyvePassthruRejected(t *testing.T) {
	dir, h, argv := guestHost(t)
	fault(t, dir, "passthru_rejected", "yes")
	k, err := NewKernel(dir)
	must(t, err)
	routes, err := rtsock.Open(k)
	must(t, err)
	defer routes.Close()
	b := launch(t, h, argv)
	b.exit(t, host.ExitStatus{Code: host.ExitError})
	linkUp := make(chan bool, 1)
	go func() {
		for {
			ev, err := routes.Next()
			if err != nil || ev.Kind == rtsock.Info {
				linkUp <- err == nil && ev.LinkUp
				return
			}
		}
	}()
	select {
	case up := <-linkUp:
		if !up {
			t.Error("bhyve's first link message is not its tap's link coming up")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no link message within 30 s")
	}
	if !strings.Contains(b.out.String(), "Device emulation initialization error: Device busy") {
		t.Errorf("output lacks bhyve's message:\n%s", b.out)
	}
	if active, err := h.VMs.BootCPUActive("wifibox"); active || err != nil {
		t.Errorf("BootCPUActive after the rejected device = %v, %v; want false", active, err)
	}
}

// TestBootCPUActive: the boot vCPU is active from bhyve's device setup
// on, after bhyve exited too, until the VM is reinitialised or destroyed;
// a VM that does not exist is ENOENT.
func TestBootCPUActive(t *testing.T) {
	_, h, argv := guestHost(t)
	_, err := h.VMs.BootCPUActive("wifibox")
	check(t, "BootCPUActive of no VM", err, unix.ENOENT)
	b := launch(t, h, argv)
	b.ready(t)
	deadline := time.Now().Add(10 * time.Second)
	for active, err := h.VMs.BootCPUActive("wifibox"); !active; active, err = h.VMs.BootCPUActive("wifibox") {
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("the boot vCPU never became active (%v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, h.Launcher.Signal(b.Pid(), syscall.SIGTERM))
	b.exit(t, host.ExitStatus{Code: host.ExitPowerOff})
	if active, err := h.VMs.BootCPUActive("wifibox"); !active || err != nil {
		t.Errorf("BootCPUActive after bhyve exited = %v, %v; want true", active, err)
	}
}
