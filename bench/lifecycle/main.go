// Command lifecycle measures wifibox's lifecycle commands on simulated
// FreeBSD hosts, the guest powering off 100 ms after SIGTERM: the median
// wall time of each whole command over several runs, each on a fresh host,
// and the VM manager's resident memory while the guest runs. It prints each
// figure next to its bound and exits 1 when one is over it.
//
//	go run ./bench/lifecycle [-n runs] path/to/wifibox
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

func main() {
	runs := flag.Int("n", 15, "runs of each command")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lifecycle [-n runs] path/to/wifibox")
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
