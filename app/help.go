package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/internal/suggest"
)

// commandHelp is one command as `wifibox help` shows it: its arguments,
// the options it takes (for suggestions), how many arguments it takes at
// most (-1: the command counts them), and what it does.
type commandHelp struct {
	name    string
	args    string
	options []string
	max     int
	about   string
}

// commands are wifibox's commands in the order the usage lists them.
var commands = []commandHelp{
	{"start", "[guest|netif|vmm]", nil, 1,
		"Start the parts of the target: the network interface wifibox0, then the guest."},
	{"stop", "[guest|netif|vmm]", nil, 1,
		"Stop the parts of the target: the guest, then the network interface.\n" +
			"With nothing running it removes what a killed VM manager left and exits 0."},
	{"restart", "[guest|netif|vmm]", nil, 1,
		"Stop the parts of the target and start them again. With no guest running\n" +
			"it repairs what a killed VM manager left and exits 1."},
	{"status", "[-v|--json]", []string{"-v", "--json"}, 1,
		"Tell whether the guest runs (exit 0) or not (exit 1); -v tells the stage,\n" +
			"the Wi-Fi and what the VM manager knows, --json gives it all as one JSON\n" +
			"object."},
	{"wait", "[running|up|wifi] [-t SECONDS]", []string{"-t"}, 3,
		"Wait until the guest reaches the stage (running by default) or the time\n" +
			"is up (-t, 60 s by default; 0 waits without end): exit 0 when reached,\n" +
			"1 when no guest runs, 2 when the time is up."},
	{"console", "[-e C]", []string{"-e"}, 2,
		"Attach the terminal to the guest's serial console (console=yes in\n" +
			"bhyve.conf); ~. leaves, -e sets another escape character."},
	{"version", "", nil, 0,
		"Show the version of wifibox and the SHA-256 of each guest image."},
	{"doctor", "[-q|--json]", []string{"-q", "--json"}, 1,
		"Check what the guest needs, in the order to fix it, and print the fix\n" +
			"for each problem; -q prints only the problems. Changes nothing."},
	{"log", "[-f] [-n N] [host|guest|guest dmesg]", []string{"-f", "-n"}, -1,
		"Show wifibox's log or the guest's; -n N the last N lines, -f follows\n" +
			"it from its last lines (10 unless -n says) until interrupted."},
	{"suspend", "", nil, 0,
		"Prepare for the system's sleep as recovery in core.conf says."},
	{"resume", "", nil, 0,
		"Bring the guest back after the system's sleep as recovery in core.conf says."},
	{"setup", "[--yes] [--device SEL] | --undo", []string{"--yes", "--device", "--undo"}, 3,
		"Set the host up for wifibox: find the Wi-Fi card, pass it through in\n" +
			"bhyve.conf, blocklist its native driver, enable the service and\n" +
			"configure wifibox0 in rc.conf, enable AMD-Vi on an AMD CPU; create\n" +
			"core.conf and the guest's files from their samples. Asks first unless\n" +
			"--yes; --device takes the card (pci0:3:0:0 or 3/0/0) when several are\n" +
			"present; -n prints the changes and makes none; --undo takes back what\n" +
			"setup changed."},
	{"help", "[COMMAND]", nil, 1,
		"Show this help, or the help of one command."},
}

// globalOptions are the options before the command; the simulated host
// adds -S (sim.go).
var globalOptions = []string{"-n", "-h", "--help", "--version"}

// globalSynopsis are the global options as the usage shows them.
var globalSynopsis = "[-n]"

// synopsis is the one-line usage of wifibox, for usage errors.
func synopsis() string {
	return "usage: wifibox " + globalSynopsis + " COMMAND [ARGS]; wifibox help lists the commands"
}

// writeUsage writes the usage: every command, then the options, then the
// simulated host's, when the build has it.
func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "USAGE: wifibox %s COMMAND [ARGS]\n", globalSynopsis)
	for _, c := range commands {
		fmt.Fprintf(w, "    %s\n", strings.TrimSpace(c.name+" "+c.args))
	}
	fmt.Fprint(w, `
  -n         show the privileged operations start, stop, restart, suspend
             or resume would make, in order, and change nothing; with
             setup, the changes it would make
  -h, --help show this help; wifibox help COMMAND tells about one command
  --version  show the version of wifibox
`)
	if simulator != nil {
		fmt.Fprintf(w, `
Simulated host (for trying wifibox out and testing it):
    %s
  -S DIR     act on the simulated host in DIR (also %s=DIR)
`, simulator.help.name+" "+simulator.help.args, simulator.env)
	}
}

