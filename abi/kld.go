package abi

import "unsafe"

// The kld and module system calls (sys/kern/syscalls.master; FreeBSD's
// syscall numbers are the same on every architecture). sys.Native makes
// them by these numbers.
const (
	SYS_MODFNEXT    = 302
	SYS_MODFIND     = 303
	SYS_KLDLOAD     = 304
	SYS_KLDUNLOAD   = 305
	SYS_KLDNEXT     = 307
	SYS_KLDSTAT     = 308
	SYS_KLDFIRSTMOD = 309
)

// MAXPATHLEN is the size of a path buffer (sys/sys/param.h).
const MAXPATHLEN = 1024

// KldFileStat is struct kld_file_stat (sys/sys/linker.h), version 2:
// what kldstat(2) fills in for a loaded file. Version must be the struct's
// size; kern_kldstat answers EINVAL for any other than this and version 1's.
type KldFileStat struct {
	Version  int32
	Name     [MAXPATHLEN]byte // the file's name, "vmm.ko"
	Refs     int32
	Id       int32
	_        [4]byte
	Address  uint64
	Size     uint64
	Pathname [MAXPATHLEN]byte // the file's full path, "/boot/kernel/vmm.ko"
}

// SizeofKldFileStat is sizeof(struct kld_file_stat), version 2.
const SizeofKldFileStat = int(unsafe.Sizeof(KldFileStat{}))

// SizeofKldFileStat1 is sizeof(struct kld_file_stat_1), the first version,
// without pathname; kern_kldstat accepts it too.
const SizeofKldFileStat1 = int(unsafe.Offsetof(KldFileStat{}.Pathname))
