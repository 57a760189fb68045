package ppt_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
	"github.com/wifibox/wifibox/sys"
)

var (
	wifi = host.Selector{Bus: 3}
	xhci = host.Selector{Slot: 20}
)

// releases are the kern.osreldate values the model answers as: 13.5,
// 14.3 and 15.0.
var releases = []string{"1305000", "1403000", "1500068"}

// simHost is a fresh simulated host: its directory and its kernel.
func simHost(t testing.TB, faults ...string) (string, *sim.Kernel) {
	t.Helper()
	return simtest.New(t, faults...)
}

// loadVMM loads vmm.ko, which brings the ppt driver.
func loadVMM(t testing.TB, dir string) {
	t.Helper()
	h, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Kernel.Load(filepath.Join(dir, "boot/kernel/vmm.ko")); err != nil {
		t.Fatal(err)
	}
}

// drivers gives each device's driver as the listing shows it.
func drivers(t *testing.T, p host.PCI, sels ...host.Selector) []string {
	t.Helper()
	devs, err := p.Devices()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sel := range sels {
		d, ok := ppt.Find(devs, sel)
		switch {
		case !ok:
			got = append(got, "absent")
		case d.Driver == "":
			got = append(got, "none")
		case d.Attached:
			got = append(got, d.DriverUnit())
		default:
			got = append(got, "unattached "+d.Driver)
		}
	}
	return got
}

// recorder passes the calls on and records the ioctl requests and their
// errors.
type recorder struct {
	sys.Sys
	calls []string
	// after runs after each ioctl.
	after func(req uint32, arg unsafe.Pointer)
	// noSysctl hides kern.osreldate.
	noSysctl bool
}

func (r *recorder) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	err := r.Sys.Ioctl(fd, req, arg)
	s := fmt.Sprintf("%#x", req)
	if err != nil {
		s += " " + err.(abi.Errno).Name()
	}
	r.calls = append(r.calls, s)
	if r.after != nil {
		r.after(req, arg)
	}
	return err
}

func (r *recorder) Sysctl(name string, args ...int) ([]byte, error) {
	if r.noSysctl {
		return nil, abi.ENOENT
	}
	return r.Sys.Sysctl(name, args...)
}

var fresh = []string{"hostb0", "xhci0", "nvme0", "iwlwifi0"}

var allDevices = []host.Selector{{}, xhci, {Bus: 1}, wifi}

// Defect 1: on 13.5 and 14.x the listing uses the request of the release
// (the 15 one gets EPERM on a read-only descriptor there), on 15.0 the new
// one; each release lists in one call, pages, or after a failed guess.
func TestDevicesByRelease(t *testing.T) {
	for _, rel := range releases {
		for _, tc := range []struct {
			name     string
			faults   []string
			perCall  int
			noSysctl bool
			want     string
		}{
			{name: "one call", perCall: 64, want: map[string]string{
				"1305000": "0xc0307005",
				"1403000": "0xc0307005",
				"1500068": "0xc030700a"}[rel]},
			{name: "pages of 3", perCall: 3, want: map[string]string{
				"1305000": "0xc0307005 0xc0307005",
				"1403000": "0xc0307005 0xc0307005",
				"1500068": "0xc030700a 0xc030700a"}[rel]},
			{name: "no osreldate, writable", perCall: 64, noSysctl: true, want: map[string]string{
				"1305000": "0xc030700a ENOTTY 0xc0307005",
				"1403000": "0xc030700a ENOTTY 0xc0307005",
				"1500068": "0xc030700a"}[rel]},
			{name: "no osreldate, read-only", faults: []string{"securelevel=1"}, perCall: 64, noSysctl: true,
				want: map[string]string{
					"1305000": "0xc030700a EPERM 0xc0307005",
					"1403000": "0xc030700a EPERM 0xc0307005",
					"1500068": "0xc030700a"}[rel]},
		} {
			t.Run(rel+"/"+tc.name, func(t *testing.T) {
				_, k := simHost(t, append(tc.faults, "osreldate="+rel)...)
				r := &recorder{Sys: k, noSysctl: tc.noSysctl}
				p := ppt.NewPaged(r, tc.perCall)
				if diff := cmp.Diff(fresh, drivers(t, p, allDevices...)); diff != "" {
					t.Errorf("drivers (-want +got):\n%s", diff)
				}
				got := strings.Join(r.calls, " ")
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("requests %s, want them to start with %s", got, tc.want)
				}
				// The next listing starts with the request that
				// answered.
				r.calls = nil
				drivers(t, p, wifi)
				answered := ""
				for _, c := range strings.Fields(tc.want) {
					if c == "0xc0307005" || c == "0xc030700a" {
						answered = c
					}
				}
				if r.calls[0] != answered {
					t.Errorf("next listing starts with %s, want %s", r.calls[0], answered)
				}
			})
		}
	}
}

