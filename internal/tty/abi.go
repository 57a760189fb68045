package tty

// FreeBSD's numbers for the terminal ioctls (sys/sys/ttycom.h) and the
// layout of struct termios (sys/sys/_termios.h), the same on amd64 and
// arm64. abi_test.go pins each one to testdata/freebsd-abi.json, and
// term_freebsd.go checks at compile time that x/sys/unix's Termios has this
// layout. Plain Go: nothing here calls the kernel.
const (
	_TIOCGETA = 0x402c7413 // _IOR('t', 19, struct termios)
	_TIOCSETA = 0x802c7414 // _IOW('t', 20, struct termios): set now (TCSANOW)

	sizeofTermios  = 44 // 4 tcflag_t, cc_t c_cc[NCCS], 2 speed_t
	offsetofCc     = 16
	offsetofIspeed = 36
	offsetofOspeed = 40
	nccs           = 20
	freebsdB115200 = 115200 // speeds are the numbers themselves on FreeBSD
)
