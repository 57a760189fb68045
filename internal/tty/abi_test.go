package tty

import (
	"testing"

	"github.com/wifibox/wifibox/internal/abitest"
)

// TestABI pins the FreeBSD terminal facts the package uses.
func TestABI(t *testing.T) {
	abitest.Check(t, map[string]int64{
		"ioctl.TIOCGETA":            _TIOCGETA,
		"ioctl.TIOCSETA":            _TIOCSETA,
		"sizeof.termios":            sizeofTermios,
		"offsetof.termios.c_cc":     offsetofCc,
		"offsetof.termios.c_ispeed": offsetofIspeed,
		"offsetof.termios.c_ospeed": offsetofOspeed,
		"NCCS":                      nccs,
		"B115200":                   freebsdB115200,
	})
}
