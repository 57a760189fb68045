package procs

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// fake is a process table behind the seam: kinfo_proc records written
// the way the kernel fills them (fill_kinfo_proc: ki_structsize, ki_pid,
// ki_ppid), the arguments of each process, and the pids that exit within
// a wait.
type fake struct {
	sys.Sys
	procs   []host.Process
	args    map[int]string // absent: the read fails (ESRCH)
	exiting map[int]bool
	waited  []int
}

func (f *fake) Sysctl(name string, args ...int) ([]byte, error) {
	switch name {
	case "kern.proc.proc":
		var raw []byte
		for _, p := range f.procs {
			rec := make([]byte, abi.SizeofKinfoProc)
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiStructsize:], abi.SizeofKinfoProc)
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiPid:], uint32(p.PID))
			binary.NativeEndian.PutUint32(rec[abi.OffsetofKiPpid:], uint32(p.PPID))
			raw = append(raw, rec...)
		}
		return raw, nil
	case "kern.proc.args":
		a, ok := f.args[args[0]]
		if !ok {
			return nil, unix.ESRCH
		}
		return []byte(a), nil
	}
	return nil, unix.ENOENT
}

func (f *fake) WaitExit(pid int, timeout time.Duration) (bool, error) {
	f.waited = append(f.waited, pid)
	if _, ok := f.args[pid]; !ok {
		return false, unix.ESRCH
	}
	return f.exiting[pid], nil
}

func TestProcesses(t *testing.T) {
	f := &fake{
		procs: []host.Process{{PID: 1}, {PID: 812, PPID: 1}, {PID: 813, PPID: 812}, {PID: 900, PPID: 1}, {PID: 901, PPID: 813}},
		args: map[int]string{
			1:   "/sbin/init\x00",
			812: "daemon: wifibox-vm-manager[813]\x00", // setproctitle
			813: "/bin/sh\x00/usr/local/sbin/wifibox\x00_manage_vm\x00",
			901: "bhyve: wifibox\x00",
			// 900: a zombie, whose arguments cannot be read
		},
	}
	got, err := New(f).Processes()
	if err != nil {
		t.Fatal(err)
	}
	want := []host.Process{
		{PID: 1, Title: "/sbin/init"},
		{PID: 812, PPID: 1, Title: "daemon: wifibox-vm-manager[813]"},
		{PID: 813, PPID: 812, Title: "/bin/sh /usr/local/sbin/wifibox _manage_vm"},
		{PID: 901, PPID: 813, Title: "bhyve: wifibox"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestProcessesBadLayout: a kinfo_proc of another size (a kernel of
// another ABI) is an error, not garbage pids.
func TestProcessesBadLayout(t *testing.T) {
	raw := make([]byte, abi.SizeofKinfoProc)
	binary.NativeEndian.PutUint32(raw, 816)
	if _, err := decodeKinfoProcs(raw); !errors.Is(err, unix.EINVAL) {
		t.Errorf("size 816: %v, want EINVAL", err)
	}
	if _, err := decodeKinfoProcs(raw[:40]); !errors.Is(err, unix.EINVAL) {
		t.Errorf("truncated: %v, want EINVAL", err)
	}
}

func TestWaitExit(t *testing.T) {
	f := &fake{args: map[int]string{10: "x", 11: "y"}, exiting: map[int]bool{10: true}}
	tab := New(f)
	for _, c := range []struct {
		pid  int
		want bool
	}{{10, true}, {11, false}, {12, true}} { // 12 does not exist: gone
		got, err := tab.WaitExit(c.pid, time.Second)
		if err != nil || got != c.want {
			t.Errorf("WaitExit(%d) = %v, %v; want %v", c.pid, got, err, c.want)
		}
	}
}
