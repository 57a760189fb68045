package abi

// The process table (sysctl kern.proc.proc: an array of struct
// kinfo_proc, sys/sys/user.h, fill_kinfo_proc in sys/kern/kern_proc.c)
// and the wait for a process's exit (kqueue(2), sys/sys/event.h). The
// same on amd64 and arm64 (KINFO_PROC_SIZE of sys/amd64/include/proc.h
// and sys/arm64/include/proc.h). x/sys has no kinfo_proc for FreeBSD:
// testdata/freebsd-abi.json pins its facts; it pins the kqueue ones
// (xsys_freebsd.go).
const (
	SizeofKinfoProc      = 1088 // KINFO_PROC_SIZE, also ki_structsize
	OffsetofKiStructsize = 0    // int ki_structsize
	OffsetofKiPid        = 72   // pid_t ki_pid
	OffsetofKiPpid       = 76   // pid_t ki_ppid

	EVFILT_PROC = -5         // a process's events, by its pid
	NOTE_EXIT   = 0x80000000 // ...its exit
	EV_ADD      = 0x1
	EV_ONESHOT  = 0x10
	EV_ERROR    = 0x4000 // the registration failed: data holds the errno
)
