package app

import "fmt"

// shellEnv are the environment variables the shell implementation read
// (pgj/freebsd-wifibox sbin/wifibox, its defaults at the top) to run
// another program or load another module file, and what replaces each
// here: wifibox honours none of them, and a command warns once of each
// one set (man/wifibox.8, COMPATIBILITY).
var shellEnv = []struct{ name, instead string }{
	{"BHYVE", "set bhyve= in bhyve.conf to run another bhyve(8)"},
	{"VMM_KO", "vmm.ko is loaded from the first directory of kern.module_path"},
	{"NMDM_KO", "nmdm.ko is loaded from the first directory of kern.module_path"},
	{"IF_BRIDGE_KO", "if_bridge.ko is loaded from the first directory of kern.module_path"},
	{"SOCAT", "the control-socket relay is built in"},
	{"CU", "the console is built in"},
}

// shellTools are the system utilities whose paths the shell
// implementation read from the environment; wifibox runs none of them.
var shellTools = []string{
	"BHYVECTL", "CAT", "DAEMON", "DEVCTL", "ECHO", "EXPR", "GREP", "HEAD",
	"IFCONFIG", "KILL", "KLDLOAD", "KLDSTAT", "KLDUNLOAD", "LS", "NETSTAT",
	"NICE", "PGREP", "PRINTF", "PS", "READLINK", "RM", "SED", "SEQ",
	"SHA256", "SLEEP", "SYSCTL", "TAIL", "TR",
}

// ignoredEnv gives a warning for each of the shell implementation's
// variables that is set, saying it is ignored and what replaces it.
func ignoredEnv(lookup func(string) (string, bool)) []string {
	var warnings []string
	warn := func(name, instead string) {
		if v, set := lookup(name); set {
			warnings = append(warnings, fmt.Sprintf("%s=%s is ignored (the shell implementation read it): %s", name, v, instead))
		}
	}
	for _, e := range shellEnv {
		warn(e.name, e.instead)
	}
	for _, name := range shellTools {
		warn(name, "wifibox runs no such utility, it makes the system calls itself")
	}
	return warnings
}
