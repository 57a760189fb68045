package manager

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/host"
)

// TestStopManner: a stop is a power-off, a forced power-off after the
// grace period, or a kill after that, each said in words.
func TestStopManner(t *testing.T) {
	asked := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		s      stopping
		manner string
		says   string
	}{
		{stopping{asked: asked, grace: 10 * time.Second}, PoweredOff, "powered off after the power button, in 0.25 s"},
		{stopping{asked: asked, grace: 10 * time.Second, forced: true}, ForcedOff, "forced off after 10 s: the guest ignored the power button"},
		{stopping{asked: asked, grace: 500 * time.Millisecond, forced: true, killed: true}, Killed,
			"forced off after 0.5 s, as the guest ignored the power button, then bhyve killed as it did not exit"},
	} {
		got := c.s.ended(asked.Add(250 * time.Millisecond))
		want := LastStop{Time: asked.Add(250 * time.Millisecond), Manner: c.manner, Grace: c.s.grace.Seconds(), After: 0.25}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ended (-want +got):\n%s", diff)
		}
		if got.String() != c.says {
			t.Errorf("%s: %q, want %q", c.manner, got.String(), c.says)
		}
	}
}

// TestFailureRecord: a failure is recorded with the stage the guest had
// reached, read back by another process's reader, and forgotten once the
// guest reaches running; the stop's record stays.
func TestFailureRecord(t *testing.T) {
	dir := t.TempDir()
	log := logrus.New()
	log.SetOutput(io.Discard)
	m := &manager{h: &host.Host{Paths: host.Paths{RunDir: dir}}, log: log, changed: make(chan struct{})}
	if f, err := ReadLastFailure(dir); f != nil || err != nil {
		t.Fatalf("no record: %+v, %v", f, err)
	}
	m.setStage(StageUp, "", time.Time{})
	m.noteFailure("crashed (signal killed)", []string{"vm_run error -1"})
	f, err := ReadLastFailure(dir)
	if err != nil || f == nil {
		t.Fatalf("ReadLastFailure: %+v, %v", f, err)
	}
	if f.Stage != StageUp || f.Reason != "crashed (signal killed)" || !cmp.Equal(f.Bhyve, []string{"vm_run error -1"}) || time.Since(f.Time) > time.Minute {
		t.Errorf("record: %+v", f)
	}
	m.noteStop(LastStop{Time: time.Now(), Manner: NotRunning})
	m.setStage(StageStarting, "", time.Time{})
	m.noteFailure("could not be started again: create VM wifibox: device busy", nil)
	if f, _ := ReadLastFailure(dir); f == nil || f.Stage != StageStarting || f.Bhyve == nil {
		t.Errorf("the later failure: %+v", f)
	}
	m.setStage(StageRunning, "", time.Time{})
	if f, err := ReadLastFailure(dir); f != nil || err != nil {
		t.Errorf("after running: %+v, %v; want none", f, err)
	}
	if _, err := os.Stat(filepath.Join(dir, host.LastFailureFile)); !os.IsNotExist(err) {
		t.Errorf("the record is left: %v", err)
	}
	if s, err := ReadLastStop(dir); err != nil || s == nil || s.Manner != NotRunning {
		t.Errorf("the stop's record: %+v, %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, host.LastStopFile), []byte("{"), 0o644)
	if _, err := ReadLastStop(dir); err == nil {
		t.Error("a broken record reads without error")
	}
}
