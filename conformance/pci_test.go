package conformance

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// getconf makes one PCIOCGETCONF call with room for n entries of size
// bytes, from the offset and generation given.
func getconf(k sys.Sys, fd int, req uint32, size, n int, offset, generation uint32) (abi.PciConfIo, []byte, error) {
	buf := make([]byte, max(n*size, 1))
	cio := abi.PciConfIo{
		Match_buf_len: uint32(n * size),
		Matches:       unsafe.Pointer(&buf[0]),
		Offset:        offset,
		Generation:    generation,
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	err := k.Ioctl(fd, req, unsafe.Pointer(&cio))
	return cio, buf, err
}

// request is the PCIOCGETCONF of a release and the size of its entries.
func request(osreldate int) (uint32, int) {
	if osreldate >= abi.PCIOCGETCONF_VERSION {
		return abi.PCIOCGETCONF, abi.SizeofPciConf
	}
	return abi.PCIOCGETCONF_FREEBSD14, abi.SizeofPciConf14
}

// selector reads an entry's pc_sel.
func selector(e []byte) host.Selector {
	return host.Selector{
		Domain:   binary.NativeEndian.Uint32(e[abi.Pcisel_pc_domain:]),
		Bus:      e[abi.Pcisel_pc_bus],
		Slot:     e[abi.Pcisel_pc_dev],
		Function: e[abi.Pcisel_pc_func],
	}
}

// listAll lists every entry in one call.
func listAll(t *testing.T, k sys.Sys, fd int, req uint32, size int) [][]byte {
	t.Helper()
	cio, buf, err := getconf(k, fd, req, size, 512, 0, 0)
	if err != nil {
		t.Fatalf("PCIOCGETCONF %#x: %v", req, err)
	}
	if cio.Status != abi.PCI_GETCONF_LAST_DEVICE || cio.Num_matches == 0 || cio.Offset != cio.Num_matches {
		t.Fatalf("PCIOCGETCONF %#x: status %d, %d matches, offset %d; want LAST_DEVICE, some, offset = matches",
			req, cio.Status, cio.Num_matches, cio.Offset)
	}
	var entries [][]byte
	for i := range int(cio.Num_matches) {
		entries = append(entries, buf[i*size:(i+1)*size])
	}
	return entries
}

// PCIOCGETCONF of the release on a read-only descriptor, as pciconf -l
// makes it: one call, then in pages of one entry, which give the same
// list; on 15.0 each entry's pc_reported_len is offsetof(pc_spare).
func TestPCIOCGETCONF(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		rel := osreldate(t, k)
		req, size := request(rel)
		fd := open(t, k, "/dev/pci", unix.O_RDONLY)
		all := listAll(t, k, fd, req, size)
		for i, e := range all {
			if size == abi.SizeofPciConf {
				if n := binary.NativeEndian.Uint64(e[abi.PciConf_pc_reported_len:]); n != abi.PciConf_pc_spare {
					t.Errorf("entry %d: pc_reported_len %d, want %d", i, n, abi.PciConf_pc_spare)
				}
			}
		}
		var offset, generation uint32
		for i := 0; ; i++ {
			cio, buf, err := getconf(k, fd, req, size, 1, offset, generation)
			if err != nil {
				t.Fatalf("page %d: %v", i, err)
			}
			if cio.Status == abi.PCI_GETCONF_LAST_DEVICE && cio.Num_matches == 0 {
				if i != len(all) {
					t.Errorf("%d pages, want %d", i, len(all))
				}
				break
			}
			if cio.Num_matches != 1 || i >= len(all) {
				t.Fatalf("page %d: %d matches, status %d", i, cio.Num_matches, cio.Status)
			}
			if got, want := selector(buf), selector(all[i]); got != want {
				t.Errorf("page %d: %s, want %s", i, got, want)
			}
			offset, generation = cio.Offset, cio.Generation
		}
	})
}

