package abi

import (
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/internal/abitest"
)

func TestTermios(t *testing.T) {
	var s Termios
	abitest.Check(t, map[string]int64{
		"ioctl.TIOCGETA":            TIOCGETA,
		"ioctl.TIOCSETA":            TIOCSETA,
		"sizeof.termios":            int64(SizeofTermios),
		"offsetof.termios.c_cc":     int64(unsafe.Offsetof(s.Cc)),
		"offsetof.termios.c_ispeed": int64(unsafe.Offsetof(s.Ispeed)),
		"offsetof.termios.c_ospeed": int64(unsafe.Offsetof(s.Ospeed)),
		"NCCS":                      NCCS,
		"B115200":                   B115200,
	})
}
