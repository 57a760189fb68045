package abi_test

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/internal/abitest"
)

// TestNet pins the numbers and layouts of abi/net.go and abi/route.go.
func TestNet(t *testing.T) {
	var (
		flags abi.IfreqFlags
		data  abi.IfreqData
		buf   abi.IfreqBuffer
		drv   abi.Ifdrv
		breq  abi.Ifbreq
		conf  abi.Ifbifconf
		msgl  abi.IfMsghdrl
		msg   abi.IfMsghdr
		ann   abi.IfAnnounceMsghdr
		sdl   abi.RawSockaddrDatalink
	)
	abitest.Check(t, map[string]int64{
		"BRDGADD":            abi.BRDGADD,
		"BRDGDEL":            abi.BRDGDEL,
		"BRDGGIFS":           abi.BRDGGIFS,
		"IFBIF_LEARNING":     abi.IFBIF_LEARNING,
		"IFBIF_DISCOVER":     abi.IFBIF_DISCOVER,
		"IFBIF_SPAN":         abi.IFBIF_SPAN,
		"IFT_ETHER":          abi.IFT_ETHER,
		"IFT_LOOP":           abi.IFT_LOOP,
		"LINK_STATE_UNKNOWN": abi.LINK_STATE_UNKNOWN,
		"LINK_STATE_DOWN":    abi.LINK_STATE_DOWN,
		"LINK_STATE_UP":      abi.LINK_STATE_UP,
		"ifdescr_maxlen":     abi.IFDESCRSIZE,

		"sizeof.ifreq":                       int64(unsafe.Sizeof(flags)),
		"sizeof.ifreq_13":                    int64(unsafe.Sizeof(data)),
		"offsetof.ifreq.ifr_name":            int64(unsafe.Offsetof(flags.Name)),
		"offsetof.ifreq.ifr_ifru.ifru_flags": int64(unsafe.Offsetof(flags.Flags)),
		"offsetof.ifreq.ifr_flagshigh":       int64(unsafe.Offsetof(flags.FlagsHigh)),
		"offsetof.ifreq.ifr_ifru.ifru_data":  int64(unsafe.Offsetof(data.Data)),
		"offsetof.ifreq.ifr_buffer.length":   int64(unsafe.Offsetof(buf.Length)),
		"offsetof.ifreq.ifr_buffer.buffer":   int64(unsafe.Offsetof(buf.Buffer)),
		"sizeof.ifreq.ifr_buffer":            int64(unsafe.Sizeof(buf)),
		"sizeof.ifdrv":                       int64(unsafe.Sizeof(drv)),
		"offsetof.ifdrv.ifd_name":            int64(unsafe.Offsetof(drv.Name)),
		"offsetof.ifdrv.ifd_cmd":             int64(unsafe.Offsetof(drv.Cmd)),
		"offsetof.ifdrv.ifd_len":             int64(unsafe.Offsetof(drv.Len)),
		"offsetof.ifdrv.ifd_data":            int64(unsafe.Offsetof(drv.Data)),
		"sizeof.ifbreq":                      int64(unsafe.Sizeof(breq)),
		"offsetof.ifbreq.ifbr_ifsname":       int64(unsafe.Offsetof(breq.IfsName)),
		"offsetof.ifbreq.ifbr_ifsflags":      int64(unsafe.Offsetof(breq.IfsFlags)),
		"offsetof.ifbreq.ifbr_stpflags":      int64(unsafe.Offsetof(breq.StpFlags)),
		"offsetof.ifbreq.ifbr_path_cost":     int64(unsafe.Offsetof(breq.PathCost)),
		"offsetof.ifbreq.ifbr_portno":        int64(unsafe.Offsetof(breq.PortNo)),
		"offsetof.ifbreq.ifbr_priority":      int64(unsafe.Offsetof(breq.Priority)),
		"offsetof.ifbreq.ifbr_proto":         int64(unsafe.Offsetof(breq.Proto)),
		"offsetof.ifbreq.ifbr_role":          int64(unsafe.Offsetof(breq.Role)),
		"offsetof.ifbreq.ifbr_state":         int64(unsafe.Offsetof(breq.State)),
		"offsetof.ifbreq.ifbr_addrcnt":       int64(unsafe.Offsetof(breq.AddrCnt)),
		"offsetof.ifbreq.ifbr_addrmax":       int64(unsafe.Offsetof(breq.AddrMax)),
		"offsetof.ifbreq.ifbr_addrexceeded":  int64(unsafe.Offsetof(breq.AddrExceeded)),
		"offsetof.ifbreq.pad":                int64(unsafe.Offsetof(breq.Pad)),
		"sizeof.ifbifconf":                   int64(unsafe.Sizeof(conf)),
		"offsetof.ifbifconf.ifbic_len":       int64(unsafe.Offsetof(conf.Len)),
		"offsetof.ifbifconf.ifbic_ifbicu":    int64(unsafe.Offsetof(conf.Buf)),
		"offsetof.if_data.ifi_type":          int64(unsafe.Offsetof(msg.Data.Type)),
		"offsetof.if_data.ifi_datalen":       int64(unsafe.Offsetof(msg.Data.Datalen)),
		"offsetof.if_data.ifi_mtu":           int64(unsafe.Offsetof(msg.Data.Mtu)),
		"sizeof.if_msghdrl":                  int64(unsafe.Sizeof(msgl)),
		"offsetof.if_msghdrl.ifm_msglen":     int64(unsafe.Offsetof(msgl.Msglen)),
		"offsetof.if_msghdrl.ifm_version":    int64(unsafe.Offsetof(msgl.Version)),
		"offsetof.if_msghdrl.ifm_type":       int64(unsafe.Offsetof(msgl.Type)),
		"offsetof.if_msghdrl.ifm_addrs":      int64(unsafe.Offsetof(msgl.Addrs)),
		"offsetof.if_msghdrl.ifm_flags":      int64(unsafe.Offsetof(msgl.Flags)),
		"offsetof.if_msghdrl.ifm_index":      int64(unsafe.Offsetof(msgl.Index)),
		"offsetof.if_msghdrl.ifm_len":        int64(unsafe.Offsetof(msgl.Len)),
		"offsetof.if_msghdrl.ifm_data_off":   int64(unsafe.Offsetof(msgl.DataOff)),
		"offsetof.if_msghdrl.ifm_data":       int64(unsafe.Offsetof(msgl.Data)),
	})
	// encoding/binary reads and writes the messages as the kernel lays
	// them out only if no padding goes unnamed.
	for name, size := range map[string][2]int{
		"if_msghdr":         {binary.Size(&msg), int(unsafe.Sizeof(msg))},
		"if_msghdrl":        {binary.Size(&msgl), int(unsafe.Sizeof(msgl))},
		"if_announcemsghdr": {binary.Size(&ann), int(unsafe.Sizeof(ann))},
		"sockaddr_dl":       {binary.Size(&sdl), int(unsafe.Sizeof(sdl))},
	} {
		if size[0] != size[1] {
			t.Errorf("%s: encoding/binary sees %d bytes, the struct has %d", name, size[0], size[1])
		}
	}
}

// TestKinfoProc pins the facts of struct kinfo_proc that x/sys lacks.
func TestKinfoProc(t *testing.T) {
	abitest.Check(t, map[string]int64{
		"sizeof.kinfo_proc":                 abi.SizeofKinfoProc,
		"offsetof.kinfo_proc.ki_structsize": abi.OffsetofKiStructsize,
		"offsetof.kinfo_proc.ki_pid":        abi.OffsetofKiPid,
		"offsetof.kinfo_proc.ki_ppid":       abi.OffsetofKiPpid,
	})
}
