package kmod

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wifibox/wifibox/host"
)

// PreloadSysctl prints the boot loader's preload metadata: a record per
// file the loader loaded, kept while the file is loaded (sys/kern/
// subr_module.c sysctl_preload_dump, preload_dump_internal; linked by
// sys/kern/kern_linker.c linker_preload).
const PreloadSysctl = "debug.dump_modinfo"

// Preloaded tells whether the boot loader loaded file (vmm_load="YES" in
// loader.conf): the preload metadata has a MODINFO_NAME record naming it.
// The kernel never unloads such a file: it has no user reference, and
// kern_kldunload (kern_linker.c) answers EBUSY for it.
func Preloaded(k host.Kernel, file string) (bool, error) {
	dump, err := k.SysctlString(PreloadSysctl)
	if err != nil {
		return false, fmt.Errorf("read the boot loader's files: %w", err)
	}
	return slices.Contains(preloadedNames(dump), filepath.Clean(file)), nil
}

// preloadedNames gives the values of the MODINFO_NAME records of a
// debug.dump_modinfo text: each record is a line " ADDRESS:" then
// "\ttype:\t(0x01) MODINFO_NAME", "\tlen:\tN" and "\tvalue:\tNAME".
func preloadedNames(dump string) []string {
	var names []string
	name := false
	for _, line := range strings.Split(dump, "\n") {
		key, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		value = strings.TrimSpace(value)
		switch key {
		case "type":
			name = strings.HasSuffix(value, " MODINFO_NAME")
		case "value":
			if name {
				names = append(names, filepath.Clean(value))
			}
			name = false
		}
	}
	return names
}
