// Package app owns wifibox's command line: the global options, the commands
// and their arguments, the help (help.go: the usage, each command's help,
// the nearest valid word for a mistyped one), the logger each command gets,
// the host it acts on (FreeBSD's kernel, or a simulated host with -S;
// logged through logging.Host), whether it must run as root, and the
// mapping of every error to its documented exit status. The simulated host
// is built in (sim.go) unless the nosim build tag leaves it out, as the
// FreeBSD release build does: no -S, no WIFIBOX_SIMULATE, no sim and
// __sim-bhyve commands then.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/console"
	"github.com/wifibox/wifibox/doctor"
	"github.com/wifibox/wifibox/dryrun"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/legacy"
	"github.com/wifibox/wifibox/lifecycle"
	"github.com/wifibox/wifibox/logging"
	"github.com/wifibox/wifibox/logview"
	"github.com/wifibox/wifibox/manager"
)

// version is set at build time: -ldflags "-X github.com/wifibox/wifibox/app.version=...";
// without it, the release this source is. It sorts after the shell
// implementation's releases (0.x), which this one replaces.
var version = "1.0.0"

// Hidden commands: the VM manager process and the shell implementation's
// VM manager, which its daemon(8) runs.
const (
	managerCommand = host.ManagerArg
	legacyManager  = "_manage_vm"
)

// simulator is the simulated host's entry points, set by sim.go; nil in a
// nosim build, which holds none of its names.
var simulator *simHooks

type simHooks struct {
	help         commandHelp // its command, sim
	env          string      // the variable that names a simulated host
	bhyveCommand string      // the hidden command that runs the simulated bhyve
	// legacyEnv, when set, makes this process one of the simulated shell
	// implementation's, which legacyMain runs.
	legacyEnv  string
	legacyMain func() int
	open       func(dir string) (*host.Host, error)
	bhyve      func(args []string) int
	// setups are sim's subcommands: what each does to a directory and
	// what it says when done.
	setups map[string]simSetup
}

type simSetup struct {
	f    func(dir string) error
	done string
}

// dryRunnable are the commands -n shows instead of running.
var dryRunnable = map[string]bool{"start": true, "stop": true, "restart": true, "suspend": true, "resume": true, "setup": true}

// command is one invocation.
type command struct {
	simDir string
	dry    bool // -n: show the privileged operations, change nothing
	stdout io.Writer
	stderr io.Writer
	host   *host.Host
	core   config.Core
	log    *logrus.Logger
}

// Main runs wifibox with the arguments after the program name and gives the
// exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if simulator != nil && os.Getenv(simulator.legacyEnv) != "" { // a simulated process of the shell implementation
		return simulator.legacyMain()
	}
	fs := flag.NewFlagSet("wifibox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	simDir := new(string)
	if simulator != nil {
		simDir = fs.String("S", os.Getenv(simulator.env), "")
	}
	dry := fs.Bool("n", false, "")
	helpShort := fs.Bool("h", false, "")
	helpLong := fs.Bool("help", false, "")
	showVersion := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		return usageFailure(globalOptionError(fs, args, err), stderr)
	}
	switch {
	case *helpShort || *helpLong:
		writeUsage(stdout)
		return 0
	case *showVersion:
		fmt.Fprintf(stdout, "wifibox version %s\n", version)
		return 0
	case fs.NArg() == 0:
		writeUsage(stderr)
		return failure.Usage
	}
	c := &command{stdout: stdout, stderr: stderr, dry: *dry}
	if *simDir != "" {
		dir, err := filepath.Abs(*simDir)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: %v\n", err)
			return failure.Usage
		}
		c.simDir = dir
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	switch {
	case simulator != nil && name == simulator.bhyveCommand:
		return simulator.bhyve(rest)
	case simulator != nil && name == "sim":
		return usageFailure(c.sim(rest), stderr)
	}
	run, ok := map[string]func([]string) error{
		"start":        c.lifecycle((*lifecycle.Runner).Start),
		"stop":         c.lenient(c.lifecycle((*lifecycle.Runner).Stop)),
		"restart":      c.lifecycle((*lifecycle.Runner).Restart),
		"status":       c.lenient(c.status),
		"wait":         c.wait,
		"console":      c.console,
		"version":      c.version,
		"doctor":       c.doctor,
		"log":          c.showLog,
		"suspend":      c.recovery((*lifecycle.Runner).Suspend),
		"resume":       c.recovery((*lifecycle.Runner).Resume),
		"setup":        c.setup,
		managerCommand: c.manager,
		legacyManager:  c.manageVM,
	}[name]
	switch {
	case name == "help":
		return usageFailure(help(rest, stdout), stderr)
	case !ok:
		_, err := lookup(name)
		return usageFailure(err, stderr)
	case wantsHelp(rest):
		return usageFailure(help([]string{name}, stdout), stderr)
	default:
		if err := checkArgs(name, rest); err != nil {
			return usageFailure(err, stderr)
		}
	}
	if c.dry && !dryRunnable[name] {
		fmt.Fprintf(stderr, "ERROR: -n goes with start, stop, restart, suspend, resume and setup\n")
		return failure.Usage
	}
	if err := c.open(name); err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return failure.Status(err)
	}
	c.log.Debugf("Program started with arguments: %q", args)
	err := run(rest)
	if showUsageError(err, stderr) {
		return failure.Status(err)
	}
	if err != nil && !errors.Is(err, failure.ErrShown) {
		c.log.Error(err)
	}
	return failure.Status(err)
}

