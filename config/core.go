package config

import (
	"fmt"
	"time"
)

// LogLevel is how much wifibox logs, from LogNone to LogDebug; each level
// includes the ones below it.
type LogLevel int

// The log levels of core.conf's loglevel.
const (
	LogNone LogLevel = iota
	LogError
	LogWarn
	LogInfo
	LogDebug
)

// logLevels are the names of the levels in order, as core.conf spells them.
var logLevels = []string{"none", "error", "warn", "info", "debug"}

// String gives the level's name, as core.conf spells it.
func (l LogLevel) String() string { return logLevels[l] }

// Recovery is how wifibox handles a system suspend and resume (ours: a
// core.conf setting; the shell implementation chooses it at install time).
type Recovery string

// The recovery methods of core.conf's recovery.
const (
	// RecoveryRestartVMM does nothing on suspend and "restart vmm" on resume.
	RecoveryRestartVMM Recovery = "restart_vmm"
	// RecoverySuspendGuest does "stop guest" on suspend, "start guest" on resume.
	RecoverySuspendGuest Recovery = "suspend_guest"
	// RecoverySuspendVMM does "stop vmm" on suspend, "start vmm" on resume.
	RecoverySuspendVMM Recovery = "suspend_vmm"
	// RecoveryNone does nothing.
	RecoveryNone Recovery = "none"
)

// Core is core.conf.
type Core struct {
	LogLevel LogLevel // loglevel, case-insensitive [warn]; an unknown one warns and is warn
	Recovery Recovery // recovery [restart_vmm]
	// Watchdog is watchdog [0], in seconds: the VM manager restarts a
	// guest that has not answered on its control socket for that long;
	// 0 is off.
	Watchdog time.Duration
}

// LoadCore reads core.conf at path. It gives warnings for the names the file
// does not know; a missing file is an ErrMissing error, anything wrong with
// it an ErrInvalid one.
func LoadCore(path string) (Core, []string, error) {
	file, as, err := load(path)
	if err != nil {
		return Core{}, nil, err
	}
	return newCore(file, as, false)
}

// LoadCoreLenient reads core.conf at path for a command that must work
// whatever it says (stop, status, suspend, resume and the others but
// start): what it cannot use, a setting or the whole file (missing,
// unsafe, malformed), is a warning saying where or the fix, and the
// default.
func LoadCoreLenient(path string) (Core, []string) {
	file, as, err := load(path)
	if err != nil {
		return defaultCore, []string{fmt.Sprintf("%v; using the defaults (loglevel=%s recovery=%s watchdog=0) "+
			"until it is fixed (start refuses it)", err, defaultCore.LogLevel, defaultCore.Recovery)}
	}
	core, warnings, _ := newCore(file, as, true)
	return core, warnings
}

// defaultCore is core.conf's defaults.
var defaultCore = Core{LogLevel: LogWarn, Recovery: RecoveryRestartVMM}

// recoveries are the recovery methods, the default first.
var recoveries = []string{string(RecoveryRestartVMM), string(RecoverySuspendGuest), string(RecoverySuspendVMM), string(RecoveryNone)}

// newCore validates the assignments of core.conf, which file names. A
// lenient one takes the default for a malformed setting, with a warning.
func newCore(file string, as Assignments, lenient bool) (Core, []string, error) {
	s, warnings := newSettings(file, as, "loglevel", "recovery", "watchdog")
	// fallback is the default for a malformed setting, with a warning:
	// always for an unknown loglevel, which must not stop the boot (the
	// shell implementation took one as none), when lenient for the rest.
	fallback := func(err error, def string) {
		warnings = append(warnings, fmt.Sprintf("%v; using %s", err, def))
	}
	level, err := s.choice("loglevel", logLevels[LogWarn], true, logLevels...)
	if err != nil {
		fallback(err, logLevels[LogWarn])
		level = int(LogWarn)
	}
	recovery, err := s.choice("recovery", recoveries[0], false, recoveries...)
	if err != nil && !lenient {
		return Core{}, warnings, err
	} else if err != nil {
		fallback(err, recoveries[0]+" until it is fixed (start refuses it)")
	}
	watchdog, err := s.integer("watchdog", "0", 0, 3600)
	if err != nil && !lenient {
		return Core{}, warnings, err
	} else if err != nil {
		fallback(err, "0 (no watchdog) until it is fixed (start refuses it)")
	}
	return Core{LogLevel: LogLevel(level), Recovery: Recovery(recoveries[recovery]),
		Watchdog: time.Duration(watchdog) * time.Second}, warnings, nil
}
