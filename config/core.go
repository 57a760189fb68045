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
	return newCore(file, as)
}

// recoveries are the recovery methods, the default first.
var recoveries = []string{string(RecoveryRestartVMM), string(RecoverySuspendGuest), string(RecoverySuspendVMM), string(RecoveryNone)}

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
	recovery, err := s.choice("recovery", recoveries[0], false, recoveries...)
	if err != nil {
		return Core{}, warnings, err
	}
	watchdog, err := s.integer("watchdog", "0", 0, 3600)
	if err != nil {
		return Core{}, warnings, err
	}
	return Core{LogLevel: LogLevel(level), Recovery: Recovery(recoveries[recovery]),
		Watchdog: time.Duration(watchdog) * time.Second}, warnings, nil
}
