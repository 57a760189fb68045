// Package manager owns the life of one guest: the VM manager, a wifibox
// process of its own (detached in its own session) that creates the VM,
// binds the pass-through devices to ppt, brings the tap up, runs bhyve and,
// when bhyve exits, acts on the exit status (restart on reboot, restart with
// a growing backoff on a crash or a quick reboot, stop on power-off): an
// explicit state machine (supervisor.go) run by a driver (driver.go). The
// VM is kept across reboots, as bhyve re-initialises an existing VM
// (usr.sbin/bhyve/bhyverun.c: vm_create's EEXIST then vm_reinit; vm_openf
// with VMMAPI_OPEN_REINIT on 15.0), which the kernel allows only after a
// VM suspend; after a crash the VM is destroyed before the next run (see
// judge). The devices stay bound to ppt across restarts, so the native
// driver never gets the card in between; they are released when the
// manager stops, which the shell implementation did on every exit of
// bhyve. It knows the guest's stage
// (stage.go: starting, running, up, wifi, restarting, failed), follows the
// guest's log and asks its Wi-Fi daemon through the relay (monitor.go), and
// runs the optional watchdog. It also owns the files through which other
// wifibox commands reach it in the run directory: a pid file, locked for as
// long as the manager lives, bhyve's pid, a control socket (0600) that
// answers status and stop, and pushes each change of stage to a waiting
// client, and a status socket (0666) that answers any user status and
// wait only. Every wait is on an event (the process, a channel, a timer, a
// socket, the guest's log): nothing polls, but for the watchdog's
// questions and a recheck of the Wi-Fi every few seconds. A command's wait
// on the manager is bounded too: a deadline on the control socket
// (StatusWait, StopWait) and on the start's report pipe, after which a
// stop kills the manager (Kill).
package manager

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/logview"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/relay"
)

// Backoff bounds of the crash restart loop: the delay doubles from
// firstBackoff to maxBackoff, and starts again from firstBackoff once a
// guest has run for stableRun.
const (
	firstBackoff = time.Second
	maxBackoff   = 60 * time.Second
	stableRun    = 60 * time.Second
	// killGrace is how long a guest forced off through the VM may take to
	// exit before bhyve is killed.
	killGrace = 5 * time.Second
	// tailLines of bhyve's output are kept for the error of a failed start.
	tailLines = 10
	// readyTimeout bounds the wait for bhyve to get its guest running;
	// a bhyve that neither does nor exits by then is killed.
	readyTimeout = 60 * time.Second
	// runningGrace is how long bhyve must keep running after its tap's
	// link came up, and then after its vCPUs started, to count as running
	// (see StageRunning).
	runningGrace = 25 * time.Millisecond
	// tapReleaseWait bounds the wait for a bhyve on its way out to close
	// the tap.
	tapReleaseWait = 10 * time.Second
)

// Status is what the manager tells `wifibox status`.
type Status struct {
	ManagerPID int       `json:"manager_pid"`
	GuestPID   int       `json:"guest_pid"`      // 0 while no bhyve runs
	State      string    `json:"state"`          // starting, running, stopping, cleaning up, restarting
	Since      time.Time `json:"since,omitzero"` // when the manager started
	GuestSince time.Time `json:"guest_since,omitzero"`
	Stage      Stage     `json:"stage"`
	// StageSince is when the stage began; Reason says why the guest is
	// restarting or failed ("" when not); NextStart is when a restarting
	// guest starts again.
	StageSince time.Time `json:"stage_since,omitzero"`
	Reason     string    `json:"reason"`
	NextStart  time.Time `json:"next_start,omitzero"`
	// Wifi is what wpa_supplicant or hostapd last told through the
	// relay; nil when it has not answered.
	Wifi *WifiStatus `json:"wifi"`
	// WifiSilentSince is when the daemon first did not answer after
	// Wifi was told; zero while it answers.
	WifiSilentSince time.Time `json:"wifi_silent_since,omitzero"`
	// WifiUnseen says why the stage wifi cannot be seen, if it cannot.
	WifiUnseen string   `json:"wifi_unseen"`
	Restarts   int      `json:"restarts"`
	LastExit   string   `json:"last_exit"`
	Tap        string   `json:"tap"`
	Passthru   []string `json:"passthru"`
	// StopWait is how long, in seconds, a guest asked to power off has
	// before it is forced off (stop_wait_max as the guest was started).
	StopWait int `json:"stop_wait_seconds"`
	// Console tells whether the guest was started with its console (the
	// nmdm pair, console=yes in bhyve.conf as it was then); nil from a
	// manager that does not tell.
	Console *bool `json:"console,omitempty"`
	// Relays are the control sockets passed through to the guest.
	Relays []relay.SocketStats `json:"relays"`
	// Repairs are the latest repairs of the guest's network (watchNet).
	Repairs []Repair `json:"repairs"`
}

