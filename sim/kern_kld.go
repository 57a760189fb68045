package sim

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/internal/trace"
)

// The kernel linker and the module list: kldload(2), kldunload(2),
// kldnext(2), kldstat(2), kldfirstmod(2), modfnext(2) and modfind(2), and
// the sysctls of the modules wifibox loads. Read in sys/kern/kern_linker.c
// (kern_kldload, linker_load_module, linker_search_kld, linker_load_file,
// linker_find_file_by_name, kern_kldunload, linker_file_unload, kern_kldnext,
// kern_kldstat, sys_kldstat, sys_kldfirstmod) and sys/kern/kern_module.c
// (sys_modfind, sys_modfnext, module_unload), freebsd-src 00de0d99 (main,
// 2025) against the 13-era copy 02a6052b: the paths modelled are the same in
// 13.5, 14.x and 15.0. Left out: dependencies between files (refs above 1),
// module versions, kldfind, modnext and modstat, which wifibox does not call.
//
// Files the boot loader loaded (the kernel, and vmm.ko with the
// vmm_preloaded knob) are linked by linker_preload (kern_linker.c) from the
// loader's preload metadata, which keeps a record per file (MODINFO_NAME,
// its path; MODINFO_TYPE; MODINFO_ADDR; MODINFO_SIZE) while the file is
// loaded, and which debug.dump_modinfo prints (sys/kern/subr_module.c
// sysctl_preload_dump, preload_dump_internal; freebsd-src main 014edaa3).
// Such a file has no user reference, so kern_kldunload answers EBUSY for
// it; kldstat shows it as any other file (refs 1, its path).

// preload puts vmm.ko in the linker as the boot loader does with
// vmm_load="YES" (linker_preload: no user reference), when the
// vmm_preloaded knob says so and no vmm is loaded: the knob stands for a
// host booted that way.
func (t *txn) preload() {
	if !t.faults.vmmPreloaded || t.present("vmm") {
		return
	}
	l := &t.st.Linker
	f := &linkerFile{ID: l.NextFile, Path: filepath.Join(t.dir, "boot/kernel/vmm.ko")}
	l.NextFile++
	for _, n := range moduleFiles["vmm.ko"] {
		f.Modules = append(f.Modules, kmodule{ID: l.NextMod, Name: n})
		l.NextMod++
	}
	// The loader's files come first, after the kernel.
	l.Files = slices.Insert(l.Files, 1, f)
}

// preloadDump is debug.dump_modinfo (subr_module.c sysctl_preload_dump,
// preload_dump_internal): each record of the preload metadata as
// " ADDRESS:", then its type, length and value on lines of their own. The
// model has a record per file without a user reference, which only the
// loader's files are in it: the kernel ("elf kernel") and preloaded
// modules ("elf obj module", as amd64's are), each with its name (the
// path), type, address and size.
func (t *txn) preloadDump() []byte {
	var b strings.Builder
	b.WriteString("\n")
	at := uint64(0xffffffff82a00000)
	field := func(typ int, name string, size int, value string) {
		fmt.Fprintf(&b, " %#x:\n\ttype:\t(%#04x) %s\n\tlen:\t%d\n\tvalue:\t%s\n", at, typ, name, size, value)
		at += uint64(8 + (size+7)&^7)
	}
	for _, f := range t.st.Linker.Files {
		if f.UserRefs != 0 {
			continue
		}
		typ := "elf obj module"
		if f.ID == 1 {
			typ = "elf kernel"
		}
		field(0x01, "MODINFO_NAME", len(f.Path)+1, f.Path)
		field(0x02, "MODINFO_TYPE", len(typ)+1, typ)
		field(0x03, "MODINFO_ADDR", 8, fmt.Sprintf("0x%016x", 0xffffffff80200000+uint64(f.ID)<<24))
		field(0x04, "MODINFO_SIZE", 8, strconv.Itoa(1<<20))
	}
	return append([]byte(b.String()), 0)
}

// kernelFile is the kernel itself: the linker's first file, id 1, loaded by
// the boot loader (so no user reference: kldunload answers EBUSY), holding
// the modules built into the kernel. GENERIC builds in if_tuntap (device
// tuntap, sys/amd64/conf/GENERIC), not if_bridge, nmdm or vmm.
func kernelFile() *linkerFile {
	return &linkerFile{ID: 1, Path: "/boot/kernel/kernel", Modules: []kmodule{{ID: 1, Name: "if_tuntap"}}}
}

