package sim

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
	netif "github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/ppt"
)

// A guest the shell implementation runs, on a simulated host: `wifibox sim
// legacy DIR` (Legacy) leaves what its `wifibox start` leaves on FreeBSD
// (sbin/wifibox of pgj/freebsd-wifibox, read at its last release):
//
//   - vmm and if_bridge loaded, the bridge wifibox0 up with a tap member;
//   - `daemon -r -t wifibox-vm-manager /usr/local/sbin/wifibox _manage_vm`,
//     titled `daemon: wifibox-vm-manager[CHILD]` by daemon(8), running the
//     script's VM manager (`/bin/sh /usr/local/sbin/wifibox _manage_vm`),
//     which bound bhyve.conf's passthru devices to ppt and runs bhyve in
//     the foreground, titled `bhyve: wifibox`;
//   - a relay, `daemon -r -t wifibox-uds-passthru socat ...`, titled
//     `daemon: wifibox-uds-passthru[CHILD]`, and its socat.
//
// Each is a real process running this program in a role named by the
// environment variable LegacyEnv (ROLE:DIR), with the argv the real one
// has, and registered in the simulated host's process table. They behave
// as the originals do: daemon(8) restarts its command a second after it
// exits and, on SIGTERM, sends SIGTERM to it, waits for it and exits; the
// script dies of SIGTERM, leaving bhyve running; when bhyve exits the
// script destroys the VM, clears the ppt driver and exits 1 to be run
// again (bhyve exit status 0, or a crash) or SIGTERMs daemon (1, 2, 143).
// Once the script has exited, what daemon runs again is the wifibox now
// installed: this program, `wifibox -S DIR _manage_vm`, as after an
// upgrade over a running guest.

// LegacyEnv names the role of a simulated process of the shell
// implementation.
const LegacyEnv = "WIFIBOX_SIM_LEGACY"

// The shell implementation's programs and daemon(8) titles.
const (
	legacyScript     = "/usr/local/sbin/wifibox"
	legacySocat      = "/usr/local/bin/socat"
	legacyDaemon     = "/usr/sbin/daemon"
	legacyManagerID  = "wifibox-vm-manager"
	legacyRelayID    = "wifibox-uds-passthru"
	legacyRestartGap = time.Second // daemon -R default
)

func (s *system) legacyLog() string { return filepath.Join(s.simDir(), "legacy.log") }

// Legacy sets up a guest run by the shell implementation on the simulated
// host under dir, and returns once its bhyve and its relay run.
func Legacy(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("simulate the shell implementation on %s: %w", dir, err)
	}
	s := &system{dir: abs}
	if err := s.legacy(); err != nil {
		return fmt.Errorf("simulate the shell implementation on %s: %w", abs, err)
	}
	return nil
}

func (s *system) legacy() error {
	if _, err := os.Stat(s.statePath()); err != nil {
		return err
	}
	p := s.paths()
	// wifibox_start: load_vmm (kldload), create_bridge (if_bridge,
	// ifconfig bridge create name wifibox0 up, tap create up, addm).
	for _, m := range []string{"vmm", "if_bridge"} {
		if _, err := newKernel(s).Kldload(filepath.Join(s.dir, "boot/kernel", m+".ko")); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	// ifconfig(8) makes the interface ioctls ifnet makes.
	n, err := netif.New(newKernel(s))
	if err != nil {
		return err
	}
	br, err := n.CreateInterface("bridge")
	if err == nil {
		err = n.RenameInterface(br, host.BridgeName)
	}
	if err == nil {
		err = n.SetUp(host.BridgeName)
	}
	var tap string
	if err == nil {
		tap, err = n.CreateInterface("tap")
	}
	if err == nil {
		err = n.SetUp(tap)
	}
	if err == nil {
		err = n.AddMember(host.BridgeName, tap)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Join(p.RunAppliance(), "log"), 0o755)
	}
	if err != nil {
		return err
	}
	// vm_start, then uds_passthru_start.
	if err := s.spawnLegacy("daemon", []string{legacyDaemon, "-r", "-t", legacyManagerID, legacyScript, "_manage_vm"}); err != nil {
		return err
	}
	return s.spawnLegacy("daemon", []string{legacyDaemon, "-r", "-t", legacyRelayID, legacySocat,
		"UNIX-RECVFROM:/var/run/wpa_supplicant/wlan0,reuseaddr,fork,unlink-early,user=root,group=wheel,mode=770",
		"TCP4:10.0.0.1:1200"})
}

