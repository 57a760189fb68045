package manager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// How the guest last ended is recorded in the run directory, so that it
// outlives the VM manager that saw it: the manner of the last stop, and
// the last failure, which is forgotten once a start reaches the stage
// running. Each is a JSON file written atomically (runfile.WriteAtomic),
// never through a link: host.LastStopFile and host.LastFailureFile.

// recordLimit bounds what is read of a record.
const recordLimit = 64 << 10

// The manners of a stop (LastStop.Manner).
const (
	// PoweredOff: the guest powered off after the power button (SIGTERM
	// to bhyve), within its grace period.
	PoweredOff = "powered off"
	// ForcedOff: the guest ignored the power button and was forced off
	// (vm_suspend VM_SUSPEND_POWEROFF) when its grace period was over.
	ForcedOff = "forced off"
	// Killed: bhyve did not exit after the forced power-off either and
	// was killed.
	Killed = "killed"
	// ManagerKilled: the VM manager did not stop the guest in time and
	// was killed; the VM was destroyed, which ends its bhyve.
	ManagerKilled = "manager killed"
	// NotRunning: the guest waited to restart, so nothing ran to stop.
	NotRunning = "not running"
)

// LastStop is how the guest was last stopped on request.
type LastStop struct {
	Time   time.Time `json:"time"`
	Manner string    `json:"manner"`
	// Grace is the time the guest had to power off, After how long the
	// stop took from the request to bhyve's end, both in seconds.
	Grace float64 `json:"grace_seconds"`
	After float64 `json:"after_seconds"`
}

// String tells the manner in words: "forced off after 10 s, as the guest
// ignored the power button".
func (s LastStop) String() string {
	switch s.Manner {
	case PoweredOff:
		return fmt.Sprintf("powered off after the power button, in %s", seconds(s.After))
	case ForcedOff:
		return fmt.Sprintf("forced off after %s: the guest ignored the power button", seconds(s.Grace))
	case Killed:
		return fmt.Sprintf("forced off after %s, as the guest ignored the power button, then bhyve killed as it did not exit", seconds(s.Grace))
	case ManagerKilled:
		return "the VM manager did not stop the guest in time and was killed; the VM was destroyed"
	case NotRunning:
		return "the guest was waiting to restart, nothing ran to stop"
	}
	return s.Manner
}

// seconds shows a duration in seconds as the manual and bhyve.conf give
// them: "10 s", "0.25 s".
func seconds(s float64) string {
	return fmt.Sprintf("%.3g s", s)
}

// LastFailure is the last failure of the guest: when, how far the guest
// had got, why, and bhyve's last lines.
type LastFailure struct {
	Time   time.Time `json:"time"`
	Stage  Stage     `json:"stage"`
	Reason string    `json:"reason"`
	Bhyve  []string  `json:"bhyve_output"`
}

// stopping follows a stop request: when it came, the grace period the
// guest has, and whether the guest had to be forced off or bhyve killed.
type stopping struct {
	asked          time.Time
	grace          time.Duration
	forced, killed bool
}

// ended gives the record of the stop, bhyve having exited at now.
func (s stopping) ended(now time.Time) LastStop {
	manner := PoweredOff
	switch {
	case s.killed:
		manner = Killed
	case s.forced:
		manner = ForcedOff
	}
	return LastStop{Time: now, Manner: manner, Grace: s.grace.Seconds(), After: now.Sub(s.asked).Seconds()}
}

// RecordStop records the manner of a stop in the run directory.
func RecordStop(runDir string, s LastStop) error {
	return writeRecord(runDir, host.LastStopFile, s)
}

// recordFailure records a failure in the run directory.
func recordFailure(runDir string, f LastFailure) error {
	if f.Bhyve == nil {
		f.Bhyve = []string{}
	}
	return writeRecord(runDir, host.LastFailureFile, f)
}

// forgetFailure removes the record of the last failure: the guest runs.
func forgetFailure(runDir string) error {
	err := os.Remove(filepath.Join(runDir, host.LastFailureFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func writeRecord(runDir, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return runfile.WriteAtomic(filepath.Join(runDir, name), append(data, '\n'), 0o644)
}

// ReadLastStop gives the record of the last stop; nil when there is none.
func ReadLastStop(runDir string) (*LastStop, error) {
	var s LastStop
	return readRecord(runDir, host.LastStopFile, &s)
}

// ReadLastFailure gives the record of the last failure; nil when there is
// none, or a start has reached running since.
func ReadLastFailure(runDir string) (*LastFailure, error) {
	var f LastFailure
	return readRecord(runDir, host.LastFailureFile, &f)
}

func readRecord[T any](runDir, name string, v *T) (*T, error) {
	path := filepath.Join(runDir, name)
	data, err := runfile.ReadSmall(path, recordLimit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

// noteStop records how the guest was stopped; a record that cannot be
// written is logged.
func (m *manager) noteStop(s LastStop) {
	m.log.Infof("VM manager: the guest was stopped: %s", s)
	if err := RecordStop(m.h.Paths.RunDir, s); err != nil {
		m.log.Warnf("VM manager: record the stop: %v", err)
	}
}

// noteFailure records a failure of the guest with the stage it had
// reached; a record that cannot be written is logged.
func (m *manager) noteFailure(reason string, bhyveLines []string) {
	f := LastFailure{Time: time.Now(), Stage: m.snapshot().Stage, Reason: reason, Bhyve: bhyveLines}
	if err := recordFailure(m.h.Paths.RunDir, f); err != nil {
		m.log.Warnf("VM manager: record the failure: %v", err)
	}
}

// String gives the failure in one line: "at 10:02:03 in stage starting:
// REASON".
func (f LastFailure) String() string {
	return fmt.Sprintf("at %s in stage %s: %s", f.Time.Format(time.DateTime), f.Stage, strings.TrimSpace(f.Reason))
}