func TestDevicesRestartsWhenTheListChanges(t *testing.T) {
	dir, k := simHost(t, "pci_device_missing=yes")
	getconfs := 0
	r := &recorder{Sys: k, after: func(req uint32, _ unsafe.Pointer) {
		if req == abi.PCIOCGETCONF_FREEBSD14 {
			getconfs++
			if getconfs == 1 {
				if err := sim.SetFault(dir, "pci_device_missing", ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}}
	p := ppt.NewPaged(r, 2)
	if diff := cmp.Diff(fresh, drivers(t, p, allDevices...)); diff != "" {
		t.Errorf("drivers (-want +got):\n%s", diff)
	}
	// Page one, LIST_CHANGED, then pages one and two again.
	if getconfs != 4 {
		t.Errorf("%d PCIOCGETCONF calls (%v), want 4", getconfs, r.calls)
	}
}

func TestDevicesListNeverSettles(t *testing.T) {
	dir, k := simHost(t)
	missing := false
	r := &recorder{Sys: k, after: func(req uint32, _ unsafe.Pointer) {
		missing = !missing
		v := ""
		if missing {
			v = "yes"
		}
		if err := sim.SetFault(dir, "pci_device_missing", v); err != nil {
			t.Fatal(err)
		}
	}}
	_, err := ppt.NewPaged(r, 1).Devices()
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("err = %v, want EAGAIN", err)
	}
}

// stride answers the 15 request with the 48-byte entries of the 14 one:
// a kernel whose struct pci_conf is not the one wifibox reads.
type stride struct{ sys.Sys }

func (s stride) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	if req == abi.PCIOCGETCONF {
		req = abi.PCIOCGETCONF_FREEBSD14
	}
	return s.Sys.Ioctl(fd, req, arg)
}

// Defect 2: entries read at the wrong stride are an error, not garbage.
func TestDevicesWrongStride(t *testing.T) {
	_, k := simHost(t, "osreldate=1500068")
	_, err := ppt.New(stride{k}).Devices()
	if !errors.Is(err, unix.EPROTO) || !strings.Contains(err.Error(), "pc_reported_len") {
		t.Fatalf("err = %v, want EPROTO about pc_reported_len", err)
	}
}

func TestDevicesCannotOpen(t *testing.T) {
	_, err := ppt.New(noDevices{}).Devices()
	if !errors.Is(err, unix.ENOENT) || err.Error() != "list PCI devices: open /dev/pci: No such file or directory" {
		t.Errorf("err = %v", err)
	}
}

// noDevices is a kernel without /dev/pci.
type noDevices struct{ sys.Sys }

func (noDevices) Open(string, int) (int, error) { return -1, abi.ENOENT }

func TestBindAndRelease(t *testing.T) {
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) {
			dir, k := simHost(t, "osreldate="+rel)
			loadVMM(t, dir)
			p := ppt.New(k)
			sels := []host.Selector{wifi, xhci}
			if err := ppt.Bind(p, sels); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"ppt0", "ppt1"}, drivers(t, p, sels...)); diff != "" {
				t.Errorf("bound (-want +got):\n%s", diff)
			}
			// Bound already: no change.
			if err := ppt.Bind(p, sels); err != nil {
				t.Fatal(err)
			}
			if err := ppt.Release(p, sels); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"iwlwifi0", "xhci0"}, drivers(t, p, sels...)); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			trace, err := sim.ReadTrace(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"devctl_set_driver pci0:3:0:0 ppt", "devctl_set_driver pci0:0:20:0 ppt",
				"devctl_set_driver pci0:3:0:0 ppt", "devctl_set_driver pci0:0:20:0 ppt",
				"devctl_clear_driver pci0:3:0:0", "devctl_clear_driver pci0:0:20:0",
			}
			if diff := cmp.Diff(want, trace[1:]); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
		})
	}
}

