package sim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/wifibox/wifibox/abi"
)

// The simulated host's process table (host.Procs) holds the processes
// registered in DIR/sim/procs, one pid a line: those `wifibox sim legacy`
// starts and what they start in turn, so that simulated hosts side by side
// never see each other's. Each is a real Linux process; its title is its
// /proc/PID/cmdline, which the simulated processes rewrite the way
// setproctitle(3) rewrites kern.proc.args on FreeBSD (setTitle).

func (s *system) procsPath() string { return filepath.Join(s.simDir(), "procs") }

// register adds a pid to the process table.
func (s *system) register(pid int) error {
	if err := appendLine(s.procsPath(), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("register process %d: %w", pid, err)
	}
	return nil
}

// Registered gives the pids ever registered on the simulated host under
// dir, for tests that check no process is left behind.
func Registered(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "sim", "procs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the simulated process table: %w", err)
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		pid, err := strconv.Atoi(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("read the simulated process table: %q: %w", sc.Text(), err)
		}
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Alive tells whether pid runs (exists and is not a zombie).
func Alive(pid int) bool {
	_, ok := procStat(pid)
	return ok
}

// procStat gives a live process's parent pid from /proc/PID/stat; false
// for a process that is gone or a zombie.
func procStat(pid int) (ppid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return ppid, err == nil
}

// The process table at the seam: sysctl kern.proc.proc gives a struct
// kinfo_proc for each registered process that runs, filled as
// fill_kinfo_proc (freebsd-src main:sys/kern/kern_proc.c, read in a
// copy whose kern.proc.args node has CTLFLAG_CAPWR, as 13.x to 15.0 do)
// fills the fields wifibox reads
// (ki_structsize, ki_pid, ki_ppid) and zero elsewhere; kern.proc.args.PID
// gives its arguments, NUL-terminated each, or the title setTitle left
// there (sysctl_kern_proc_args), ESRCH for a process that does not run.
// procs decodes them, as on FreeBSD.
func init() {
	sysctls["kern.proc.proc"] = func(t *txn, args []int) ([]byte, error) {
		pids, err := Registered(t.dir)
		if err != nil {
			return nil, err
		}
		var raw []byte
		for _, pid := range pids {
			ppid, ok := procStat(pid)
			if !ok {
				continue
			}
			rec := make([]byte, abi.SizeofKinfoProc)
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiStructsize:], abi.SizeofKinfoProc)
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiPid:], uint32(pid))
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiPpid:], uint32(ppid))
			raw = append(raw, rec...)
		}
		return raw, nil
	}
	sysctls["kern.proc.args"] = func(t *txn, args []int) ([]byte, error) {
		if len(args) != 1 {
			return nil, abi.EINVAL
		}
		if _, ok := procStat(args[0]); !ok {
			return nil, abi.ESRCH
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", args[0]))
		if err != nil {
			return nil, abi.ESRCH
		}
		return cmdline, nil
	}
}