// spawnLegacy starts a simulated process of the shell implementation in
// the background, registers it and waits until it reports ready.
func (s *system) spawnLegacy(role string, argv []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd, err := s.startLegacy(role, argv, w)
	w.Close()
	if err != nil {
		return err
	}
	cmd.Process.Release()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		return fmt.Errorf("%s did not start; see %s", strings.Join(argv, " "), s.legacyLog())
	}
	return nil
}

// startLegacy starts a process in a role with argv, in its own session,
// output to DIR/sim/legacy.log, ready (may be nil) as its descriptor 3,
// and registers it.
func (s *system) startLegacy(role string, argv []string, ready *os.File) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile(s.legacyLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := &exec.Cmd{Path: exe, Args: argv, Stdout: out, Stderr: out,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if role != "" {
		cmd.Env = append(environWithout(LegacyEnv), LegacyEnv+"="+role+":"+s.dir)
	} else {
		cmd.Env = environWithout(LegacyEnv)
	}
	if ready != nil {
		cmd.ExtraFiles = []*os.File{ready}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return cmd, s.register(cmd.Process.Pid)
}

func environWithout(name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, name+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// readyFD is the descriptor on which a simulated process of the shell
// implementation reports that it runs: the first of exec.Cmd.ExtraFiles.
const readyFD = 3

// readyPipe gives the pipe to report on, or nil when descriptor 3 is none.
// It is taken before anything else can open a file as descriptor 3.
func readyPipe() *os.File {
	var st unix.Stat_t
	if unix.Fstat(readyFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil
	}
	return os.NewFile(readyFD, "ready")
}

// LegacyMain runs a simulated process of the shell implementation in the
// role LegacyEnv names, and gives its exit status.
func LegacyMain() int {
	ready := readyPipe()
	role, dir, _ := strings.Cut(os.Getenv(LegacyEnv), ":")
	s := &system{dir: dir}
	// The arguments are copied before setTitle overwrites them.
	argv := make([]string, len(os.Args))
	for i, a := range os.Args {
		argv[i] = strings.Clone(a)
	}
	var code int
	switch role {
	case "daemon":
		code = s.legacyDaemon(argv, ready)
	case "script":
		code = s.legacyScript(ready)
	case "bhyve":
		code = s.legacyBhyve(argv, ready)
	case "socat":
		code = legacySocatMain(ready)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown role %q\n", LegacyEnv, role)
		code = 1
	}
	return code
}

// legacyDaemon is daemon(8) -r -t ID COMMAND...: argv as it was run.
func (s *system) legacyDaemon(argv []string, ready *os.File) int {
	id, command := argv[3], argv[4:]
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM)
	for first := true; ; first = false {
		role, args := "socat", command
		if command[0] == legacyScript {
			role, args = "script", append([]string{"/bin/sh"}, command...)
			if !first { // what is installed now runs
				role, args = "", []string{legacyScript, "-S", s.dir, "_manage_vm"}
			}
		}
		var inner, innerW *os.File
		if first && ready != nil {
			var err error
			if inner, innerW, err = os.Pipe(); err != nil {
				fmt.Fprintln(os.Stderr, "daemon:", err)
				return 1
			}
		}
		child, err := s.startLegacy(role, args, innerW)
		if innerW != nil {
			innerW.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			return 1
		}
		setTitle(fmt.Sprintf("daemon: %s[%d]", id, child.Process.Pid))
		if inner != nil { // the child's readiness, once the title is set
			line, _ := bufio.NewReader(inner).ReadString('\n')
			ready.WriteString(line)
			ready.Close()
			inner.Close()
		}
		done := make(chan struct{})
		go func() { child.Wait(); close(done) }()
		select {
		case <-sigs:
			child.Process.Signal(unix.SIGTERM)
			<-done
			return 0
		case <-done:
		}
		select {
		case <-sigs:
			return 0
		case <-time.After(legacyRestartGap):
		}
	}
}

// legacyScript is the script's vm_manager: passthru devices to ppt, the
// bridge's tap, bhyve in the foreground, then destroy_vm and the verdict
// on bhyve's exit status. It does not catch SIGTERM: sh dies of it.
func (s *system) legacyScript(ready *os.File) int {
	p := s.paths()
	cfg, _, err := config.LoadBhyve(p.BhyveConf(), 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wifibox:", err)
		return 3
	}
	// devctl(8) makes the ioctls of the ppt backend.
	devctl := ppt.New(newKernel(s))
	for _, sel := range cfg.Passthru {
		if err := devctl.SetDriver(sel, "ppt"); err != nil {
			fmt.Fprintln(os.Stderr, "devctl:", err)
		}
	}
	var members []string
	n, err := netif.New(newKernel(s))
	if err == nil {
		members, err = n.Members(host.BridgeName)
	}
	if err != nil || len(members) == 0 {
		fmt.Fprintln(os.Stderr, "wifibox: No tap interface is available, cannot proceed")
		unix.Kill(os.Getppid(), unix.SIGTERM)
		return 5
	}
	argv := bhyve.Args(bhyve.Spec{
		Program: p.Bhyve, CPUs: cfg.CPUs, Memory: cfg.Memory, Firmware: p.Firmware,
		ESPImage: p.ESPImage(), RootImage: p.RootImage(), Appliance: p.Appliance(),
		RunAppliance: p.RunAppliance(), Tap: members[0], Passthru: cfg.Passthru,
	})
	b, err := s.startLegacy("bhyve", argv, ready)
	if ready != nil {
		ready.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wifibox:", err)
		return 1
	}
	b.Wait()
	code := b.ProcessState.ExitCode()
	if ws, ok := b.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal()) // as sh reports it
	}
	s.destroyVMByName(host.VMName) // bhyvectl --destroy
	for _, sel := range cfg.Passthru {
		devctl.ClearDriver(sel)
	}
	switch code {
	case host.ExitReset:
		return 1
	case host.ExitPowerOff, host.ExitHalt, 128 + int(unix.SIGTERM):
		unix.Kill(os.Getppid(), unix.SIGTERM) // quit_daemonization
		return 0
	}
	time.Sleep(5 * time.Second) // the script's crash delay
	return 1
}