// help is `wifibox help [COMMAND]`: the usage, or one command's usage
// line and what it does.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		writeUsage(stdout)
		return nil
	}
	if len(args) > 1 {
		return failure.TooMany
	}
	c, err := lookup(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "usage: %s\n\n%s\n", c.usage(), c.about)
	return nil
}

// takesOperands tells whether the command takes arguments other than
// its options: not when its synopsis is one choice of them, [-v|--json].
func (c commandHelp) takesOperands() bool {
	return len(c.options) == 0 || c.args != "["+strings.Join(c.options, "|")+"]"
}

func (c commandHelp) usage() string {
	return strings.TrimSpace("wifibox " + c.name + " " + c.args)
}

// lookup finds a command, or gives the usage error for an unknown one.
func lookup(name string) (commandHelp, error) {
	all := slices.Clone(commands)
	if simulator != nil {
		all = append(all, simulator.help)
	}
	i := slices.IndexFunc(all, func(c commandHelp) bool { return c.name == name })
	if i < 0 {
		names := make([]string, len(all))
		for i, c := range all {
			names[i] = c.name
		}
		return commandHelp{}, unknown("command", name, names, synopsis())
	}
	return all[i], nil
}

// checkArgs refuses an option the command does not take, naming the one
// meant, more arguments than it takes, and words where it takes options
// only. -h and --help were taken by Main. A command the help table lacks
// (the hidden ones) checks its own.
func checkArgs(name string, args []string) error {
	c, err := lookup(name)
	if err != nil {
		return nil
	}
	operands := false
	for _, a := range args {
		if strings.HasPrefix(a, "-") && len(a) > 1 && !slices.Contains(c.options, a) {
			return unknown("option", a, c.options, "usage: "+c.usage())
		}
		operands = operands || !strings.HasPrefix(a, "-")
	}
	if c.max >= 0 && len(args) > c.max || operands && !c.takesOperands() {
		return failure.TooMany
	}
	return nil
}

// usageError is a mistake on the command line: shown on standard error
// with a one-line usage whatever the log level, exit status 1.
type usageError struct{ msg, usage string }

func (e *usageError) Error() string { return e.msg }

// unknown is the usage error for a word that is none of valid, naming the
// nearest valid one when one is near.
func unknown(kind, word string, valid []string, usage string) error {
	msg := fmt.Sprintf("unknown %s %s", kind, word)
	if s := suggest.Nearest(word, valid); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return failure.New(failure.Usage, &usageError{msg: msg, usage: usage})
}

// showUsageError writes a usage error to stderr, whatever the log level,
// and tells whether err was one: a usageError, or any error with the
// usage's exit status not shown yet (too many parameters, an unknown
// target). Mistakes on the command line are not logged.
func showUsageError(err error, stderr io.Writer) bool {
	var u *usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "ERROR: %s\n%s\n", u.msg, u.usage)
	case failure.Status(err) == failure.Usage && !errors.Is(err, failure.ErrShown):
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
	default:
		return false
	}
	return true
}

// wantsHelp tells whether a command's arguments ask for its help.
func wantsHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help")
}

// usageFailure shows err when it is a usage error and gives its exit
// status; other errors have been shown already.
func usageFailure(err error, stderr io.Writer) int {
	showUsageError(err, stderr)
	return failure.Status(err)
}

// globalOptionError names the option before the command that the flag
// package refused, as the user typed it.
func globalOptionError(fs *flag.FlagSet, args []string, err error) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, _, value := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(name) == nil {
			return unknown("option", a, globalOptions, synopsis())
		}
		if name == "S" && !value {
			i++ // its directory
		}
	}
	return failure.New(failure.Usage, &usageError{msg: err.Error(), usage: synopsis()})
}