// The request of the other release: on 13.5 and 14.x the 15 one is EPERM
// on a read-only descriptor (pci_ioctl refuses before its switch) and
// ENOTTY on a writable one; on 15 the 14 one answers with 48-byte entries
// (PCIOCGETCONF_FREEBSD14, options COMPAT_FREEBSD14).
func TestPCIOCGETCONFOtherRelease(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		ro := open(t, k, "/dev/pci", unix.O_RDONLY)
		rw := open(t, k, "/dev/pci", unix.O_RDWR)
		if osreldate(t, k) >= abi.PCIOCGETCONF_VERSION {
			_, _, err := getconf(k, ro, abi.PCIOCGETCONF_FREEBSD14, abi.SizeofPciConf14, 512, 0, 0)
			if errors.Is(err, unix.ENOTTY) && real() {
				t.Skip("kernel without options COMPAT_FREEBSD14")
			}
			if err != nil {
				t.Fatal(err)
			}
			old := listAll(t, k, ro, abi.PCIOCGETCONF_FREEBSD14, abi.SizeofPciConf14)
			cur := listAll(t, k, ro, abi.PCIOCGETCONF, abi.SizeofPciConf)
			if len(old) != len(cur) {
				t.Fatalf("%d entries with the 14 request, %d with the 15 one", len(old), len(cur))
			}
			for i := range old {
				if string(old[i]) != string(cur[i][:abi.SizeofPciConf14]) {
					t.Errorf("entry %d differs from the first 48 bytes of the 15 one", i)
				}
			}
			return
		}
		for _, c := range []struct {
			fd   int
			want error
		}{{ro, unix.EPERM}, {rw, unix.ENOTTY}} {
			_, _, err := getconf(k, c.fd, abi.PCIOCGETCONF, abi.SizeofPciConf, 4, 0, 0)
			if !errors.Is(err, c.want) {
				t.Errorf("15 request: %v, want %v", err, c.want)
			}
		}
	})
}

// PCIOCGETCONF's own answers: an offset past the end, a buffer too small
// for one entry, patterns that do not fit, and a list that changed.
func TestPCIOCGETCONFPaths(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		req, size := request(osreldate(t, k))
		fd := open(t, k, "/dev/pci", unix.O_RDONLY)
		all := listAll(t, k, fd, req, size)
		gen := func() uint32 {
			cio, _, err := getconf(k, fd, req, size, 1, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			return cio.Generation
		}()

		cio, _, err := getconf(k, fd, req, size, 4, uint32(len(all)), gen)
		if err != nil || cio.Status != abi.PCI_GETCONF_LAST_DEVICE || cio.Num_matches != 0 {
			t.Errorf("offset past the end: status %d, %d matches, %v; want LAST_DEVICE, none", cio.Status, cio.Num_matches, err)
		}
		cio, _, err = getconf(k, fd, req, size-1, 1, 0, 0)
		if err != nil || cio.Status != abi.PCI_GETCONF_MORE_DEVS || cio.Num_matches != 0 || cio.Offset != 0 {
			t.Errorf("buffer of %d bytes: status %d, %d matches, offset %d, %v; want MORE_DEVS, none, 0",
				size-1, cio.Status, cio.Num_matches, cio.Offset, err)
		}
		bad := abi.PciConfIo{Num_patterns: 1}
		err = k.Ioctl(fd, req, unsafe.Pointer(&bad))
		if !errors.Is(err, unix.EINVAL) || bad.Status != abi.PCI_GETCONF_ERROR {
			t.Errorf("a pattern without a buffer: %v, status %d; want EINVAL, ERROR", err, bad.Status)
		}
		if real() {
			cio, _, _ := getconf(k, fd, req, size, 1, 1, gen+1)
			if cio.Status != abi.PCI_GETCONF_LIST_CHANGED {
				t.Errorf("another generation: status %d, want LIST_CHANGED", cio.Status)
			}
			return
		}
		// The device list changes between two calls.
		fault(t, "pci_device_missing=yes")
		cio, _, err = getconf(k, fd, req, size, 1, 1, gen)
		if err != nil || cio.Status != abi.PCI_GETCONF_LIST_CHANGED || cio.Num_matches != 0 {
			t.Errorf("list changed: status %d, %d matches, %v; want LIST_CHANGED", cio.Status, cio.Num_matches, err)
		}
		if n := len(listAll(t, k, fd, req, size)); n != len(all)-1 {
			t.Errorf("%d entries without the card, want %d", n, len(all)-1)
		}
	})
}