// moduleFiles are the modules each module file declares
// (DECLARE_MODULE, DEV_MODULE, DRIVER_MODULE): vmm.ko also holds the ppt
// driver (sys/modules/vmm/Makefile builds io/ppt.c in), as module pci/ppt.
// The Wi-Fi cards' drivers: ath(4)'s PCI attachment is
// DRIVER_MODULE(if_ath_pci, pci, ...) (sys/dev/ath/if_ath_pci.c), module
// pci/if_ath_pci of driver ath; iwlwifi is a LinuxKPI driver, which
// declares no module (linux_pci_register_driver adds it to the pci
// devclass from a SYSINIT, sys/compat/linuxkpi/common/src/linux_pci.c).
var moduleFiles = map[string][]string{
	"vmm.ko":        {"vmm", "pci/ppt"},
	"if_bridge.ko":  {"if_bridge"},
	"nmdm.ko":       {"nmdm"},
	"if_tuntap.ko":  {"if_tuntap"},
	"if_iwlwifi.ko": {},
	"if_ath_pci.ko": {"pci/if_ath_pci"},
}

// linker is the kernel linker's state: its files in load order, the
// kernel first, and the next ids to give.
type linker struct {
	Files    []*linkerFile `json:"files"`
	NextFile int           `json:"next_file"`
	NextMod  int           `json:"next_module"`
}

// linkerFile is a loaded file (struct linker_file).
type linkerFile struct {
	ID       int       `json:"id"`
	Path     string    `json:"path"`
	UserRefs int       `json:"userrefs"` // kldload's references
	Modules  []kmodule `json:"modules"`
}

// kmodule is a module of a file (struct module).
type kmodule struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func newLinker() linker {
	return linker{Files: []*linkerFile{kernelFile()}, NextFile: 2, NextMod: 2}
}

