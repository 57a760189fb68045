package kmod

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPreloadedNames reads the names out of debug.dump_modinfo's text as
// preload_dump_internal prints it, other records' values aside.
func TestPreloadedNames(t *testing.T) {
	dump := "\n 0xffffffff82a6b000:\n\ttype:\t(0x01) MODINFO_NAME\n\tlen:\t20\n\tvalue:\t/boot/kernel/kernel\n" +
		" 0xffffffff82a6b020:\n\ttype:\t(0x02) MODINFO_TYPE\n\tlen:\t12\n\tvalue:\telf kernel\n" +
		" 0xffffffff82a6b038:\n\ttype:\t(0x8009) MODINFO_METADATA | MODINFOMD_HOWTO\n\tlen:\t4\n\tvalue:\t0x00000800\n" +
		" 0xffffffff82a6b048:\n\ttype:\t(0x01) MODINFO_NAME\n\tlen:\t20\n\tvalue:\t/boot/kernel/vmm.ko\n" +
		" 0xffffffff82a6b068:\n\ttype:\t(0x02) MODINFO_TYPE\n\tlen:\t15\n\tvalue:\telf obj module\n"
	want := []string{"/boot/kernel/kernel", "/boot/kernel/vmm.ko"}
	if diff := cmp.Diff(want, preloadedNames(dump)); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}
