// Package procs is FreeBSD's process table as wifibox reads it: the list
// of processes (sysctl kern.proc.proc, an array of struct kinfo_proc), each
// one's title (sysctl kern.proc.args.PID, the arguments or what
// setproctitle(3) replaced them with), and a wait for a process's exit
// (kqueue(2) with EVFILT_PROC and NOTE_EXIT, which works for any process,
// not only children). wifibox finds a guest the shell implementation runs
// through it, by the titles of its processes. The system calls are a thin
// seam (sys); the decoding of kinfo_proc is plain Go, checked against
// testdata/freebsd-abi.json.
package procs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// The facts of struct kinfo_proc (sys/sys/user.h) that wifibox reads, the
// same on amd64 and arm64 (KINFO_PROC_SIZE of sys/amd64/include/proc.h and
// sys/arm64/include/proc.h).
const (
	kinfoProcSize   = 1088
	offStructsize   = 0  // int ki_structsize
	offPID          = 72 // pid_t ki_pid
	offPPID         = 76 // pid_t ki_ppid
	kinfoProcMinLen = offPPID + 4
)

// The facts of kqueue(2) (sys/sys/event.h) that the wait uses.
const (
	evfiltProc = -5         // EVFILT_PROC
	noteExit   = 0x80000000 // NOTE_EXIT
	evAdd      = 0x0001     // EV_ADD
	evOneshot  = 0x0010     // EV_ONESHOT
	evError    = 0x4000     // EV_ERROR
)

// sys makes the system calls.
type sys interface {
	// procList reads sysctl kern.proc.proc.
	procList() ([]byte, error)
	// procArgs reads sysctl kern.proc.args.PID.
	procArgs(pid int) ([]byte, error)
	// waitExit registers EVFILT_PROC/NOTE_EXIT for pid on a new kqueue
	// and waits for the event or the timeout: ESRCH when pid does not
	// exist, false on the timeout.
	waitExit(pid int, timeout time.Duration) (bool, error)
}

// Table is the process table of one system.
type Table struct{ sys sys }

// Processes lists the processes with their titles. A process that exits
// while it is read, or whose arguments cannot be read (a zombie, a system
// process), is left out.
func (t *Table) Processes() ([]host.Process, error) {
	raw, err := t.sys.procList()
	if err != nil {
		return nil, fmt.Errorf("list processes: sysctl kern.proc.proc: %w", err)
	}
	entries, err := decodeKinfoProcs(raw)
	if err != nil {
		return nil, fmt.Errorf("list processes: sysctl kern.proc.proc: %w", err)
	}
	var list []host.Process
	for _, p := range entries {
		args, err := t.sys.procArgs(p.PID)
		if err != nil || len(args) == 0 {
			continue
		}
		p.Title = title(args)
		list = append(list, p)
	}
	return list, nil
}

// decodeKinfoProcs reads the pids of an array of struct kinfo_proc, each
// ki_structsize bytes long.
func decodeKinfoProcs(raw []byte) ([]host.Process, error) {
	var list []host.Process
	for len(raw) > 0 {
		if len(raw) < kinfoProcMinLen {
			return nil, fmt.Errorf("a kinfo_proc of %d bytes: %w", len(raw), unix.EINVAL)
		}
		size := int(int32(binary.NativeEndian.Uint32(raw[offStructsize:])))
		if size != kinfoProcSize || size > len(raw) {
			return nil, fmt.Errorf("kinfo_proc of size %d, this wifibox knows %d: %w", size, kinfoProcSize, unix.EINVAL)
		}
		list = append(list, host.Process{
			PID:  int(int32(binary.NativeEndian.Uint32(raw[offPID:]))),
			PPID: int(int32(binary.NativeEndian.Uint32(raw[offPPID:]))),
		})
		raw = raw[size:]
	}
	return list, nil
}

// title gives NUL-separated arguments as pgrep -f matches them: joined by
// spaces, without the terminating NUL.
func title(args []byte) string {
	args = bytes.TrimRight(args, "\x00")
	return strings.ReplaceAll(string(args), "\x00", " ")
}

// WaitExit waits for the process to exit, up to the timeout.
func (t *Table) WaitExit(pid int, timeout time.Duration) (bool, error) {
	exited, err := t.sys.waitExit(pid, timeout)
	if errors.Is(err, unix.ESRCH) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("wait for process %d to exit: kqueue EVFILT_PROC: %w", pid, err)
	}
	return exited, nil
}
