package launch

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/internal/syncio"
	"github.com/wifibox/wifibox/rtsock"
)

// bhyveArgOptions are the letters of bhyve's options that take an
// argument (the getopt strings of usr.sbin/bhyve/*/bhyverun_machdep.c).
const bhyveArgOptions = "cfGkKlmoprsU"

// tapNames finds the tap interfaces bhyve's network devices use: the
// backends of the e1000 and virtio-net devices of its -s options. It
// reads the options as getopt(3) does, up to the first non-option (the
// VM's name).
func tapNames(argv []string) []string {
	var taps []string
	for i := 1; i < len(argv); i++ {
		arg := argv[i]
		if arg == "--" || len(arg) < 2 || arg[0] != '-' {
			break
		}
		for j := 1; j < len(arg); j++ {
			if !strings.ContainsRune(bhyveArgOptions, rune(arg[j])) {
				continue
			}
			optarg := arg[j+1:]
			if optarg == "" && i+1 < len(argv) {
				i++
				optarg = argv[i]
			}
			if tap := slotTap(optarg); arg[j] == 's' && tap != "" {
				taps = append(taps, tap)
			}
			break
		}
	}
	return taps
}

// slotTap gives the tap behind a -s device specification ("5:0,e1000,tap0",
// "2,virtio-net,tap1,mac=...", "3,virtio-net,backend=tap2"), or "". The
// backend is the first option, unless that is a key=value pair
// (netbe_legacy_config in usr.sbin/bhyve/net_backends.c); the tap backend
// takes the names that start with "tap" or "vmnet".
func slotTap(spec string) string {
	parts := strings.Split(spec, ",")
	if len(parts) < 3 || (parts[1] != "e1000" && parts[1] != "virtio-net") {
		return ""
	}
	backend := parts[2]
	if strings.Contains(backend, "=") {
		backend = ""
		for _, opt := range parts[2:] {
			if v, ok := strings.CutPrefix(opt, "backend="); ok {
				backend = v
			}
		}
	}
	if strings.HasPrefix(backend, "tap") || strings.HasPrefix(backend, "vmnet") {
		return backend
	}
	return ""
}

// watchTaps prepares the watch of the links of the taps bhyve's command
// line names, with the routing socket open, before bhyve starts. When it
// cannot, it says why.
func (l *Launcher) watchTaps(argv []string) (*linkWatch, string) {
	taps := tapNames(argv)
	if len(taps) == 0 {
		return nil, "bhyve's command line names no tap, so its readiness cannot be seen"
	}
	all, err := ifnet.Interfaces(l.Sys)
	if err != nil {
		return nil, fmt.Sprintf("find %s to watch for bhyve's readiness: %v", strings.Join(taps, ", "), err)
	}
	pending := make(map[int]string, len(taps))
	for _, tap := range taps {
		i := slices.IndexFunc(all, func(i host.Interface) bool { return i.Name == tap })
		if i < 0 {
			return nil, fmt.Sprintf("find interface %s to watch for bhyve's readiness: no such interface", tap)
		}
		pending[all[i].Index] = tap
	}
	sock, err := rtsock.Open(l.Sys)
	if err != nil {
		return nil, fmt.Sprintf("open a routing socket to watch %s for bhyve's readiness: %v", strings.Join(taps, ", "), err)
	}
	return &linkWatch{sock: sock, pending: pending, done: make(chan struct{})}, ""
}

// linkWatch waits for the links of bhyve's taps to come up.
type linkWatch struct {
	sock    *rtsock.Socket
	pending map[int]string // the taps whose link has not come up, by index
	stopped atomic.Bool
	once    sync.Once
	done    chan struct{} // closed when run has returned
}

// run reads routing messages until the link of every tap has come up,
// then closes ready. If reading or parsing fails, it closes ready as well
// and writes why to out. Once stop was called it returns leaving ready
// as it is.
func (w *linkWatch) run(ready chan<- struct{}, out io.Writer) {
	defer close(w.done)
	defer w.stop()
	for len(w.pending) > 0 {
		ev, err := w.sock.Next()
		if w.stopped.Load() {
			return
		}
		if err != nil {
			note(out, fmt.Sprintf("watching %s for bhyve's readiness: %v", w.names(), err))
			break
		}
		if ev.Kind == rtsock.Info && ev.LinkUp {
			delete(w.pending, ev.Index)
		}
	}
	close(ready)
}

// names lists the taps still watched.
func (w *linkWatch) names() string {
	var names []string
	for _, name := range w.pending {
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// stop ends the watch: run returns without closing ready, unless it
// already has.
func (w *linkWatch) stop() {
	w.once.Do(func() {
		w.stopped.Store(true)
		w.sock.Close()
	})
}

// note tells bhyve's output, if any, that readiness is not watched.
func note(out io.Writer, reason string) {
	if out != nil {
		fmt.Fprintf(out, "wifibox: %s; bhyve counts as ready once started\n", reason)
	}
}

// shareable gives a writer for bhyve's output that notes can be written
// to meanwhile: a file as it is (bhyve then writes to it directly), any
// other writer behind a lock, and none (bhyve's output then goes to
// /dev/null) as it is.
func shareable(out io.Writer) io.Writer {
	switch out.(type) {
	case nil, *os.File:
		return out
	}
	return &syncio.Writer{W: out}
}
