package conformance

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/sys"
)

// moduleDir is the first directory of kern.module_path.
func moduleDir(t *testing.T, s sys.Sys) string {
	t.Helper()
	b, err := s.Sysctl("kern.module_path")
	if err != nil {
		t.Fatalf("sysctl kern.module_path: %v", err)
	}
	dir, _, _ := strings.Cut(unix.ByteSliceToString(b), ";")
	return dir
}

// wantErrno fails the test unless err is errno.
func wantErrno(t *testing.T, what string, err error, errno abi.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: %v, want %s", what, err, errno.Name())
	}
}

func stat(s sys.Sys, fileid int) (abi.KldFileStat, error) {
	st := abi.KldFileStat{Version: int32(abi.SizeofKldFileStat)}
	err := s.Kldstat(fileid, unsafe.Pointer(&st))
	return st, err
}

// TestKldLoadUnload loads and unloads if_bridge and nmdm, each only when
// it is absent: a module the machine has loaded is left alone (unloading
// if_bridge destroys every bridge).
func TestKldLoadUnload(t *testing.T) {
	for _, name := range []string{"if_bridge", "nmdm"} {
		t.Run(name, func(t *testing.T) {
			s := kernel(t)
			if _, err := s.Modfind(name); err == nil {
				t.Skipf("%s is loaded already; the test does not unload it", name)
			} else {
				wantErrno(t, "modfind of an absent module", err, abi.ENOENT)
			}
			path := filepath.Join(moduleDir(t, s), name+".ko")
			id, err := s.Kldload(path)
			if err != nil {
				t.Fatalf("kldload %s: %v", path, err)
			}
			_, err = s.Kldload(path)
			wantErrno(t, "kldload again", err, abi.EEXIST)
			modid, err := s.Modfind(name)
			if err != nil {
				t.Fatalf("modfind %s after kldload: %v", name, err)
			}

			// The file is in kldnext's list, kldstat describes it and
			// its modules include the one modfind found.
			listed := false
			for f, err := s.Kldnext(0); f != 0; f, err = s.Kldnext(f) {
				if err != nil {
					t.Fatalf("kldnext: %v", err)
				}
				listed = listed || f == id
			}
			if !listed {
				t.Errorf("kldnext does not list file %d", id)
			}
			st, err := stat(s, id)
			if err != nil {
				t.Fatalf("kldstat %d: %v", id, err)
			}
			if got := unix.ByteSliceToString(st.Pathname[:]); got != path {
				t.Errorf("kldstat pathname %q, want %q", got, path)
			}
			if got := unix.ByteSliceToString(st.Name[:]); got != name+".ko" {
				t.Errorf("kldstat name %q, want %q", got, name+".ko")
			}
			if int(st.Id) != id || st.Refs < 1 {
				t.Errorf("kldstat id %d refs %d, want id %d, refs 1 or more", st.Id, st.Refs, id)
			}
			found := false
			m, err := s.Kldfirstmod(id)
			for ; err == nil && m != 0; m, err = s.Modfnext(m) {
				found = found || m == modid
			}
			if err != nil || !found {
				t.Errorf("the modules of file %d do not hold module %d: %v", id, modid, err)
			}

			if err := s.Kldunload(id); err != nil {
				t.Fatalf("kldunload %d: %v", id, err)
			}
			_, err = s.Modfind(name)
			wantErrno(t, "modfind after kldunload", err, abi.ENOENT)
			wantErrno(t, "kldunload again", s.Kldunload(id), abi.ENOENT)
			_, err = stat(s, id)
			wantErrno(t, "kldstat of an unloaded file", err, abi.ENOENT)
			_, err = s.Kldfirstmod(id)
			wantErrno(t, "kldfirstmod of an unloaded file", err, abi.ENOENT)
		})
	}
}