// Defect 3: with the native driver kept out (devmatch_blocklist, as wifibox
// advises), DEV_CLEAR_DRIVER answers ENXIO up to 14.x: the card is released
// all the same, and that is no error.
func TestReleaseWithoutNativeDriver(t *testing.T) {
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) {
			dir, k := simHost(t, "osreldate="+rel, "native_driver_missing=yes")
			loadVMM(t, dir)
			p := ppt.New(k)
			if err := ppt.Bind(p, []host.Selector{wifi}); err != nil {
				t.Fatal(err)
			}
			if err := ppt.Release(p, []host.Selector{wifi}); err != nil {
				t.Errorf("Release: %v", err)
			}
			if diff := cmp.Diff([]string{"none"}, drivers(t, p, wifi)); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
		})
	}
}

// devctl makes one devctl(4) request on a device's name, as devctl(8).
func devctl(t *testing.T, k sys.Sys, op uint32, name string, flags int32) error {
	t.Helper()
	fd, err := k.Open("/dev/devctl2", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(fd)
	req := &abi.Devreq{Flags: flags}
	copy(req.Name[:], name)
	return k.Ioctl(fd, op, unsafe.Pointer(req))
}

// Defect 4: a card whose class is ppt but that ppt is not attached to (as
// after devctl detach) passes neither Bind's check nor OnPPT, and Bind
// leaves it cleared, so the next Bind attaches it.
func TestBindNamedButNotAttached(t *testing.T) {
	dir, k := simHost(t)
	loadVMM(t, dir)
	p := ppt.New(k)
	if err := p.SetDriver(wifi, "ppt"); err != nil {
		t.Fatal(err)
	}
	if err := devctl(t, k, abi.DEV_DETACH, "ppt0", 0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"unattached ppt"}, drivers(t, p, wifi)); diff != "" {
		t.Errorf("detached (-want +got):\n%s", diff)
	}
	err := ppt.Bind(p, []host.Selector{wifi})
	const want = "bind pci0:3:0:0 (3/0/0) to ppt: ppt is the device's driver but is not attached to it " +
		"(detached, or its attach failed); wifibox has cleared it: start again"
	if err == nil || err.Error() != want {
		t.Fatalf("Bind = %v\nwant  %s", err, want)
	}
	if err := ppt.Bind(p, []host.Selector{wifi}); err != nil {
		t.Fatalf("Bind again: %v", err)
	}
	if diff := cmp.Diff([]string{"ppt0"}, drivers(t, p, wifi)); diff != "" {
		t.Errorf("bound (-want +got):\n%s", diff)
	}
}

func TestBindFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vmm    bool
		sels   []host.Selector
		errno  error
		text   string
		after  []string
		faults []string
	}{
		{
			name:  "vmm not loaded",
			sels:  []host.Selector{wifi},
			errno: unix.ENOENT,
			text: "set driver of pci0:3:0:0 to ppt: DEV_SET_DRIVER: No such file or directory " +
				"(the ppt driver does not exist: is vmm.ko loaded?)",
			after: []string{"iwlwifi0"},
		},
		{
			name:  "device not present",
			vmm:   true,
			sels:  []host.Selector{xhci, {Bus: 9}},
			errno: ppt.ErrNotPresent,
			text:  "bind PCI devices to ppt: PCI device not present: pci0:9:0:0 (9/0/0): check passthru in bhyve.conf",
			after: []string{"xhci0", "absent"},
		},
		{
			name:   "cannot list",
			vmm:    true,
			sels:   []host.Selector{wifi},
			faults: []string{"pci_device_missing=yes"},
			errno:  ppt.ErrNotPresent,
			text:   "bind PCI devices to ppt: PCI device not present: pci0:3:0:0 (3/0/0): check passthru in bhyve.conf",
			after:  []string{"absent"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, k := simHost(t, tc.faults...)
			if tc.vmm {
				loadVMM(t, dir)
			}
			p := ppt.New(k)
			err := ppt.Bind(p, tc.sels)
			if err == nil {
				t.Fatal("Bind succeeded")
			}
			if !errors.Is(err, tc.errno) {
				t.Errorf("err = %v, want %v", err, tc.errno)
			}
			if err.Error() != tc.text {
				t.Errorf("err = %q\nwant  %q", err, tc.text)
			}
			if diff := cmp.Diff(tc.after, drivers(t, p, tc.sels...)); diff != "" {
				t.Errorf("drivers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReleaseGoesThroughAll(t *testing.T) {
	dir, k := simHost(t)
	loadVMM(t, dir)
	p := ppt.New(k)
	sels := []host.Selector{wifi, xhci}
	if err := ppt.Bind(p, sels); err != nil {
		t.Fatal(err)
	}
	err := ppt.Release(p, []host.Selector{{Bus: 9}, wifi, xhci})
	const want = "clear driver of pci0:9:0:0: DEV_CLEAR_DRIVER: No such file or directory"
	if !errors.Is(err, unix.ENOENT) || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	if diff := cmp.Diff([]string{"iwlwifi0", "xhci0"}, drivers(t, p, sels...)); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
}

// stuck is a host where clearing a driver succeeds but changes nothing.
type stuck struct{ host.PCI }

func (stuck) ClearDriver(host.Selector) error { return nil }

func TestReleaseChecksTheDrivers(t *testing.T) {
	dir, k := simHost(t)
	loadVMM(t, dir)
	p := ppt.New(k)
	if err := ppt.Bind(p, []host.Selector{wifi}); err != nil {
		t.Fatal(err)
	}
	err := ppt.Release(stuck{p}, []host.Selector{wifi})
	const want = "release pci0:3:0:0 (3/0/0) from ppt: still attached to ppt0"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestSetDriverErrors(t *testing.T) {
	dir, k := simHost(t)
	loadVMM(t, dir)
	p := ppt.New(k)
	for _, tc := range []struct {
		sel    host.Selector
		driver string
		want   error
		text   string
	}{
		{host.Selector{Bus: 9}, "ppt", unix.ENOENT, "set driver of pci0:9:0:0 to ppt: DEV_SET_DRIVER: No such file or directory"},
		{wifi, "nosuch", unix.ENOENT, "set driver of pci0:3:0:0 to nosuch: DEV_SET_DRIVER: No such file or directory"},
		{wifi, "", unix.EINVAL, "set driver of pci0:3:0:0 to : DEV_SET_DRIVER: Invalid argument"},
		{wifi, "p\x00pt", unix.EINVAL, "set driver of pci0:3:0:0 to \"p\\x00pt\": invalid argument"},
		{wifi, "nvme", unix.ENXIO, "set driver of pci0:3:0:0 to nvme: DEV_SET_DRIVER: Device not configured"},
	} {
		err := p.SetDriver(tc.sel, tc.driver)
		if !errors.Is(err, tc.want) || err.Error() != tc.text {
			t.Errorf("SetDriver(%s, %q) = %v\nwant  %s", tc.sel, tc.driver, err, tc.text)
		}
	}
	// nvme failed to attach, and holds the card's class: a class other
	// than ppt counts as attached (Devices asks PCIOCATTACHED of ppt's).
	if diff := cmp.Diff([]string{"nvme1"}, drivers(t, p, wifi)); diff != "" {
		t.Errorf("drivers (-want +got):\n%s", diff)
	}
}

// The PCI listing (PCIOCGETCONF and a PCIOCATTACHED per named device), and
// a bind and release of the Wi-Fi card, over the model of the kernel: what
// start, stop and status -v pay for them on the simulated host.
func BenchmarkDevices(b *testing.B) {
	_, k := simHost(b)
	p := ppt.New(k)
	for b.Loop() {
		if _, err := p.Devices(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBindRelease(b *testing.B) {
	dir, k := simHost(b)
	loadVMM(b, dir)
	p := ppt.New(k)
	sels := []host.Selector{wifi}
	for b.Loop() {
		if err := ppt.Bind(p, sels); err != nil {
			b.Fatal(err)
		}
		if err := ppt.Release(p, sels); err != nil {
			b.Fatal(err)
		}
	}
}