// attached makes PCIOCATTACHED.
func attached(k sys.Sys, fd int, sel host.Selector) (bool, error) {
	io := abi.PciIo{Sel_domain: sel.Domain, Sel_bus: sel.Bus, Sel_dev: sel.Slot, Sel_func: sel.Function}
	err := k.Ioctl(fd, abi.PCIOCATTACHED, unsafe.Pointer(&io))
	return io.Data != 0, err
}

// PCIOCATTACHED, like every request but PCIOCGETCONF, PCIOCGETBAR and
// PCIOCLISTVPD, is EPERM on a read-only descriptor; on a writable one it
// answers whether a driver is attached, ENODEV for no such device.
func TestPCIOCATTACHED(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		req, size := request(osreldate(t, k))
		ro := open(t, k, "/dev/pci", unix.O_RDONLY)
		rw := open(t, k, "/dev/pci", unix.O_RDWR)
		first := selector(listAll(t, k, ro, req, size)[0])
		if _, err := attached(k, ro, first); !errors.Is(err, unix.EPERM) {
			t.Errorf("read-only: %v, want EPERM", err)
		}
		if _, err := attached(k, rw, first); err != nil {
			t.Errorf("%s: %v", first, err)
		}
		nowhere := host.Selector{Domain: 0xffff, Bus: 255, Slot: 31, Function: 7}
		if _, err := attached(k, rw, nowhere); !errors.Is(err, unix.ENODEV) {
			t.Errorf("%s: %v, want ENODEV", nowhere, err)
		}
	})
}

// devctl makes one devctl(4) request: on a device name and with a
// driver's name for DEV_SET_DRIVER.
func devctl(t *testing.T, k sys.Sys, op uint32, name string, flags int32, driver string) error {
	t.Helper()
	fd := open(t, k, "/dev/devctl2", unix.O_RDONLY)
	req := abi.Devreq{Flags: flags}
	copy(req.Name[:], name)
	var pin runtime.Pinner
	defer pin.Unpin()
	if op == abi.DEV_SET_DRIVER {
		b := append([]byte(driver), 0)
		pin.Pin(&b[0])
		req.Data = unsafe.Pointer(&b[0])
	}
	return k.Ioctl(fd, op, unsafe.Pointer(&req))
}

// find_device: a name without a NUL in 128 bytes is EINVAL, a device that
// is not there ENOENT; nothing changes either way.
func TestDevctlFindDevice(t *testing.T) {
	k := kernel(t)
	fd := open(t, k, "/dev/devctl2", unix.O_RDONLY)
	var req abi.Devreq
	for i := range req.Name {
		req.Name[i] = 'x'
	}
	if err := k.Ioctl(fd, abi.DEV_CLEAR_DRIVER, unsafe.Pointer(&req)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("name without NUL: %v, want EINVAL", err)
	}
	for _, name := range []string{"pci0:255:31:7", "nosuchdevice0"} {
		if err := devctl(t, k, abi.DEV_CLEAR_DRIVER, name, 0, ""); !errors.Is(err, unix.ENOENT) {
			t.Errorf("%s: %v, want ENOENT", name, err)
		}
	}
}

// spareDevice is the PCI device a test may give to ppt and back: on a real
// kernel only the one WIFIBOX_CONFORMANCE_PCI names (pciD:B:S:F), on the
// model the simulated Wi-Fi card.
func spareDevice(t *testing.T) string {
	t.Helper()
	if !real() {
		return "pci0:3:0:0"
	}
	name := os.Getenv("WIFIBOX_CONFORMANCE_PCI")
	if name == "" {
		t.Skip("no spare PCI device: set WIFIBOX_CONFORMANCE_PCI=pciD:B:S:F to one the machine can do without")
	}
	return name
}

// state is a device's class name and whether a driver is attached, as
// PCIOCGETCONF and PCIOCATTACHED tell them.
func state(t *testing.T, k sys.Sys, name string) (string, bool) {
	t.Helper()
	req, size := request(osreldate(t, k))
	rw := open(t, k, "/dev/pci", unix.O_RDWR)
	for _, e := range listAll(t, k, rw, req, size) {
		if selector(e).String() != name {
			continue
		}
		a, err := attached(k, rw, selector(e))
		if err != nil {
			t.Fatal(err)
		}
		return unix.ByteSliceToString(e[abi.PciConf_pd_name : abi.PciConf_pd_name+abi.PCI_MAXNAMELEN+1]), a
	}
	t.Fatalf("%s is not listed", name)
	return "", false
}

