package abi

import "unsafe"

// The terminal ioctls (sys/sys/ttycom.h) and struct termios
// (sys/sys/_termios.h), the same on amd64 and arm64.
const (
	TIOCGETA = 0x402c7413 // _IOR('t', 19, struct termios)
	TIOCSETA = 0x802c7414 // _IOW('t', 20, struct termios): set now (TCSANOW)

	NCCS    = 20
	B115200 = 115200 // speeds are the numbers themselves on FreeBSD
)

// Termios is struct termios.
type Termios struct {
	Iflag  uint32
	Oflag  uint32
	Cflag  uint32
	Lflag  uint32
	Cc     [NCCS]uint8
	Ispeed uint32
	Ospeed uint32
}

// SizeofTermios is sizeof(struct termios).
const SizeofTermios = int(unsafe.Sizeof(Termios{}))
