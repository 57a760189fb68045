package kmod

import (
	"fmt"
	"path/filepath"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// model is FreeBSD's kernel linker as kmod sees it through the syscalls
// seam: files in load order (the kernel itself first, id 1, holding the
// built-in modules), the modules of each, the module files on disk, and
// sysctls. It answers with the errno FreeBSD's kern_linker.c and
// kern_module.c answer.
type model struct {
	files    []*modelFile
	disk     map[string][]string   // module file path -> the modules in it
	loadErr  map[string]unix.Errno // path -> MOD_LOAD failure (vmm without VT-x)
	veto     map[string]unix.Errno // module -> MOD_UNLOAD failure (vmm with VMs)
	held     map[string]bool       // path -> another loaded file depends on it
	sysctls  map[string][]byte
	calls    []string // kldload and kldunload calls, for the tests
	nextFile int
	nextMod  int
}

type modelFile struct {
	id   int
	path string
	mods []modelMod
}

type modelMod struct {
	id   int
	name string
}

// newModel gives a kernel with the built-in modules and the module files
// on disk.
func newModel(builtin []string, disk map[string][]string) *model {
	m := &model{
		disk:     disk,
		loadErr:  map[string]unix.Errno{},
		veto:     map[string]unix.Errno{},
		held:     map[string]bool{},
		sysctls:  map[string][]byte{},
		nextFile: 1,
		nextMod:  1,
	}
	m.add("/boot/kernel/kernel", builtin)
	return m
}

func (m *model) add(path string, mods []string) int {
	f := &modelFile{id: m.nextFile, path: path}
	m.nextFile++
	for _, name := range mods {
		f.mods = append(f.mods, modelMod{id: m.nextMod, name: name})
		m.nextMod++
	}
	m.files = append(m.files, f)
	return f.id
}

func (m *model) file(id int) (int, *modelFile) {
	for i, f := range m.files {
		if f.id == id {
			return i, f
		}
	}
	return -1, nil
}

// module finds a present module: its file and id.
func (m *model) module(name string) (*modelFile, int) {
	for _, f := range m.files {
		for _, mod := range f.mods {
			if mod.name == name {
				return f, mod.id
			}
		}
	}
	return nil, 0
}

func (m *model) kldload(file string) (int, error) {
	m.calls = append(m.calls, "kldload "+file)
	mods, ok := m.disk[file]
	if !ok {
		return 0, unix.ENOENT
	}
	for _, f := range m.files {
		if filepath.Base(f.path) == filepath.Base(file) {
			return 0, unix.EEXIST
		}
	}
	for _, name := range mods {
		if f, _ := m.module(name); f != nil {
			return 0, unix.EEXIST
		}
	}
	if errno := m.loadErr[file]; errno != 0 {
		return 0, errno
	}
	return m.add(file, mods), nil
}

func (m *model) kldunload(fileid int) error {
	i, f := m.file(fileid)
	if f == nil {
		m.calls = append(m.calls, fmt.Sprintf("kldunload %d", fileid))
		return unix.ENOENT
	}
	m.calls = append(m.calls, "kldunload "+f.path)
	if m.held[f.path] { // kern_linker.c only drops a reference
		return nil
	}
	for _, mod := range f.mods {
		if errno := m.veto[mod.name]; errno != 0 {
			return errno
		}
	}
	m.files = slices.Delete(m.files, i, i+1)
	return nil
}

func (m *model) kldnext(fileid int) (int, error) {
	if fileid == 0 {
		return m.files[0].id, nil
	}
	i, f := m.file(fileid)
	switch {
	case f == nil:
		return 0, unix.ENOENT
	case i+1 == len(m.files):
		return 0, nil
	}
	return m.files[i+1].id, nil
}

func (m *model) kldstat(fileid int, stat *kldFileStat) error {
	if stat.version != int32(unsafe.Sizeof(kldFileStat{})) {
		return unix.EINVAL
	}
	_, f := m.file(fileid)
	if f == nil {
		return unix.ENOENT
	}
	copy(stat.name[:], filepath.Base(f.path)+"\x00")
	copy(stat.pathname[:], f.path+"\x00")
	stat.id = int32(f.id)
	stat.refs = 1
	return nil
}

func (m *model) kldfirstmod(fileid int) (int, error) {
	_, f := m.file(fileid)
	switch {
	case f == nil:
		return 0, unix.ENOENT
	case len(f.mods) == 0:
		return 0, nil
	}
	return f.mods[0].id, nil
}

func (m *model) modfnext(modid int) (int, error) {
	for _, f := range m.files {
		for i, mod := range f.mods {
			if mod.id != modid {
				continue
			}
			if i+1 == len(f.mods) {
				return 0, nil
			}
			return f.mods[i+1].id, nil
		}
	}
	return 0, unix.ENOENT
}

func (m *model) modfind(name string) (int, error) {
	if _, id := m.module(name); id != 0 {
		return id, nil
	}
	return 0, unix.ENOENT
}

func (m *model) sysctl(name string) ([]byte, error) {
	b, ok := m.sysctls[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return b, nil
}