func TestKldErrors(t *testing.T) {
	s := kernel(t)
	_, err := s.Kldload(filepath.Join(moduleDir(t, s), "wifibox_nosuch.ko"))
	wantErrno(t, "kldload of no file", err, abi.ENOENT)
	_, err = s.Modfind("wifibox_nosuch")
	wantErrno(t, "modfind of no module", err, abi.ENOENT)
	// The kernel, file 1, has no user reference.
	wantErrno(t, "kldunload of the kernel", s.Kldunload(1), abi.EBUSY)
	st := abi.KldFileStat{Version: 7}
	wantErrno(t, "kldstat of a wrong version", s.Kldstat(1, unsafe.Pointer(&st)), abi.EINVAL)
	if _, err := stat(s, 1); err != nil {
		t.Errorf("kldstat of the kernel: %v", err)
	}
	if f, err := s.Kldnext(0); err != nil || f != 1 {
		t.Errorf("kldnext(0) = %d, %v; want the kernel, 1", f, err)
	}
	_, err = s.Modfnext(1 << 30)
	wantErrno(t, "modfnext of no module", err, abi.ENOENT)
}

// TestSysctl: integers and strings, and hw.vmm.* present only while vmm
// is loaded.
func TestSysctl(t *testing.T) {
	s := kernel(t)
	if rel := osreldate(t, s); rel < 1300000 {
		t.Errorf("kern.osreldate = %d", rel)
	}
	if b, err := s.Sysctl("kern.module_path"); err != nil || len(b) == 0 || b[len(b)-1] != 0 {
		t.Errorf("kern.module_path = %q, %v; want a NUL-terminated string", b, err)
	}
	_, err := s.Sysctl("kern.wifibox_nosuch")
	wantErrno(t, "sysctl of no node", err, abi.ENOENT)
	_, vmmErr := s.Modfind("vmm")
	_, err = s.Sysctl("hw.vmm.maxcpu")
	if vmmErr == nil && err != nil {
		t.Errorf("hw.vmm.maxcpu with vmm loaded: %v", err)
	}
	if vmmErr != nil {
		wantErrno(t, "hw.vmm.maxcpu without vmm", err, abi.ENOENT)
	}
}

// TestACPITables: machdep.acpi_root leads, through /dev/mem, to the
// firmware's tables, which on every ACPI machine include the FADT
// ("FACP"); kern.securelevel reads as an int.
func TestACPITables(t *testing.T) {
	s := kernel(t)
	tables, err := kmod.New(s).ACPITables()
	if err != nil || !slices.Contains(tables, "FACP") {
		t.Errorf("ACPI tables = %q, %v; want FACP among them", tables, err)
	}
	if b, err := s.Sysctl("kern.securelevel"); err != nil || len(b) != 4 {
		t.Errorf("kern.securelevel = %v, %v; want an int", b, err)
	}
}

// TestPreloadMetadata: debug.dump_modinfo names each file the boot loader
// loaded, the kernel first, by the path kldstat gives it; kmod.Preloaded
// reads it so. On the model, a vmm.ko the loader loaded (vmm_preloaded) is
// named too, and kldunload refuses it for want of a user reference.
func TestPreloadMetadata(t *testing.T) {
	s := kernel(t)
	k := kmod.New(s)
	kernelFile, err := stat(s, 1)
	if err != nil {
		t.Fatalf("kldstat of the kernel: %v", err)
	}
	path := unix.ByteSliceToString(kernelFile.Pathname[:])
	if pre, err := kmod.Preloaded(k, path); err != nil || !pre {
		t.Errorf("Preloaded(%s) = %v, %v; want the kernel named", path, pre, err)
	}
	if pre, err := kmod.Preloaded(k, "/boot/kernel/wifibox_nosuch.ko"); err != nil || pre {
		t.Errorf("Preloaded of no file = %v, %v", pre, err)
	}
	fault(t, "vmm_preloaded=yes")
	m, err := k.Module("vmm")
	if err != nil || !m.Present {
		t.Fatalf("vmm with vmm_preloaded: %+v, %v", m, err)
	}
	if pre, err := kmod.Preloaded(k, m.File); err != nil || !pre {
		t.Errorf("Preloaded(%s) = %v, %v; want it named", m.File, pre, err)
	}
	wantErrno(t, "kldunload of the preloaded vmm.ko", k.Unload("vmm"), abi.EBUSY)
}
