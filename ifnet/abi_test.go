package ifnet

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/internal/abitest"
	"golang.org/x/sys/unix"
)

// TestABI pins every number and layout the package uses for FreeBSD.
func TestABI(t *testing.T) {
	var (
		flags ifreqFlags
		data  ifreqData
		drv   ifdrv
		breq  ifbreq
		conf  ifbifconf
		msg   ifMsghdrl
		sdl   sockaddrDl
	)
	abitest.Check(t, map[string]int64{
		"IFNAMSIZ":            ifNameSize,
		"ioctl.SIOCSIFFLAGS":  _SIOCSIFFLAGS,
		"ioctl.SIOCGIFFLAGS":  _SIOCGIFFLAGS,
		"ioctl.SIOCSIFNAME":   _SIOCSIFNAME,
		"ioctl.SIOCIFDESTROY": _SIOCIFDESTROY,
		"ioctl.SIOCSDRVSPEC":  _SIOCSDRVSPEC,
		"ioctl.SIOCGDRVSPEC":  _SIOCGDRVSPEC,
		"ioctl.SIOCIFCREATE2": _SIOCIFCREATE2,
		"IFF_UP":              _IFF_UP,
		"BRDGADD":             _BRDGADD,
		"BRDGDEL":             _BRDGDEL,
		"BRDGGIFS":            _BRDGGIFS,
		"IFBIF_SPAN":          _IFBIF_SPAN,
		"IFT_ETHER":           _IFT_ETHER,
		"IFT_LOOP":            _IFT_LOOP,
		"IFT_BRIDGE":          _IFT_BRIDGE,
		"NET_RT_IFLISTL":      _NET_RT_IFLISTL,
		"RTM_IFINFO":          _RTM_IFINFO,
		"RTA_IFP":             _RTA_IFP,
		"AF_LINK":             _AF_LINK,

		"sizeof.ifreq":                       int64(unsafe.Sizeof(flags)),
		"sizeof.ifreq_13":                    int64(unsafe.Sizeof(data)),
		"offsetof.ifreq.ifr_name":            int64(unsafe.Offsetof(flags.Name)),
		"offsetof.ifreq.ifr_ifru.ifru_flags": int64(unsafe.Offsetof(flags.Flags)),
		"offsetof.ifreq.ifr_flagshigh":       int64(unsafe.Offsetof(flags.FlagsHigh)),
		"offsetof.ifreq.ifr_ifru.ifru_data":  int64(unsafe.Offsetof(data.Data)),

		"sizeof.ifdrv":            int64(unsafe.Sizeof(drv)),
		"offsetof.ifdrv.ifd_name": int64(unsafe.Offsetof(drv.Name)),
		"offsetof.ifdrv.ifd_cmd":  int64(unsafe.Offsetof(drv.Cmd)),
		"offsetof.ifdrv.ifd_len":  int64(unsafe.Offsetof(drv.Len)),
		"offsetof.ifdrv.ifd_data": int64(unsafe.Offsetof(drv.Data)),

		"sizeof.ifbreq":                     int64(unsafe.Sizeof(breq)),
		"offsetof.ifbreq.ifbr_ifsname":      int64(unsafe.Offsetof(breq.IfsName)),
		"offsetof.ifbreq.ifbr_ifsflags":     int64(unsafe.Offsetof(breq.IfsFlags)),
		"offsetof.ifbreq.ifbr_stpflags":     int64(unsafe.Offsetof(breq.StpFlags)),
		"offsetof.ifbreq.ifbr_path_cost":    int64(unsafe.Offsetof(breq.PathCost)),
		"offsetof.ifbreq.ifbr_portno":       int64(unsafe.Offsetof(breq.PortNo)),
		"offsetof.ifbreq.ifbr_priority":     int64(unsafe.Offsetof(breq.Priority)),
		"offsetof.ifbreq.ifbr_proto":        int64(unsafe.Offsetof(breq.Proto)),
		"offsetof.ifbreq.ifbr_role":         int64(unsafe.Offsetof(breq.Role)),
		"offsetof.ifbreq.ifbr_state":        int64(unsafe.Offsetof(breq.State)),
		"offsetof.ifbreq.ifbr_addrcnt":      int64(unsafe.Offsetof(breq.AddrCnt)),
		"offsetof.ifbreq.ifbr_addrmax":      int64(unsafe.Offsetof(breq.AddrMax)),
		"offsetof.ifbreq.ifbr_addrexceeded": int64(unsafe.Offsetof(breq.AddrExceeded)),
		"offsetof.ifbreq.pad":               int64(unsafe.Offsetof(breq.Pad)),

		"sizeof.ifbifconf":                int64(unsafe.Sizeof(conf)),
		"offsetof.ifbifconf.ifbic_len":    int64(unsafe.Offsetof(conf.Len)),
		"offsetof.ifbifconf.ifbic_ifbicu": int64(unsafe.Offsetof(conf.Buf)),

		"sizeof.if_msghdrl":                int64(unsafe.Sizeof(msg)),
		"offsetof.if_msghdrl.ifm_msglen":   int64(unsafe.Offsetof(msg.MsgLen)),
		"offsetof.if_msghdrl.ifm_version":  int64(unsafe.Offsetof(msg.Version)),
		"offsetof.if_msghdrl.ifm_type":     int64(unsafe.Offsetof(msg.Type)),
		"offsetof.if_msghdrl.ifm_addrs":    int64(unsafe.Offsetof(msg.Addrs)),
		"offsetof.if_msghdrl.ifm_flags":    int64(unsafe.Offsetof(msg.Flags)),
		"offsetof.if_msghdrl.ifm_index":    int64(unsafe.Offsetof(msg.Index)),
		"offsetof.if_msghdrl.ifm_len":      int64(unsafe.Offsetof(msg.Len)),
		"offsetof.if_msghdrl.ifm_data_off": int64(unsafe.Offsetof(msg.DataOff)),
		"offsetof.if_msghdrl.ifm_data":     int64(unsafe.Offsetof(msg.Data)),
		"sizeof.if_data":                   int64(unsafe.Sizeof(msg.Data)),
		"offsetof.if_data.ifi_type":        int64(unsafe.Offsetof(msg.Data.Type)),

		"offsetof.sockaddr_dl.sdl_len":    int64(unsafe.Offsetof(sdl.Len)),
		"offsetof.sockaddr_dl.sdl_family": int64(unsafe.Offsetof(sdl.Family)),
		"offsetof.sockaddr_dl.sdl_index":  int64(unsafe.Offsetof(sdl.Index)),
		"offsetof.sockaddr_dl.sdl_type":   int64(unsafe.Offsetof(sdl.Type)),
		"offsetof.sockaddr_dl.sdl_nlen":   int64(unsafe.Offsetof(sdl.NLen)),
		"offsetof.sockaddr_dl.sdl_alen":   int64(unsafe.Offsetof(sdl.ALen)),
		"offsetof.sockaddr_dl.sdl_slen":   int64(unsafe.Offsetof(sdl.SLen)),
		"offsetof.sockaddr_dl.sdl_data":   int64(unsafe.Sizeof(sdl)),

		// The errnos this package and its model use come from the
		// build's unix package; they must be FreeBSD's.
		"errno.EPERM":  int64(unix.EPERM),
		"errno.ENOENT": int64(unix.ENOENT),
		"errno.ENXIO":  int64(unix.ENXIO),
		"errno.EBUSY":  int64(unix.EBUSY),
		"errno.EEXIST": int64(unix.EEXIST),
		"errno.EINVAL": int64(unix.EINVAL),
	})
	// binary.Decode reads the same number of bytes as the kernel's struct
	// holds: no padding of the Go structs goes unnamed.
	for name, size := range map[string][2]int{
		"if_msghdrl":  {binary.Size(&msg), int(unsafe.Sizeof(msg))},
		"sockaddr_dl": {binary.Size(&sdl), int(unsafe.Sizeof(sdl))},
	} {
		if size[0] != size[1] {
			t.Errorf("%s: encoding/binary sees %d bytes, the struct has %d", name, size[0], size[1])
		}
	}
}
