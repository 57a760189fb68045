package kmod

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system call numbers of sys/kern/syscalls.master (the same on every
// FreeBSD architecture).
const (
	sysKldload     = 304
	sysKldunload   = 305
	sysKldnext     = 307
	sysKldstat     = 308
	sysKldfirstmod = 309
	sysModfnext    = 302
	sysModfind     = 303
)

// kernelFileID is the id of the kernel itself among the linker's files: the
// first file, holding the modules built into the kernel.
const kernelFileID = 1

const maxPathLen = 1024 // MAXPATHLEN, sys/param.h

// kldFileStat is struct kld_file_stat (sys/linker.h), version 2: what
// kldstat(2) fills in for a loaded file.
type kldFileStat struct {
	version  int32 // sizeof(struct kld_file_stat); the kernel checks it
	name     [maxPathLen]byte
	refs     int32
	id       int32
	_        [4]byte
	address  uint64
	size     uint64
	pathname [maxPathLen]byte
}

// newKldFileStat gives a kld_file_stat ready for kldstat(2).
func newKldFileStat() *kldFileStat {
	return &kldFileStat{version: int32(unsafe.Sizeof(kldFileStat{}))}
}

// path is the full path of the file, /boot/kernel/vmm.ko.
func (s *kldFileStat) path() string {
	return unix.ByteSliceToString(s.pathname[:])
}

// decodeInt decodes an integer sysctl's value: int and u_int have 4 bytes,
// long and u_long 8. A u_int at or above 2^31 would read as negative; the
// sysctls wifibox reads are far below that.
func decodeInt(b []byte) (int64, error) {
	switch len(b) {
	case 4:
		return int64(int32(binary.NativeEndian.Uint32(b))), nil
	case 8:
		return int64(binary.NativeEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("%d bytes is no integer", len(b))
}