// readOnly are the commands that only look: they write no log.
var readOnly = map[string]bool{"doctor": true, "log": true}

// anyUser are the commands besides readOnly that need no root: status and
// wait ask the VM manager's status socket, which answers any user. Run by
// another user they write no log, which is root's.
var anyUser = map[string]bool{"status": true, "wait": true, "version": true}

// open finds the host and reads core.conf for the log level. The VM
// manager, which has no terminal, logs to the file only.
func (c *command) open(name string) error {
	var err error
	if c.simDir != "" {
		c.host, err = simulator.open(c.simDir)
	} else if !readOnly[name] && !anyUser[name] && os.Geteuid() != 0 {
		// A simulated host belongs to its user; FreeBSD's kernel does
		// what wifibox asks of root only.
		return failure.New(failure.Environment, fmt.Errorf(
			"wifibox must run as root: run `wifibox %s` as root (su -, or sudo/doas)", name))
	} else {
		c.host, err = nativeHost()
	}
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	// Only what starts the guest refuses a core.conf it cannot use: the
	// way out (stop, status, suspend, ...) works whatever it says, and
	// restart checks it before it stops anything (lifecycle's preflight).
	var core config.Core
	var warnings []string
	switch name {
	case "start", managerCommand:
		core, warnings, err = config.LoadCore(c.host.Paths.CoreConf())
		if err != nil {
			return failure.New(failure.Config, err)
		}
	case "setup": // it creates core.conf, and doctor reports a broken one
		core, _ = config.LoadCoreLenient(c.host.Paths.CoreConf())
	default:
		core, warnings = config.LoadCoreLenient(c.host.Paths.CoreConf())
	}
	c.core = core
	user, logFile := c.stderr, c.host.Paths.Log
	if name == managerCommand {
		user = nil
	} else {
		warnings = append(warnings, ignoredEnv(os.LookupEnv)...)
	}
	switch {
	case name == "doctor": // it reports core.conf itself
		logFile, warnings = "", nil
	case readOnly[name], anyUser[name] && os.Geteuid() != 0:
		logFile = ""
	}
	if c.dry { // nothing is logged of what does not happen
		logFile = ""
		c.host = dryrun.New(c.host, c.stdout)
	}
	c.log = logging.New(logFile, core.LogLevel, user)
	for _, w := range warnings {
		c.log.Warn(w)
	}
	if logFile != "" {
		c.log.Debugf("Configuration as read: %s: loglevel=%s recovery=%s",
			c.host.Paths.CoreConf(), core.LogLevel, core.Recovery)
		c.host = logging.Host(c.host, c.log)
	}
	return nil
}

// self is the command line that runs this program again on the same host.
func (c *command) self(args ...string) []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	argv := []string{exe}
	if c.simDir != "" {
		argv = append(argv, "-S", c.simDir)
	}
	return append(argv, args...)
}

// runner is the command's lifecycle.Runner, which -n gives the dry run's
// effects (lifecycle.DryRun) as it gives it the recording host.
func (c *command) runner() *lifecycle.Runner {
	r := &lifecycle.Runner{Host: c.host, Log: c.log, Out: c.stdout, Manager: c.self(managerCommand)}
	if c.dry {
		r.Effects = lifecycle.DryRun()
	}
	return r
}

func (c *command) lifecycle(f func(*lifecycle.Runner, string) error) func([]string) error {
	return func(args []string) error {
		target, err := lifecycle.ParseTarget(args)
		if err != nil {
			return err
		}
		return f(c.runner(), target)
	}
}

// lenient runs a command that works whatever bhyve.conf and
// uds_passthru.conf say (stop, status): it acts on what it finds on the
// host, and only warns of what makes them unusable. restart checks them
// before it stops anything (lifecycle's preflight).
func (c *command) lenient(run func([]string) error) func([]string) error {
	return func(args []string) error {
		paths := c.host.Paths
		if _, _, err := config.LoadBhyve(paths.BhyveConf(), 0); err != nil {
			c.log.Warnf("%v (start refuses it until it is fixed)", err)
		}
		if _, _, _, err := manager.RelayConfig(paths); err != nil {
			c.log.Warnf("%v (%s)", err, config.WithoutRelay)
		}
		return run(args)
	}
}

// recovery runs suspend or resume with core.conf's recovery method.
func (c *command) recovery(f func(*lifecycle.Runner, config.Recovery) error) func([]string) error {
	return func([]string) error { return f(c.runner(), c.core.Recovery) }
}