// DEV_SET_DRIVER and DEV_CLEAR_DRIVER on the spare device, as wifibox and
// devctl(8) make them: their refusals, binding it to ppt, a detach that
// leaves it named ppt but unattached, and giving it back.
func TestDevctlDriver(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		dev := spareDevice(t)
		loadVMM(t, k)
		name, wasAttached := state(t, k, dev)
		check := func(what string, err error, want ...error) {
			t.Helper()
			for _, w := range want {
				if w == nil && err == nil || w != nil && errors.Is(err, w) {
					return
				}
			}
			t.Errorf("%s: %v, want one of %v", what, err, want)
		}
		check("empty driver", devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, ""), unix.EINVAL)
		check("no such driver", devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, "nosuchdriver"), unix.ENOENT)
		if wasAttached {
			check("attached, without DEVF_SET_DRIVER_DETACH", devctl(t, k, abi.DEV_SET_DRIVER, dev, 0, "ppt"), unix.EBUSY)
		}
		if n, a := state(t, k, dev); n != name || a != wasAttached {
			t.Errorf("after the refusals: %q attached %v, want %q attached %v", n, a, name, wasAttached)
		}
		t.Cleanup(func() { devctl(t, k, abi.DEV_CLEAR_DRIVER, dev, abi.DEVF_CLEAR_DRIVER_DETACH, "") })

		check("ppt", devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, "ppt"), nil)
		if n, a := state(t, k, dev); n != "ppt" || !a {
			t.Fatalf("on ppt: %q attached %v", n, a)
		}
		check("ppt again", devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, "ppt"), nil)
		check("clear, without DEVF_CLEAR_DRIVER_DETACH", devctl(t, k, abi.DEV_CLEAR_DRIVER, dev, 0, ""), unix.EBUSY)

		// After a detach the class stays: named ppt, not attached, and
		// DEV_SET_DRIVER to ppt answers 0 without probing.
		check("detach ppt0", devctl(t, k, abi.DEV_DETACH, dev, 0, ""), nil)
		check("detach again", devctl(t, k, abi.DEV_DETACH, dev, 0, ""), unix.ENXIO)
		check("ppt once more", devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, "ppt"), nil)
		if n, a := state(t, k, dev); n != "ppt" || a {
			t.Errorf("detached: %q attached %v, want ppt, not attached", n, a)
		}

		// Clearing probes the device again: up to 14.x ENXIO when no
		// driver takes it, 0 on 15.
		err := devctl(t, k, abi.DEV_CLEAR_DRIVER, dev, abi.DEVF_CLEAR_DRIVER_DETACH, "")
		n, a := state(t, k, dev)
		switch {
		case a:
			check("clear", err, nil)
		case osreldate(t, k) >= 1500000:
			check("clear, no driver", err, nil)
		default:
			check("clear, no driver", err, unix.ENXIO)
		}
		if n == "ppt" {
			t.Errorf("cleared: still named ppt")
		}
		check("clear again", devctl(t, k, abi.DEV_CLEAR_DRIVER, dev, abi.DEVF_CLEAR_DRIVER_DETACH, ""), nil)
	})
}

// With the native driver kept out, clearing leaves the card without a
// driver: ENXIO up to 14.x, 0 on 15.
func TestDevctlClearWithoutDriver(t *testing.T) {
	releases(t, func(t *testing.T, k sys.Sys) {
		fault(t, "native_driver_missing=yes")
		loadVMM(t, k)
		dev := spareDevice(t)
		if err := devctl(t, k, abi.DEV_SET_DRIVER, dev, abi.DEVF_SET_DRIVER_DETACH, "ppt"); err != nil {
			t.Fatal(err)
		}
		err := devctl(t, k, abi.DEV_CLEAR_DRIVER, dev, abi.DEVF_CLEAR_DRIVER_DETACH, "")
		want := error(unix.ENXIO)
		if osreldate(t, k) >= 1500000 {
			want = nil
		}
		if !errors.Is(err, want) {
			t.Errorf("clear: %v, want %v", err, want)
		}
		if n, a := state(t, k, dev); n != "" || a {
			t.Errorf("cleared: %q attached %v, want no driver", n, a)
		}
	})
}
