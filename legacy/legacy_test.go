package legacy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/host"
)

// procs is a process table.
type procs []host.Process

func (p procs) Processes() ([]host.Process, error)      { return p, nil }
func (procs) WaitExit(int, time.Duration) (bool, error) { return true, nil }

// TestFindBhyve: the shell implementation's bhyve is found by its title,
// and also while it initialises, before it has set it (bhyve 14 sets it
// after starting its vCPUs), by its command line; wifibox's own bhyve
// (its VM manager's child) and other programs are not.
func TestFindBhyve(t *testing.T) {
	p := procs{
		{PID: 10, PPID: 1, Title: "bhyve: wifibox"},
		{PID: 11, PPID: 1, Title: "/usr/sbin/bhyve -c 1 -m 128M -AHPSuw -s 0,hostbridge -s 5:0,e1000,tap0 wifibox"},
		{PID: 12, PPID: 99, Title: "bhyve: wifibox"},
		{PID: 13, PPID: 99, Title: "/usr/sbin/bhyve -c 1 -m 128M wifibox"},
		{PID: 14, PPID: 1, Title: "/usr/sbin/bhyve -c 1 -m 128M other"},
		{PID: 15, PPID: 1, Title: "/usr/bin/vi wifibox"},
		{PID: 16, PPID: 1, Title: "bhyve: other"},
	}
	g, err := Find(p, 99)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{10, 11}, g.Bhyves); diff != "" {
		t.Errorf("bhyves (-want +got):\n%s", diff)
	}
}
