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
		dir, err := os.MkdirTemp("", "wbbench")
		if err != nil {
			fail(err)
		}
		run := func(args ...string) time.Duration {
			t0 := time.Now()
			out, err := exec.Command(wifibox, append([]string{"-S", dir}, args...)...).CombinedOutput()
			d := time.Since(t0)
			if err != nil && args[0] != "status" {
				fail(fmt.Errorf("wifibox %v: %v\n%s", args, err, out))
			}
			return d
		}
		run("sim", "init", dir)
		times["start (cold)"] = append(times["start (cold)"], run("start"))
		times["status"] = append(times["status"], run("status"))
		rss = append(rss, managerRSS(dir))
		times["restart guest"] = append(times["restart guest"], run("restart", "guest"))
		times["restart vmm"] = append(times["restart vmm"], run("restart", "vmm"))
		times["stop"] = append(times["stop"], run("stop"))
		os.RemoveAll(dir)
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

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// managerRSS reads the VM manager's resident set size from /proc.
func managerRSS(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, "var/run/wifibox/manager.pid"))
	if err != nil {
		fail(err)
	}
	f, err := os.Open("/proc/" + strings.TrimSpace(string(data)) + "/status")
	if err != nil {
		fail(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				fail(err)
			}
			return n << 10
		}
	}
	fail(fmt.Errorf("no VmRSS in the manager's status"))
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lifecycle:", err)
	os.Exit(2)
}
