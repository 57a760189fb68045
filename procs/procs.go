// Package procs is FreeBSD's process table as wifibox reads it: the list
// of processes (sysctl kern.proc.proc, an array of struct kinfo_proc), each
// one's title (sysctl kern.proc.args.PID, the arguments or what
// setproctitle(3) replaced them with), and a wait for a process's exit
// (sys.Sys.WaitExit: kqueue(2) with EVFILT_PROC and NOTE_EXIT, which works
// for any process, not only children). wifibox finds a guest the shell
// implementation runs through it, by the titles of its processes. The
// calls go through the seam (sys.Sys), which the simulated host's model
// answers with kinfo_proc records of its own processes; the decoding of
// kinfo_proc is plain Go, its facts in abi.
package procs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// kinfoProcMinLen is how much of a kinfo_proc is read.
const kinfoProcMinLen = abi.OffsetofKiPpid + 4

// Table is the process table of one system.
type Table struct{ s sys.Sys }

// New gives the process table of the system s reaches.
func New(s sys.Sys) *Table { return &Table{s: s} }

// procList reads sysctl kern.proc.proc; the table may grow between the
// size query and the read (ENOMEM), which is then tried again.
func (t *Table) procList() ([]byte, error) {
	for range 3 {
		raw, err := t.s.Sysctl("kern.proc.proc")
		if !errors.Is(err, unix.ENOMEM) {
			return raw, err
		}
	}
	return t.s.Sysctl("kern.proc.proc")
}

// Processes lists the processes with their titles. A process that exits
// while it is read, or whose arguments cannot be read (a zombie, a system
// process), is left out.
func (t *Table) Processes() ([]host.Process, error) {
	raw, err := t.procList()
	if err != nil {
		return nil, fmt.Errorf("list processes: sysctl kern.proc.proc: %w", err)
	}
	entries, err := decodeKinfoProcs(raw)
	if err != nil {
		return nil, fmt.Errorf("list processes: sysctl kern.proc.proc: %w", err)
	}
	var list []host.Process
	for _, p := range entries {
		args, err := t.s.Sysctl("kern.proc.args", p.PID)
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
		size := int(int32(binary.NativeEndian.Uint32(raw[abi.OffsetofKiStructsize:])))
		if size != abi.SizeofKinfoProc || size > len(raw) {
			return nil, fmt.Errorf("kinfo_proc of size %d, this wifibox knows %d: %w", size, abi.SizeofKinfoProc, unix.EINVAL)
		}
		list = append(list, host.Process{
			PID:  int(int32(binary.NativeEndian.Uint32(raw[abi.OffsetofKiPid:]))),
			PPID: int(int32(binary.NativeEndian.Uint32(raw[abi.OffsetofKiPpid:]))),
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
	exited, err := t.s.WaitExit(pid, timeout)
	if errors.Is(err, unix.ESRCH) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("wait for process %d to exit: kqueue EVFILT_PROC: %w", pid, err)
	}
	return exited, nil
}