// file gives the loaded file of that id (linker_find_file_by_id).
func (l *linker) file(id int) *linkerFile {
	for _, f := range l.Files {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// module gives the file holding a module and the module's id
// (modlist_lookup, module_lookupbyname).
func (l *linker) module(name string) (*linkerFile, int) {
	for _, f := range l.Files {
		for _, m := range f.Modules {
			if m.Name == name {
				return f, m.ID
			}
		}
	}
	return nil, 0
}

// present tells whether a module is loaded or built in.
func (t *txn) present(module string) bool {
	f, _ := t.st.Linker.module(module)
	return f != nil
}

// modulePath is kern.module_path (kern_linker.c, linker_path,
// SYSCTL_STRING(_kern, OID_AUTO, module_path, CTLFLAG_RWTUN)): the boot
// loader's "/boot/kernel;/boot/modules" under the simulated host, or with
// module_files_missing a directory holding no module.
func (t *txn) modulePath() []string {
	kernel := filepath.Join(t.dir, "boot/kernel")
	if t.faults.moduleFilesMissing {
		kernel = filepath.Join(t.dir, "boot/missing")
	}
	return []string{kernel, filepath.Join(t.dir, "boot/modules")}
}

// kldload reproduces kern_kldload and linker_load_module: EPERM above
// securelevel 0; a name with neither '/' nor '.' is a module searched as
// NAME.ko in kern.module_path, EEXIST when it is present; a name with '/'
// is the path itself, one with only a '.' is searched in kern.module_path
// (linker_search_kld); ENOENT when no file is found; EEXIST when a file of
// the same base name is loaded (linker_find_file_by_name) or a module of
// the file is present (linker_file_register_modules); ENOEXEC for a file
// the linker cannot load (linker_load_file). The new file gets one user
// reference.
func (t *txn) kldload(file string) (int, error) {
	if t.faults.securelevel > 0 {
		return 0, abi.EPERM
	}
	l := &t.st.Linker
	kldname := file
	if !strings.ContainsAny(file, "/.") {
		if t.present(file) {
			return 0, abi.EEXIST
		}
		kldname = file + ".ko"
	}
	path := t.searchKld(kldname)
	if path == "" {
		return 0, abi.ENOENT
	}
	base := filepath.Base(path)
	for _, f := range l.Files {
		if filepath.Base(f.Path) == base {
			return 0, abi.EEXIST
		}
	}
	names, known := moduleFiles[base]
	if !known {
		return 0, abi.ENOEXEC
	}
	for _, n := range names {
		if t.present(n) {
			return 0, abi.EEXIST
		}
	}
	f := &linkerFile{ID: l.NextFile, Path: path, UserRefs: 1}
	l.NextFile++
	for _, n := range names {
		f.Modules = append(f.Modules, kmodule{ID: l.NextMod, Name: n})
		l.NextMod++
	}
	l.Files = append(l.Files, f)
	return f.ID, nil
}

// searchKld finds a file to load (linker_search_kld): a name with '/' is
// taken as it is; any other is looked for in each directory of
// kern.module_path. "" when there is no such file.
func (t *txn) searchKld(name string) string {
	candidates := []string{name}
	if !strings.Contains(name, "/") {
		candidates = nil
		for _, dir := range t.modulePath() {
			candidates = append(candidates, filepath.Join(dir, name))
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// kldunload reproduces kern_kldunload and linker_file_unload: EPERM above
// securelevel 0, ENOENT for no such file, EBUSY for a file without user
// reference (the kernel, and files the loader loaded), and each module's
// veto of MOD_UNLOAD (unloadVeto). Unloading a module runs its
// MOD_UNLOAD: if_bridge's destroys every bridge.
func (t *txn) kldunload(id int) error {
	if t.faults.securelevel > 0 {
		return abi.EPERM
	}
	l := &t.st.Linker
	f := l.file(id)
	switch {
	case f == nil:
		return abi.ENOENT
	case f.UserRefs == 0:
		return abi.EBUSY
	}
	for _, m := range f.Modules {
		if err := t.unloadVeto(m.Name); err != nil {
			return err
		}
	}
	for _, m := range f.Modules {
		if m.Name == "if_bridge" {
			// bridge_modevent MOD_UNLOAD: if_clone_detach destroys
			// every bridge (sys/net/if_bridge.c).
			t.st.Interfaces = slices.DeleteFunc(t.st.Interfaces, func(i *iface) bool { return i.Kind == "bridge" })
		}
	}
	l.Files = slices.DeleteFunc(l.Files, func(g *linkerFile) bool { return g == f })
	if !t.present("vmm") {
		t.st.IOMMUInitialized = false // iommu_cleanup at vmm's MOD_UNLOAD
	}
	return nil
}

// unloadVeto is a module's answer to MOD_UNLOAD. vmm (sys/amd64/vmm/vmm.c
// vmm_handler, sys/dev/vmm/vmm_dev.c vmmdev_cleanup) refuses with EBUSY
// while a VM exists. The ppt driver in the same file refuses to detach a
// device assigned to a VM (sys/amd64/vmm/io/ppt.c ppt_detach), which only
// a VM that exists has; the others FreeBSD detaches, leaving them without
// a driver, which the model leaves out: it refuses while any device is
// attached to ppt. The vmm_busy knob stands for a VM of another program.
func (t *txn) unloadVeto(module string) error {
	if module == "vmm" && (t.anyVM() || t.pptDevices() > 0 || t.faults.vmmBusy) {
		return abi.EBUSY
	}
	return nil
}

// Kldload loads a module file (kern_kldload), traced as
// "kldload /boot/kernel/vmm.ko".
func (k *Kernel) Kldload(file string) (int, error) {
	var id int
	err := k.s.syscall(trace.Kldload(k.s.strip(file)), privileged, func(t *txn) error {
		var err error
		id, err = t.kldload(file)
		return err
	})
	return id, err
}

// Kldunload unloads a file (kern_kldunload), traced with the file's
// name as "kldunload vmm".
func (k *Kernel) Kldunload(fileid int) error {
	return k.s.syscall(trace.Kldunload(strconv.Itoa(fileid)), privileged, func(t *txn) error {
		if f := t.st.Linker.file(fileid); f != nil {
			t.line = trace.Kldunload(strings.TrimSuffix(filepath.Base(f.Path), ".ko"))
		}
		return t.kldunload(fileid)
	})
}

// Kldnext gives the file after fileid, the first for 0, and 0 after the
// last (kern_kldnext); ENOENT for no such file.
func (k *Kernel) Kldnext(fileid int) (int, error) {
	next := 0
	err := k.s.syscall("kldnext", query, func(t *txn) error {
		files := t.st.Linker.Files
		i := 0
		if fileid != 0 {
			i = slices.IndexFunc(files, func(f *linkerFile) bool { return f.ID == fileid })
			if i < 0 {
				return abi.ENOENT
			}
			i++
		}
		if i < len(files) {
			next = files[i].ID
		}
		return nil
	})
	return next, err
}

// Kldstat fills struct kld_file_stat (sys_kldstat, kern_kldstat): EINVAL
// unless version is the size of version 2 or 1 (version 1 has no
// pathname), ENOENT for no such file.
func (k *Kernel) Kldstat(fileid int, stat unsafe.Pointer) error {
	return k.s.syscall("kldstat", query, func(t *txn) error {
		s := (*abi.KldFileStat)(stat)
		version := int(s.Version)
		if version != abi.SizeofKldFileStat && version != abi.SizeofKldFileStat1 {
			return abi.EINVAL
		}
		f := t.st.Linker.file(fileid)
		if f == nil {
			return abi.ENOENT
		}
		raw := unsafe.Slice((*byte)(stat), version)
		putCString(raw[unsafe.Offsetof(s.Name):][:abi.MAXPATHLEN], filepath.Base(f.Path))
		binary.NativeEndian.PutUint32(raw[unsafe.Offsetof(s.Refs):], uint32(max(f.UserRefs, 1)))
		binary.NativeEndian.PutUint32(raw[unsafe.Offsetof(s.Id):], uint32(f.ID))
		binary.NativeEndian.PutUint64(raw[unsafe.Offsetof(s.Address):], 0xffffffff80200000+uint64(f.ID)<<24)
		binary.NativeEndian.PutUint64(raw[unsafe.Offsetof(s.Size):], 1<<20)
		if version == abi.SizeofKldFileStat {
			putCString(raw[unsafe.Offsetof(s.Pathname):][:abi.MAXPATHLEN], f.Path)
		}
		return nil
	})
}

// putCString copies s into a C char array, NUL-terminated (strlcpy).
func putCString(dst []byte, s string) {
	n := copy(dst[:len(dst)-1], s)
	clear(dst[n:])
}

// Kldfirstmod gives the id of a file's first module, 0 if it has none
// (sys_kldfirstmod); ENOENT for no such file.
func (k *Kernel) Kldfirstmod(fileid int) (int, error) {
	first := 0
	err := k.s.syscall("kldfirstmod", query, func(t *txn) error {
		f := t.st.Linker.file(fileid)
		if f == nil {
			return abi.ENOENT
		}
		if len(f.Modules) > 0 {
			first = f.Modules[0].ID
		}
		return nil
	})
	return first, err
}

// Modfnext gives the id of the next module of the same file, 0 after the
// last (sys_modfnext); ENOENT for no such module.
func (k *Kernel) Modfnext(modid int) (int, error) {
	next := 0
	err := k.s.syscall("modfnext", query, func(t *txn) error {
		for _, f := range t.st.Linker.Files {
			for i, m := range f.Modules {
				if m.ID != modid {
					continue
				}
				if i+1 < len(f.Modules) {
					next = f.Modules[i+1].ID
				}
				return nil
			}
		}
		return abi.ENOENT
	})
	return next, err
}

// Modfind gives the id of a module by name (sys_modfind); ENOENT when no
// loaded file and not the kernel holds it.
func (k *Kernel) Modfind(name string) (int, error) {
	id := 0
	err := k.s.syscall("modfind "+name, query, func(t *txn) error {
		if _, id = t.st.Linker.module(name); id == 0 {
			return abi.ENOENT
		}
		return nil
	})
	return id, err
}

// The sysctls of the modules, each absent (ENOENT, as sysctlbyname answers
// for no such node) while the module that registers it is not present.
func init() {
	// kern.module_path: kern_linker.c, SYSCTL_STRING(_kern, OID_AUTO,
	// module_path, ...): a string, read with its NUL.
	sysctls["kern.module_path"] = func(t *txn, _ []int) ([]byte, error) {
		return append([]byte(strings.Join(t.modulePath(), ";")), 0), nil
	}
	// debug.dump_modinfo: subr_module.c, SYSCTL_PROC(_debug, OID_AUTO,
	// dump_modinfo, CTLTYPE_STRING | CTLFLAG_RD, ...): the preload
	// metadata as text (preloadDump).
	sysctls["debug.dump_modinfo"] = func(t *txn, _ []int) ([]byte, error) {
		return t.preloadDump(), nil
	}
	// hw.vmm.maxcpu: sys/amd64/vmm/vmm.c, SYSCTL_UINT(_hw_vmm, OID_AUTO,
	// maxcpu, CTLFLAG_RDTUN, &vm_maxcpu, ...) (14.x; sys/dev/vmm on 15.0).
	sysctls["hw.vmm.maxcpu"] = vmmSysctl(func(t *txn) uint32 { return maxCPU })
	// hw.vmm.iommu.enable: sys/amd64/vmm/io/iommu.c, SYSCTL_INT(
	// _hw_vmm_iommu, OID_AUTO, enable, CTLFLAG_RDTUN, &iommu_enable, ...),
	// 1 unless the hw.vmm.iommu.enable tunable says 0 (iommu_disabled).
	sysctls["hw.vmm.iommu.enable"] = vmmSysctl(func(t *txn) uint32 {
		if t.faults.iommuDisabled {
			return 0
		}
		return 1
	})
	// hw.vmm.iommu.initialized: iommu.c, SYSCTL_INT(_hw_vmm_iommu,
	// OID_AUTO, initialized, CTLFLAG_RD, &iommu_avail, ...): 0 until
	// iommu_init succeeds, which it does lazily, at the first
	// iommu_create_domain (vmm.c vm_assign_pptdev, a VM's first
	// passthru device), and only with an IOMMU.
	sysctls["hw.vmm.iommu.initialized"] = vmmSysctl(func(t *txn) uint32 {
		if t.st.IOMMUInitialized {
			return 1
		}
		return 0
	})
	// hw.vmm.amdvi.count: amdvi_hw.c, SYSCTL_INT(_hw_vmm_amdvi, OID_AUTO,
	// count, CTLFLAG_RDTUN, &ivhd_count, ...): the AMD-Vi units
	// (IVHDs) ivrs_drv.c found in the ACPI IVRS table when vmm loaded;
	// 0 on an Intel machine, or one without AMD-Vi (iommu=none).
	sysctls["hw.vmm.amdvi.count"] = vmmSysctl(func(t *txn) uint32 {
		if t.faults.cpuVendor == "amd" && !t.faults.noIOMMU {
			return 1
		}
		return 0
	})
	// hw.vmm.ppt.devices: sys/amd64/vmm/io/ppt.c, SYSCTL_INT(_hw_vmm_ppt,
	// OID_AUTO, devices, CTLFLAG_RD, &num_pptdevs, ...).
	sysctls["hw.vmm.ppt.devices"] = vmmSysctl(func(t *txn) uint32 { return uint32(t.pptDevices()) })
	// hw.vmm.amdvi.enable: sys/amd64/vmm/amd/amdvi_hw.c, SYSCTL_INT(
	// _hw_vmm_amdvi, OID_AUTO, enable, CTLFLAG_RDTUN, &amdvi_enable_user,
	// ...), 0 unless the loader tunable says 1 (amdvi_enable). vmm.ko
	// holds amdvi_hw.c on every CPU (sys/modules/vmm/Makefile), so the
	// node is there on an Intel machine too.
	sysctls["hw.vmm.amdvi.enable"] = vmmSysctl(func(t *txn) uint32 {
		if t.faults.amdviEnable {
			return 1
		}
		return 0
	})
}

// maxCPU is hw.vmm.maxcpu of the simulated host.
const maxCPU = 16

// vmmSysctl is an int sysctl of vmm.ko, absent while vmm is not loaded.
func vmmSysctl(value func(t *txn) uint32) sysctlNode {
	return func(t *txn, _ []int) ([]byte, error) {
		if !t.present("vmm") {
			return nil, abi.ENOENT
		}
		return binary.LittleEndian.AppendUint32(nil, value(t)), nil
	}
}