// manager is the running VM manager.
type manager struct {
	h     *host.Host
	netif ifnet.Netif // the guest's network, which the manager repairs
	log   *logrus.Logger
	stop  chan stopRequest // stop requests
	// answers counts the stop requests of the control socket still to
	// be answered: the process waits for them before it exits.
	answers sync.WaitGroup

	mu     sync.Mutex
	status Status
	relays *relay.Relay // the control-socket pass-through, once the guest ran
	// adopt holds the relay's sockets the last manager handed over.
	adopt map[string]relay.Handed
	files *runFiles
	// logWatch watches the guest's log; only follow uses it, one run of
	// the guest after the other.
	logWatch logview.Watcher
	// changed is closed and replaced at each change of stage.
	changed chan struct{}
	// done is closed when the manager is about to exit.
	done chan struct{}
	// watchdog restarts a guest that does not answer on its control
	// socket for that long; 0 is off.
	watchdog time.Duration
	// clock times the supervisor.
	clock clock
}

func (m *manager) update(f func(*Status)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.status)
}

func (m *manager) snapshot() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.status
	s.Passthru = append([]string(nil), s.Passthru...)
	if m.relays != nil {
		s.Relays = m.relays.Stats()
	}
	return s
}

// newManager is a manager of the guest on h, its other fields unset.
func newManager(h *host.Host, log *logrus.Logger) *manager {
	return &manager{h: h, netif: ifnet.NewNetif(h.Net, h.Paths), log: log}
}

// Main is the VM manager process. report receives one line, `ready PID` once
// bhyve runs or `error MESSAGE` when the first start fails, and is then
// closed. Main returns the process's exit status.
func Main(h *host.Host, log *logrus.Logger, report io.WriteCloser, watchdog time.Duration) int {
	return mainWith(realClock{}, h, log, report, watchdog)
}

// mainWith is Main with the clock that times the supervisor.
func mainWith(clk clock, h *host.Host, log *logrus.Logger, report io.WriteCloser, watchdog time.Duration) int {
	files, err := claim(h.Paths.RunDir)
	if err != nil {
		reportError(report, err)
		return 1
	}
	m := newManager(h, log)
	m.stop, m.changed, m.done, m.watchdog, m.clock = make(chan stopRequest), make(chan struct{}), make(chan struct{}), watchdog, clk
	m.adopt = inherited() // before bhyve runs: it is not to inherit them
	now := time.Now()
	m.status = Status{ManagerPID: os.Getpid(), State: "starting", Since: now, Stage: StageStarting, StageSince: now}
	ln, err := listen(files.socket, false)
	var public net.Listener
	if err == nil {
		public, err = listen(files.status, true)
	}
	if err == nil {
		// Only now does the pid file name the manager: a command that
		// finds it finds the control socket listening.
		err = files.publish()
	}
	if err != nil {
		for _, l := range []net.Listener{ln, public} {
			if l != nil {
				l.Close()
			}
		}
		files.release()
		reportError(report, err)
		return 1
	}
	m.files = files
	served := make(chan struct{}, 2)
	go func() {
		m.serve(ln, nil)
		served <- struct{}{}
	}()
	go func() {
		m.serve(public, make(chan struct{}, maxStatusClients))
		served <- struct{}{}
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for sig := range signals {
			log.Infof("VM manager: %v received, stopping the guest", sig)
			go m.requestStop(0)
		}
	}()
	log.Infof("VM manager launched as PID %d", os.Getpid())
	log.Infof("VM manager: stage %s", StageStarting)
	waiting := m.run(report)
	m.stopRelays() // when the guest stopped by itself
	// The files go first, before the control socket closes and before
	// the stop requests are answered, so that a command that follows
	// finds no manager rather than one that does not answer.
	files.release()
	ln.Close()
	public.Close()
	<-served
	<-served // no connection is accepted any more: answers.Add is over
	close(m.done)
	// Requests that come late find the guest stopped.
	go func() {
		for req := range m.stop {
			close(req.done)
		}
	}()
	for _, done := range waiting {
		close(done)
	}
	m.answers.Wait()
	log.Info("VM manager: finished")
	return 0
}

