package launch

import (
	"encoding/binary"
	"strings"
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/internal/abitest"
)

// TestABI pins every number and layout the package uses for FreeBSD.
func TestABI(t *testing.T) {
	var m ifMsghdr
	abitest.Check(t, map[string]int64{
		"RTM_VERSION":                     _RTM_VERSION,
		"RTM_IFINFO":                      _RTM_IFINFO,
		"LINK_STATE_UP":                   _LINK_STATE_UP,
		"sizeof.if_msghdr":                int64(unsafe.Sizeof(m)),
		"offsetof.if_msghdr.ifm_msglen":   int64(unsafe.Offsetof(m.MsgLen)),
		"offsetof.if_msghdr.ifm_version":  int64(unsafe.Offsetof(m.Version)),
		"offsetof.if_msghdr.ifm_type":     int64(unsafe.Offsetof(m.Type)),
		"offsetof.if_msghdr.ifm_addrs":    int64(unsafe.Offsetof(m.Addrs)),
		"offsetof.if_msghdr.ifm_flags":    int64(unsafe.Offsetof(m.Flags)),
		"offsetof.if_msghdr.ifm_index":    int64(unsafe.Offsetof(m.Index)),
		"offsetof.if_msghdr.ifm_data":     int64(unsafe.Offsetof(m.Data)),
		"sizeof.if_data":                  int64(unsafe.Sizeof(m.Data)),
		"offsetof.if_data.ifi_type":       int64(unsafe.Offsetof(m.Data.Type)),
		"offsetof.if_data.ifi_link_state": int64(unsafe.Offsetof(m.Data.LinkState)),
	})
	// binary.Decode reads the struct as the kernel lays it out only if
	// it has no padding of its own.
	if n := binary.Size(m); n != int(unsafe.Sizeof(m)) {
		t.Errorf("binary.Size(ifMsghdr) = %d, unsafe.Sizeof = %d", n, unsafe.Sizeof(m))
	}
}

// ifinfo crafts the RTM_IFINFO message rt_ifmsg sends for an interface,
// byte by byte at the offsets pinned in testdata/freebsd-abi.json.
func ifinfo(index uint16, linkState uint8) []byte {
	msg := make([]byte, 168)
	binary.NativeEndian.PutUint16(msg[0:], 168)     // ifm_msglen
	msg[2] = 5                                      // ifm_version
	msg[3] = 0xe                                    // ifm_type RTM_IFINFO
	binary.NativeEndian.PutUint32(msg[8:], 0x8843)  // ifm_flags
	binary.NativeEndian.PutUint16(msg[12:], index)  // ifm_index
	msg[16] = 6                                     // ifi_type IFT_ETHER
	msg[16+4] = linkState                           // ifi_link_state
	binary.NativeEndian.PutUint16(msg[16+6:], 152)  // ifi_datalen
	binary.NativeEndian.PutUint32(msg[16+8:], 1500) // ifi_mtu
	return msg
}

// otherMessage crafts a message of another type (RTM_NEWADDR, 0xc) of the
// given length.
func otherMessage(size int) []byte {
	msg := make([]byte, size)
	binary.NativeEndian.PutUint16(msg, uint16(size))
	msg[2], msg[3] = 5, 0xc
	return msg
}

func TestLinkUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		msg   []byte
		index uint16
		up    bool
	}{
		{"up", ifinfo(7, 2), 7, true},
		{"down", ifinfo(7, 1), 7, false},
		{"unknown", ifinfo(9, 0), 9, false},
		{"other type", otherMessage(100), 0, false},
		{"other type, shorter than if_msghdr", otherMessage(8), 0, false},
	} {
		index, up, err := linkUp(tc.msg)
		if err != nil || index != tc.index || up != tc.up {
			t.Errorf("%s: linkUp = %d, %v, %v; want %d, %v, nil", tc.name, index, up, err, tc.index, tc.up)
		}
	}
}

func TestLinkUpRejects(t *testing.T) {
	long := append(ifinfo(7, 2), make([]byte, 8)...)
	oldVersion := ifinfo(7, 2)
	oldVersion[2] = 4
	for _, tc := range []struct {
		name, want string
		msg        []byte
	}{
		{"empty", "truncated routing message (0 bytes)", nil},
		{"three bytes", "truncated routing message (3 bytes)", []byte{168, 0, 5}},
		{"truncated", "RTM_IFINFO message of 100 bytes", ifinfo(7, 2)[:100]},
		{"header only", "RTM_IFINFO message of 16 bytes", ifinfo(7, 2)[:16]},
		{"longer than it says", "length 168 in 176 bytes", long},
		{"other version", "version 4", oldVersion},
	} {
		_, up, err := linkUp(tc.msg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || up {
			t.Errorf("%s: linkUp gives up %v, error %v; want an error with %q", tc.name, up, err, tc.want)
		}
	}
}
