package config

import (
	"fmt"
	"slices"
	"strings"
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

// Recovery is how wifibox handles a system suspend and resume: core.conf's
// recovery, or else the default built in (the shell implementation chose
// it when its package was built).
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
	Recovery Recovery // recovery [defaultRecovery]
	// RecoveryFrom says where Recovery comes from: RecoveryFromFile or
	// RecoveryBuiltIn.
	RecoveryFrom string
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
		def := defaultCore()
		return def, []string{fmt.Sprintf("%v; using the defaults (loglevel=%s recovery=%s watchdog=0) "+
			"until it is fixed (start refuses it)", err, def.LogLevel, def.Recovery)}
	}
	core, warnings, _ := newCore(file, as, true)
	return core, warnings
}

// defaultCore is core.conf's defaults: what a lenient reading takes for a
// file it cannot use.
func defaultCore() Core {
	recovery := defaultRecovery
	if !contains(recoveries, recovery) {
		recovery = string(RecoveryRestartVMM)
	}
	return Core{LogLevel: LogWarn, Recovery: Recovery(recovery), RecoveryFrom: RecoveryBuiltIn}
}

// RecoveryText tells the recovery method in effect and where it comes
// from, as doctor and status -v show it.
func (c Core) RecoveryText() string {
	if c.RecoveryFrom == RecoveryBuiltIn {
		return string(c.Recovery) + " (the default built into this wifibox: core.conf has no recovery line)"
	}
	return string(c.Recovery) + " (recovery= in core.conf)"
}

// recoveries are the recovery methods.
var recoveries = []string{string(RecoveryRestartVMM), string(RecoverySuspendGuest), string(RecoverySuspendVMM), string(RecoveryNone)}

// defaultRecovery is the recovery method of a core.conf without a recovery
// line. A package sets it when it is built (-X, the FreeBSD port's
// RECOVER_* options), so that a core.conf that an upgrade keeps, written
// when the method was chosen at build time, keeps the method chosen.
var defaultRecovery = string(RecoveryRestartVMM)

// Where a recovery method comes from (Core.RecoveryFrom).
const (
	RecoveryFromFile = "core.conf"
	RecoveryBuiltIn  = "built-in default"
)

// newCore validates the assignments of core.conf, which file names. A
// lenient one takes the default for a setting it cannot use, with a
// warning.
func newCore(file string, as Assignments, lenient bool) (Core, []string, error) {
	s, warnings := newSettings(file, as, "loglevel", "recovery", "watchdog")
	def := defaultCore()
	// fallback is the default for a malformed setting, with a warning:
	// always for an unknown loglevel, which must not stop the boot (the
	// shell implementation took one as none), when lenient for the rest.
	fallback := func(err error, value string) {
		warnings = append(warnings, fmt.Sprintf("%v; using %s", err, value))
	}
	const untilFixed = " until it is fixed (start refuses it)"
	level, err := s.choice("loglevel", logLevels[LogWarn], true, logLevels...)
	if err != nil {
		fallback(err, logLevels[LogWarn])
		level = int(LogWarn)
	}
	from := RecoveryFromFile
	recovery, err := s.choice("recovery", defaultRecovery, false, recoveries...)
	if _, set := s.as.Last("recovery"); !set {
		from = RecoveryBuiltIn
		if err != nil {
			err = invalid(Pos{File: file}, "no recovery line, and the default built into this wifibox, %q, is none of %s: set recovery= here, or build wifibox with one of them",
				defaultRecovery, strings.Join(recoveries, ", "))
		}
	}
	switch {
	case err != nil && !lenient:
		return Core{}, warnings, err
	case err != nil:
		fallback(err, string(def.Recovery)+untilFixed)
		recovery, from = slices.Index(recoveries, string(def.Recovery)), RecoveryBuiltIn
	}
	watchdog, err := s.integer("watchdog", "0", 0, 3600)
	if err != nil && !lenient {
		return Core{}, warnings, err
	} else if err != nil {
		fallback(err, "0 (no watchdog)"+untilFixed)
	}
	return Core{LogLevel: LogLevel(level), Recovery: Recovery(recoveries[recovery]), RecoveryFrom: from,
		Watchdog: time.Duration(watchdog) * time.Second}, warnings, nil
}