// stopRequest asks the manager's loop to stop the guest. done is closed
// once it has cleaned up.
type stopRequest struct {
	done chan struct{}
	// grace bounds the guest's time to power off before it is forced
	// off, below the plan's StopWait; 0 leaves StopWait.
	grace time.Duration
}

// requestStop asks the manager's loop to stop the guest, giving it at most
// grace (0: the plan's StopWait) to power off, and waits until it has
// cleaned up.
func (m *manager) requestStop(grace time.Duration) {
	req := stopRequest{done: make(chan struct{}), grace: grace}
	m.stop <- req
	<-req.done
}

// fail ends a first start that failed: it is logged, recorded with reason
// and bhyve's last lines, and reported to the starting command.
func (m *manager) fail(report io.WriteCloser, err error, reason string, bhyveLines []string) {
	m.log.Errorf("VM manager: %v", err)
	m.noteFailure(reason, bhyveLines)
	m.setStage(StageFailed, err.Error(), time.Time{})
	reportError(report, err)
}

// guest is a launched bhyve with its output's last lines.
type guest struct {
	host.Guest
	started time.Time
	out     *lineLog
}

// launch prepares and starts one run of the guest. What it did is undone
// when a later step fails. The first run destroys a VM left over from an
// earlier manager; a later one runs the guest again in the VM it kept.
func (m *manager) launch(first bool) (Plan, *guest, error) {
	if !first {
		m.replaceGoneTap()
	}
	plan, err := Prepare(m.h)
	if err != nil {
		return plan, nil, err
	}
	for _, w := range plan.Warnings {
		m.log.Warn(w)
	}
	vms := m.h.VMs
	if err := vms.CreateVM(host.VMName); errors.Is(err, syscall.EEXIST) && !first {
		m.log.Infof("VM manager: VM %s is kept", host.VMName)
	} else if errors.Is(err, syscall.EEXIST) {
		m.log.Warnf("VM manager: destroying the leftover VM %s", host.VMName)
		if err := vms.DestroyVM(host.VMName); err != nil {
			return plan, nil, fmt.Errorf("destroy leftover VM %s: %w", host.VMName, err)
		}
		err = vms.CreateVM(host.VMName)
		if err != nil {
			return plan, nil, fmt.Errorf("create VM %s: %w", host.VMName, err)
		}
	} else if err != nil {
		return plan, nil, fmt.Errorf("create VM %s: %w", host.VMName, err)
	}
	if err := ppt.Bind(m.h.PCI, plan.Passthru); err != nil {
		m.destroyVM()
		return plan, nil, err
	}
	undo := func() {
		m.release(plan)
		m.destroyVM()
	}
	// A bhyve on its way out (its VM destroyed by a repair) still has
	// the tap open: a new one could not open it (EBUSY), and its close
	// brings the tap down (tundtor), so the tap is brought up after.
	if err := m.h.Net.WaitLinkDown(plan.Tap, tapReleaseWait); err != nil {
		undo()
		return plan, nil, err
	}
	if err := m.h.Net.SetUp(plan.Tap); err != nil {
		undo()
		return plan, nil, fmt.Errorf("bring up %s: %w", plan.Tap, err)
	}
	m.log.Info("VM manager: launching the guest")
	m.log.Debugf("VM manager: configuration as read: %s", plan.Settings)
	m.log.Debugf("VM manager: bhyve command line: %s", strings.Join(plan.Argv, " "))
	out := newLineLog(m.log, "[bhyve]")
	started := time.Now()
	g, err := m.h.Launcher.Launch(host.LaunchSpec{Argv: plan.Argv, Nice: plan.Nice, Output: out})
	if err != nil {
		undo()
		return plan, nil, fmt.Errorf("run %s: %w", plan.Argv[0], err)
	}
	passthru := make([]string, len(plan.Passthru))
	for i, sel := range plan.Passthru {
		passthru[i] = sel.String()
	}
	m.update(func(s *Status) {
		s.Tap, s.Passthru, s.StopWait = plan.Tap, passthru, int(plan.StopWait/time.Second)
		s.Console = &plan.Console
	})
	return plan, &guest{Guest: g, started: started, out: out}, nil
}

// vcpusStarted tells whether bhyve has activated the guest's boot vCPU,
// which it does once every device is set up (see StageRunning). When the
// VM cannot tell, the grace window alone decides, and the log says why.
func (m *manager) vcpusStarted() bool {
	active, err := m.h.VMs.BootCPUActive(host.VMName)
	if err != nil {
		m.log.Warnf("VM manager: whether bhyve has started the vCPUs cannot be seen, it counts as running after %s: %v", runningGrace, err)
		return true
	}
	return active
}