// legacyBhyve is bhyve run by the script: the simulated bhyve, titled
// `bhyve: NAME` as bhyve(8) titles itself, once its devices are set up:
// bhyve 14 calls setproctitle after it has started its vCPUs
// (usr.sbin/bhyve/bhyverun.c main); until then its title is its command
// line.
func (s *system) legacyBhyve(argv []string, ready *os.File) int {
	a, err := parseBhyveArgs(argv[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bhyve: %v\n", err)
		return host.ExitError
	}
	b := &bhyveProc{s: s, args: a, pid: os.Getpid(), tapOpened: func() {
		setTitle("bhyve: " + a.name)
		if ready != nil {
			ready.Write([]byte("ready\n"))
			ready.Close()
			ready = nil
		}
	}}
	return b.main()
}

// legacySocatMain is socat relaying a socket: it runs until SIGTERM.
func legacySocatMain(ready *os.File) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM)
	if ready != nil {
		ready.WriteString("ready\n")
		ready.Close()
	}
	<-sigs
	return 0
}

// setTitle replaces the process's arguments, as /proc/PID/cmdline shows
// them, with title: what setproctitle(3) does to kern.proc.args on
// FreeBSD. It writes over the memory of the original arguments (os.Args
// point into it), NUL-filling the rest, so title must be shorter than
// they were together; os.Args must not be used afterwards.
func setTitle(title string) {
	first := unsafe.StringData(os.Args[0])
	last := os.Args[len(os.Args)-1]
	end := uintptr(unsafe.Pointer(unsafe.StringData(last))) + uintptr(len(last))
	area := unsafe.Slice(first, end-uintptr(unsafe.Pointer(first)))
	n := copy(area, title)
	clear(area[n:])
}