// doctor checks the host and tells what to fix, -q the problems only,
// --json as one JSON object; exit status 127 when a check fails.
func (c *command) doctor(args []string) error {
	format := doctor.All
	switch {
	case slices.Equal(args, []string{"-q"}):
		format = doctor.Problems
	case slices.Equal(args, []string{"--json"}):
		format = doctor.JSON
	}
	if !doctor.Run(c.host, c.stdout, format) {
		return failure.New(failure.Environment, failure.ErrShown)
	}
	return nil
}

// showLog shows the host's log or the guest's, or its last -n N lines,
// following it with -f from its last lines until SIGINT or SIGTERM.
func (c *command) showLog(args []string) error {
	l, view, err := logview.Select(c.host.Paths, args)
	if err != nil {
		return failure.New(failure.Usage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return failure.New(failure.Environment, l.Show(c.stdout, view, ctx.Done()))
}

func (c *command) manager(args []string) error {
	if len(args) != 0 {
		return failure.TooMany
	}
	if code := manager.Main(c.host, c.log, manager.ReportFile(), c.core.Watchdog); code != 0 {
		return failure.New(code, failure.ErrShown)
	}
	return nil
}

// manageVM is `wifibox _manage_vm`, which the shell implementation's
// daemon -r runs again and again once this wifibox has replaced the
// script: it stops that daemon, says what to run, and exits at once.
func (c *command) manageVM(args []string) error {
	// The daemon passes its SIGTERM on to this process: it is done with
	// its work first.
	signal.Ignore(syscall.SIGTERM)
	ppid := os.Getppid()
	isDaemon, err := legacy.IsManagerProcess(c.host.Procs, ppid)
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if !isDaemon {
		return failure.New(failure.Usage, fmt.Errorf("`wifibox %s` is the VM manager of the shell implementation of wifibox, "+
			"run by its daemon(8); this wifibox does not use it (its parent, PID %d, is not that daemon)", legacyManager, ppid))
	}
	c.log.Warnf("The VM manager of the shell implementation (daemon PID %d) ran `wifibox %s` after its guest exited: "+
		"this wifibox has replaced it, so that daemon is told to stop (SIGTERM) and runs nothing again. "+
		"Start the guest under this wifibox with `service wifibox start`", ppid, legacyManager)
	if err := c.host.Launcher.Signal(ppid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return failure.New(failure.Environment, fmt.Errorf("send SIGTERM to the shell implementation's daemon PID %d: %w; "+
			"stop it with `kill %d`", ppid, err, ppid))
	}
	return nil
}

func (c *command) sim(args []string) error {
	if len(args) != 2 || simulator.setups[args[0]].f == nil {
		return failure.New(failure.Usage, &usageError{msg: "sim needs init, legacy, netif-stop or netif-start, and a directory", usage: "usage: " + simulator.help.usage()})
	}
	setup := simulator.setups[args[0]]
	if err := setup.f(args[1]); err != nil {
		fmt.Fprintf(c.stderr, "ERROR: %v\n", err)
		return failure.New(failure.Environment, failure.ErrShown)
	}
	fmt.Fprintf(c.stdout, setup.done+"\n", args[1])
	return nil
}

// console attaches the terminal to the guest's serial console; -e C sets
// the escape character (default ~).
func (c *command) console(args []string) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	escape := fs.String("e", "~", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || len(*escape) != 1 {
		return failure.New(failure.Usage, errors.New("usage: wifibox console [-e C], C a single character"))
	}
	c.log.Info("Begin: wifibox console")
	paths := c.host.Paths
	st, err := c.guest(false)
	if err != nil {
		return err
	}
	if st.GuestPID == 0 {
		if advice := c.shellGuestAdvice("`wifibox console`"); advice != "" {
			return failure.New(failure.Environment, errors.New(advice))
		}
		return failure.New(failure.Environment, errors.New("There is no guest to attach to"))
	}
	// Whether the guest has its console is what it was started with;
	// bhyve.conf tells only when its manager does not say.
	cfg, _, cerr := config.LoadBhyve(paths.BhyveConf(), 0)
	started := cerr == nil && cfg.Console
	switch {
	case st.Console != nil:
		started = *st.Console
	case cerr != nil:
		return failure.New(failure.Config, cerr)
	}
	switch {
	case !started && cerr == nil && cfg.Console:
		return failure.New(failure.Environment, fmt.Errorf(
			"The guest was started with console=no, so it has no null-modem device; %s says console=yes now, "+
				"which takes effect when the guest starts again: `wifibox restart guest`", paths.BhyveConf()))
	case !started:
		return failure.New(failure.Environment, fmt.Errorf(
			"No null-modem device is configured: set console=yes in %s, then `wifibox restart guest`", paths.BhyveConf()))
	}
	c.log.Info("Attaching to the guest")
	err = console.Attach(console.Options{
		Device: paths.ConsoleUser(), Escape: (*escape)[0], In: os.Stdin, Out: c.stdout, LockDir: paths.RunDir,
	})
	switch {
	case errors.Is(err, console.ErrHangup), errors.Is(err, console.ErrSignal):
		c.log.Warn(err)
	case err != nil:
		return failure.New(failure.Environment, err)
	}
	c.log.Info("Detached from the guest")
	return nil
}
