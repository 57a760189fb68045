package config

import (
	"fmt"
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
	return newCore(file, as)
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

// newCore validates the assignments of core.conf, which file names.
func newCore(file string, as Assignments) (Core, []string, error) {
	s, warnings := newSettings(file, as, "loglevel", "recovery", "watchdog")
	// An unknown loglevel must not stop the boot (the shell
	// implementation took one as none): it is a warning, and the default.
	level, err := s.choice("loglevel", logLevels[LogWarn], true, logLevels...)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("%v; using %s", err, logLevels[LogWarn]))
		level = int(LogWarn)
	}
	from := RecoveryFromFile
	if _, set := s.as.Last("recovery"); !set {
		from = RecoveryBuiltIn
		if !contains(recoveries, defaultRecovery) {
			return Core{}, warnings, invalid(Pos{File: file}, "no recovery line, and the default built into this wifibox, %q, is none of %s: set recovery= here, or build wifibox with one of them",
				defaultRecovery, strings.Join(recoveries, ", "))
		}
	}
	recovery, err := s.choice("recovery", defaultRecovery, false, recoveries...)
	if err != nil {
		return Core{}, warnings, err
	}
	watchdog, err := s.integer("watchdog", "0", 0, 3600)
	if err != nil {
		return Core{}, warnings, err
	}
	return Core{LogLevel: LogLevel(level), Recovery: Recovery(recoveries[recovery]), RecoveryFrom: from,
		Watchdog: time.Duration(watchdog) * time.Second}, warnings, nil
}
