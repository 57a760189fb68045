package kmod

import (
	"strings"
	"testing"

	"github.com/wifibox/wifibox/abi"
)

// The hints of the errors the model cannot give: vmm failing to start.
func TestLoadHint(t *testing.T) {
	for _, tt := range []struct {
		file string
		err  abi.Errno
		want string
	}{
		{"/boot/kernel/vmm.ko", abi.ENXIO, "VT-x or AMD-V"},
		{"/boot/kernel/vmm.ko", abi.ENOEXEC, "nested virtualisation"},
		{"/boot/kernel/nmdm.ko", abi.ENOEXEC, "see dmesg"},
	} {
		if got := loadHint(tt.file, tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("loadHint(%s, %v) = %q, want it to say %q", tt.file, tt.err, got, tt.want)
		}
	}
}

func TestDecodeInt(t *testing.T) {
	if _, err := decodeInt([]byte{1, 2}); err == nil || err.Error() != "2 bytes is no integer" {
		t.Errorf("decodeInt of 2 bytes: %v", err)
	}
	if n, err := decodeInt([]byte{0xff, 0xff, 0xff, 0xff}); err != nil || n != -1 {
		t.Errorf("decodeInt of an int -1 = %d, %v", n, err)
	}
	if n, err := decodeInt([]byte{0, 0, 0, 0, 4, 0, 0, 0}); err != nil || n != 1<<34 {
		t.Errorf("decodeInt of a long = %d, %v", n, err)
	}
}
