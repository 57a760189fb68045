package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/sim"
	"github.com/wifibox/wifibox/sim/simtest"
)

// TestKillsDuringStartNetif: 100 `start netif` killed with SIGKILL at
// moments spread over how long one takes, then `stop`, leave no interface
// on the simulated host but its own: what wifibox creates, it marks, and
// repair reclaims (man/wifibox.8, Targets).
func TestKillsDuringStartNetif(t *testing.T) {
	h := newHost(t)
	begin := time.Now()
	h.must("start", "netif")
	took := time.Since(begin)
	h.must("stop", "netif")
	const kills = 100
	for i := range kills {
		cmd := exec.Command(binary, "-S", h.dir, "start", "netif")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(took * time.Duration(i) / kills)
		cmd.Process.Kill()
		cmd.Wait()
	}
	h.must("stop")
	sh, err := sim.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"em0", "lo0"}, simtest.Names(t, sh.Net)); diff != "" {
		t.Errorf("interfaces after %d killed starts and a stop (-want +got):\n%s", kills, diff)
	}
}