// cleanup destroys the VM and releases the devices once the guest stops.
func (m *manager) cleanup(plan Plan) {
	m.destroyVM()
	m.release(plan)
}

func (m *manager) destroyVM() {
	exists, err := m.h.VMs.VMExists(host.VMName)
	if err == nil && exists {
		err = m.h.VMs.DestroyVM(host.VMName)
	}
	if err != nil {
		m.log.Errorf("VM manager: destroy VM %s: %v", host.VMName, err)
		return
	}
	m.log.Infof("VM manager: guest %s destroyed", host.VMName)
}

func (m *manager) release(plan Plan) {
	if err := ppt.Release(m.h.PCI, plan.Passthru); err != nil {
		m.log.Errorf("VM manager: %v", err)
	}
}

// maxStatusClients bounds the connections the status socket, which any
// user may open, serves at once; one more is closed unanswered.
const maxStatusClients = 32

// statusRequests are the requests the status socket answers: they tell,
// and change nothing.
var statusRequests = map[string]bool{"status": true, "wait": true}

// serve answers a socket: one request line, one answer (status, status
// wifi, which asks the Wi-Fi daemon first, and stop), or a stream of them
// (wait: the status at each change of stage). The status socket, which
// has slots, answers statusRequests only, to as many clients at once as
// it has slots.
func (m *manager) serve(ln net.Listener, slots chan struct{}) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if slots != nil {
			select {
			case slots <- struct{}{}:
			default:
				conn.Close()
				continue
			}
		}
		m.answers.Add(1)
		go func() {
			m.answer(conn, slots != nil)
			if slots != nil {
				<-slots
			}
		}()
	}
}

func (m *manager) answer(conn net.Conn, public bool) {
	defer m.answers.Done()
	defer conn.Close()
	// A client that sends no request is not waited for.
	conn.SetReadDeadline(time.Now().Add(StatusWait))
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	req, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	if public && !statusRequests[req] {
		io.WriteString(conn, "error the status socket answers status and wait only\n")
		return
	}
	switch req {
	case "status":
		// `status wifi` asks the Wi-Fi daemon first, if the guest runs.
		if r := m.relay(); r != nil && arg == "wifi" && m.snapshot().Stage.Reached(StageRunning) {
			m.askWifi(context.Background(), r)
		}
		writeJSON(conn, m.snapshot())
	case "wait":
		m.watchStage(conn)
	case "handover":
		m.handover(conn)
	case "stop":
		// `stop` or `stop MS`: at most MS milliseconds to power off.
		ms, err := strconv.Atoi(arg)
		if arg != "" && (err != nil || ms <= 0) {
			io.WriteString(conn, "error malformed grace period\n")
			return
		}
		m.requestStop(time.Duration(ms) * time.Millisecond)
		io.WriteString(conn, "stopped\n")
	default:
		io.WriteString(conn, "error unknown request\n")
	}
}

// reportError tells the starting command why the guest did not start:
// `error STATUS MESSAGE`.
func reportError(report io.WriteCloser, err error) {
	fmt.Fprintf(report, "error %d %s\n", failure.Status(err), strings.ReplaceAll(err.Error(), "\n", " "))
	report.Close()
}

// DryLaunch does on h what the VM manager does to start the guest, once:
// for `wifibox -n`, on a host that only records.
func DryLaunch(h *host.Host, log *logrus.Logger) error {
	_, _, err := newManager(h, log).launch(true)
	return err
}

// DryStop does on h what the VM manager does to stop the guest of st:
// SIGTERM to bhyve (which powers the guest off), then the cleanup.
func DryStop(h *host.Host, log *logrus.Logger, st Status) error {
	plan, err := Prepare(h)
	if err != nil {
		return err
	}
	m := newManager(h, log)
	if st.GuestPID != 0 {
		if err := h.Launcher.Signal(st.GuestPID, syscall.SIGTERM); err != nil {
			return err
		}
	}
	m.cleanup(plan)
	return nil
}

// ended says how the guest ended, as a reason in a sentence: "crashed with
// exit status 4 (error)", "crashed, killed by signal 9 (killed)", with no
// parentheses nested.
func ended(how string, exit host.ExitStatus) string {
	if exit.Signal != 0 {
		return how + ", " + exit.String()
	}
	return how + " with " + exit.String()
}
