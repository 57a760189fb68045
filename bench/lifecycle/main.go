// Command lifecycle measures wifibox's lifecycle commands on simulated
// FreeBSD hosts, the guest powering off 100 ms after SIGTERM: the median
// wall time of each whole command over several runs, each on a fresh host,
// and the VM manager's resident memory while the guest runs. Then the time
// to Wi-Fi, with a guest that is up 1000 ms after bhyve's device setup and
// associates 500 ms later: start, and suspend + resume, until `wait wifi`
// returns, median of -w runs, each with wifibox's share, the time beyond
// the guest's own (and its 100 ms power-off on resume). It prints each
// figure next to its bound and exits 1 when one is over it.
//
//	go run ./bench/lifecycle [-n runs] [-w runs] path/to/wifibox
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wifibox/wifibox/sim"
)

// bounds are the targets.
var bounds = []struct {
	name  string
	bound time.Duration
}{
	{"status", 10 * time.Millisecond},
	{"start (cold)", 60 * time.Millisecond},
	{"stop", 140 * time.Millisecond},
	{"restart vmm", 200 * time.Millisecond},
	{"restart guest", 180 * time.Millisecond},
}

const rssBound = 12 << 20

// The guest's own time to Wi-Fi on the simulated host (guest_up_after_ms
// and wifi_after_ms), its power-off, and the bounds on the time to Wi-Fi.
const (
	guestUp     = 1000 * time.Millisecond
	guestWifi   = 500 * time.Millisecond
	guestOff    = 100 * time.Millisecond
	startBound  = 1650 * time.Millisecond
	resumeBound = 1800 * time.Millisecond
)

func main() {
	runs := flag.Int("n", 15, "runs of each command")
	wifiRuns := flag.Int("w", 3, "runs of each time to Wi-Fi")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lifecycle [-n runs] [-w runs] path/to/wifibox")
		os.Exit(2)
	}
	wifibox, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	times := map[string][]time.Duration{}
	var rss []int
	for i := 0; i < *runs; i++ {
		if err := measure(wifibox, times, &rss); err != nil {
			fail(err)
		}
	}
	over := false
	fmt.Printf("wifibox lifecycle on the simulated host, median of %d runs (guest powers off 100 ms after SIGTERM)\n", *runs)
	for _, b := range bounds {
		m := median(times[b.name])
		mark := "ok"
		if m > b.bound {
			mark, over = "OVER", true
		}
		fmt.Printf("  %-14s %8.1f ms   bound %5.0f ms   %s\n", b.name, ms(m), ms(b.bound), mark)
	}
	slices.Sort(rss)
	r := rss[len(rss)/2]
	mark := "ok"
	if r > rssBound {
		mark, over = "OVER", true
	}
	fmt.Printf("  %-14s %8.1f MiB  bound %5d MiB  %s\n", "manager RSS", float64(r)/(1<<20), rssBound>>20, mark)
	var starts, resumes []time.Duration
	for i := 0; i < *wifiRuns; i++ {
		s, r, err := measureWifi(wifibox)
		if err != nil {
			fail(err)
		}
		starts, resumes = append(starts, s), append(resumes, r)
	}
	fmt.Printf("time to Wi-Fi (wait wifi returns), median of %d runs; the guest is up %v after bhyve's device setup and associates %v later\n",
		*wifiRuns, guestUp, guestWifi)
	for _, f := range []struct {
		name        string
		took, guest time.Duration
		bound       time.Duration
	}{
		{"start", median(starts), guestUp + guestWifi, startBound},
		{"suspend+resume", median(resumes), guestOff + guestUp + guestWifi, resumeBound},
	} {
		mark := "ok"
		if f.took > f.bound {
			mark, over = "OVER", true
		}
		fmt.Printf("  %-14s %8.1f ms   bound %5.0f ms   %s   wifibox's share %6.1f ms (beyond the guest's %.0f ms)\n",
			f.name, ms(f.took), ms(f.bound), mark, ms(f.took-f.guest), ms(f.guest))
	}
	if over {
		os.Exit(1)
	}
}

// measure runs the commands once on a fresh simulated host, which it stops
// and removes afterwards, whatever happened.
func measure(wifibox string, times map[string][]time.Duration, rss *[]int) (err error) {
	dir, err := os.MkdirTemp("", "wbbench")
	if err != nil {
		return err
	}
	defer func() {
		exec.Command(wifibox, "-S", dir, "stop").Run()
		os.RemoveAll(dir)
	}()
	run := func(args ...string) time.Duration {
		if err != nil {
			return 0
		}
		t0 := time.Now()
		out, cerr := exec.Command(wifibox, append([]string{"-S", dir}, args...)...).CombinedOutput()
		d := time.Since(t0)
		if cerr != nil && args[0] != "status" {
			err = fmt.Errorf("wifibox %v: %v\n%s", args, cerr, out)
		}
		return d
	}
	run("sim", "init", dir)
	times["start (cold)"] = append(times["start (cold)"], run("start"))
	times["status"] = append(times["status"], run("status"))
	if err == nil {
		var r int
		if r, err = managerRSS(dir); err == nil {
			*rss = append(*rss, r)
		}
	}
	times["restart guest"] = append(times["restart guest"], run("restart", "guest"))
	times["restart vmm"] = append(times["restart vmm"], run("restart", "vmm"))
	times["stop"] = append(times["stop"], run("stop"))
	return err
}

// measureWifi times, on a fresh simulated host whose guest relays
// wpa_supplicant's socket, start until wait wifi returns, then suspend and
// resume (recovery restart_vmm, the default) until wait wifi returns.
func measureWifi(wifibox string) (start, resume time.Duration, err error) {
	dir, err := os.MkdirTemp("", "wbbench")
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		exec.Command(wifibox, "-S", dir, "stop").Run()
		os.RemoveAll(dir)
	}()
	run := func(args ...string) {
		if err != nil {
			return
		}
		if out, cerr := exec.Command(wifibox, append([]string{"-S", dir}, args...)...).CombinedOutput(); cerr != nil {
			err = fmt.Errorf("wifibox %v: %v\n%s", args, cerr, out)
		}
	}
	run("sim", "init", dir)
	if err != nil {
		return 0, 0, err
	}
	uds := "network=127.0.0.1:255.0.0.0\nsockets=\"path=/var/run/wpa_supplicant/wlan0,user=root,group=0,mode=770,port=1292\"\n"
	if err := os.WriteFile(filepath.Join(dir, "usr/local/etc/wifibox/appliance/uds_passthru.conf"), []byte(uds), 0o644); err != nil {
		return 0, 0, err
	}
	for k, v := range map[string]time.Duration{"guest_up_after_ms": guestUp, "wifi_after_ms": guestWifi} {
		if err := sim.SetFault(dir, k, strconv.FormatInt(v.Milliseconds(), 10)); err != nil {
			return 0, 0, err
		}
	}
	t0 := time.Now()
	run("start")
	run("wait", "wifi", "-t", "20")
	start = time.Since(t0)
	t0 = time.Now()
	run("suspend")
	run("resume")
	run("wait", "wifi", "-t", "20")
	return start, time.Since(t0), err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// managerRSS reads the VM manager's resident set size from /proc.
func managerRSS(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "var/run/wifibox/manager.pid"))
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/" + strings.TrimSpace(string(data)) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			return n << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in the manager's status")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lifecycle:", err)
	os.Exit(2)
}
