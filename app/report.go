package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/doctor"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/legacy"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/relay"
)

// status tells whether the guest runs: `wifibox is run as PID N.` (bhyve's
// pid) or `wifibox is not run.` (exit status 1) with why when there is
// more to say (a restart to come, what a dead VM manager left running);
// with -v, the stage, what the VM manager knows, what wpa_supplicant or
// hostapd tells through the relay, and the state of the devices and
// interfaces too; with --json, all of it as one JSON object (see
// statusReport).
func (c *command) status(args []string) error {
	verbose := slices.Equal(args, []string{"-v"})
	asJSON := slices.Equal(args, []string{"--json"})
	c.log.Info("Begin: wifibox status")
	st, err := c.guest(verbose || asJSON)
	if err != nil {
		return err
	}
	old := c.legacy(st)
	if st.ManagerPID == 0 && len(old.Bhyves) > 0 {
		st = shellGuest(old)
	}
	pid := st.GuestPID
	switch {
	case asJSON:
		data, err := json.MarshalIndent(c.report(st, old), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", data)
	case pid != 0:
		c.output("wifibox is run as PID %d.", pid)
	default:
		c.output("wifibox is not run.")
		if why := notRunning(st); why != "" {
			c.output("%s", why)
		}
	}
	if verbose {
		c.details(c.report(st, old))
	}
	c.log.Info("End: wifibox status")
	if pid == 0 {
		return failure.New(failure.NotRunning, failure.ErrShown)
	}
	return nil
}

// guest asks the VM manager, when one runs, what it knows of the guest
// (with wifi, after asking the Wi-Fi daemon). With none, it tells what a
// VM manager that died left running.
func (c *command) guest(wifi bool) (manager.Status, error) {
	dir := c.host.Paths.RunDir
	pid, _, err := manager.Running(dir)
	if err != nil {
		return manager.Status{}, failure.New(failure.Environment, err)
	}
	if pid != 0 {
		st, err := manager.Query(dir, wifi)
		if err == nil {
			// The manager names its bhyve until it has seen it exit:
			// one that is dead (a zombie too) is not named.
			if st.GuestPID != 0 {
				if exited, err := c.host.Procs.WaitExit(st.GuestPID, 0); err == nil && exited {
					st.GuestPID = 0
				}
			}
			return st, nil
		}
		// A manager killed after its pid file was read is gone, not
		// broken.
		if pid, _, rerr := manager.Running(dir); rerr != nil || pid != 0 {
			return st, notAnswering(pid, err)
		}
	}
	return c.leftover(), nil
}

// notAnswering is the error of a command whose question the VM manager
// pid did not answer: what status says of a stopped or hung manager.
func notAnswering(pid int, err error) error {
	if errors.Is(err, manager.ErrNoAnswer) {
		err = fmt.Errorf("The VM manager PID %d is not answering (%w); it may be stopped or hung: "+
			"`wifibox stop` kills it and cleans up", pid, err)
	}
	return failure.New(failure.Environment, err)
}

// leftover tells what runs without a VM manager: the bhyve and the VM a
// killed one left, and the devices still on ppt. The stage is failed when
// anything does, stopped otherwise.
func (c *command) leftover() manager.Status {
	h := c.host
	st := manager.Status{Stage: manager.StageStopped}
	var left []string
	if pid := manager.Leftover(h.Paths.RunDir); pid != 0 {
		left = append(left, fmt.Sprintf("bhyve PID %d", pid))
	}
	if exists, err := h.VMs.VMExists(host.VMName); err == nil && exists {
		left = append(left, "the VM "+host.VMName)
	}
	if cfg, _, err := config.LoadBhyve(h.Paths.BhyveConf(), 0); err == nil {
		if devices, err := h.PCI.Devices(); err == nil {
			for _, sel := range ppt.Bound(devices, cfg.Passthru) {
				left = append(left, sel.String()+" on ppt")
			}
		}
	}
	if len(left) > 0 {
		st.Stage = manager.StageFailed
		st.Reason = "no VM manager runs, but what one left is still there: " + strings.Join(left, ", ") + "; " +
			"`wifibox stop` cleans up, `wifibox start` starts afresh"
	}
	return st
}

// shellGuestState is the state of a guest the shell implementation runs.
const shellGuestState = "run by the shell implementation"

// shellGuest is the status of a guest the shell implementation runs: it
// runs (its stage is running, as far as can be told without a VM manager
// of this wifibox), and says how to take it over.
func shellGuest(g legacy.Guest) manager.Status {
	return manager.Status{GuestPID: g.Bhyves[0], State: shellGuestState, Stage: manager.StageRunning,
		Reason: fmt.Sprintf("%s, PID %d; `wifibox start` takes it over", shellGuestState, g.Bhyves[0])}
}

// shellGuestAdvice says what to do about a guest the shell implementation
// runs for a command that needs one of this wifibox; "" when it runs none.
func (c *command) shellGuestAdvice(then string) string {
	g, err := legacy.Find(c.host.Procs, 0)
	if err != nil || len(g.Bhyves) == 0 {
		return ""
	}
	return fmt.Sprintf("The guest is %s, PID %d, which this wifibox does not follow: "+
		"`wifibox start` stops it and starts it under this wifibox; then %s", shellGuestState, g.Bhyves[0], then)
}

// notRunning says why a guest that does not run does not, when there is
// more to say than that.
func notRunning(st manager.Status) string {
	switch st.Stage {
	case manager.StageRestarting:
		return fmt.Sprintf("The guest %s; the VM manager PID %d starts it again at %s.",
			st.Reason, st.ManagerPID, st.NextStart.Format(time.TimeOnly))
	case manager.StageStarting:
		return fmt.Sprintf("The VM manager PID %d is starting the guest.", st.ManagerPID)
	case manager.StageFailed:
		return "Failed: " + st.Reason + "."
	}
	return ""
}

// legacy finds what of the shell implementation runs; the user is told
// that it does and how to take it over.
func (c *command) legacy(st manager.Status) legacy.Guest {
	g, err := legacy.Find(c.host.Procs, st.ManagerPID)
	switch {
	case err != nil:
		c.log.Warnf("Cannot look for a guest run by the shell implementation: %v", err)
	case len(g.Bhyves) > 0:
		c.log.Warnf("The shell implementation of wifibox runs (%v): `service wifibox restart` stops it and starts the guest under this wifibox", g)
	case g.Found(): // its guest has exited
		c.log.Warnf("What is left of the shell implementation of wifibox runs (%v): `service wifibox restart` stops it, "+
			"`service wifibox start` stops it and starts the guest under this wifibox", g)
	}
	return g
}

// statusReport is `wifibox status --json`: the VM manager's status (its
// fields inline; zero when no manager runs), whether the guest runs, the
// bridge and its tap, and each passthru device of bhyve.conf. Its schema
// is stable, as wifibox(8) documents it: every field is always present
// (but the wifi object's that are unknown, as while scanning), a list is []
// when empty, a time null when unknown.
type statusReport struct {
	Running bool    `json:"running"`
	Uptime  float64 `json:"uptime_seconds"` // of the guest; 0 when it does not run
	manager.Status
	// The manager's times, null when unknown (they hide Status's own).
	Since      *time.Time     `json:"since"`
	GuestSince *time.Time     `json:"guest_since"`
	StageSince *time.Time     `json:"stage_since"`
	NextStart  *time.Time     `json:"next_start"`
	Bridge     bridgeReport   `json:"bridge"`
	Devices    []deviceReport `json:"devices"`
	// Legacy: the processes of the shell implementation, null when none
	// runs; running and guest_pid then tell of its bhyve.
	Legacy *legacy.Guest `json:"legacy"`
	// LastStop is the manner of the last stop, LastFailure the last
	// failure until a start gets the guest running again, as the run
	// directory records them; null when there is none.
	LastStop    *manager.LastStop    `json:"last_stop"`
	LastFailure *manager.LastFailure `json:"last_failure"`
	Errors      []string             `json:"errors"` // what could not be found out
}

type bridgeReport struct {
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	Tap    string `json:"tap"` // "" when it has no tap member
}

type deviceReport struct {
	Selector string `json:"selector"` // pci0:3:0:0
	Passthru string `json:"passthru"` // 3/0/0, as bhyve.conf names it
	Present  bool   `json:"present"`
	Vendor   string `json:"vendor"`      // 8086; "" when not present
	Device   string `json:"device"`      // 2723; "" when not present
	Driver   string `json:"driver"`      // ppt0, iwlwifi0; "" when none
	Line     string `json:"description"` // as status -v shows it
}

// known gives a time, nil when it is zero.
func known(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// report finds out what status -v and --json show.
func (c *command) report(st manager.Status, old legacy.Guest) statusReport {
	nf := ifnet.NewNetif(c.host.Net, c.host.Paths)
	r := statusReport{
		Running: st.GuestPID != 0, Status: st, Bridge: bridgeReport{Name: nf.Bridge},
		Since: known(st.Since), GuestSince: known(st.GuestSince),
		StageSince: known(st.StageSince), NextStart: known(st.NextStart),
		Devices: []deviceReport{}, Errors: []string{},
	}
	if old.Found() {
		r.Legacy = old.Listed()
	}
	if r.State == "" {
		r.State = "stopped"
	}
	if r.Passthru == nil {
		r.Passthru = []string{}
	}
	if r.Relays == nil {
		r.Relays = []relay.SocketStats{}
	}
	if r.Repairs == nil {
		r.Repairs = []manager.Repair{}
	}
	if r.Stage == "" {
		r.Stage = manager.StageStopped
	}
	if r.Running && !st.GuestSince.IsZero() {
		r.Uptime = time.Since(st.GuestSince).Seconds()
	}
	fail := func(err error) { r.Errors = append(r.Errors, err.Error()) }
	var err error
	if r.LastStop, err = manager.ReadLastStop(c.host.Paths.RunDir); err != nil {
		fail(err)
	}
	if r.LastFailure, err = manager.ReadLastFailure(c.host.Paths.RunDir); err != nil {
		fail(err)
	}
	switch tap, err := nf.Tap(); {
	case errors.Is(err, syscall.ENXIO): // no bridge: nothing to report
	case err != nil:
		fail(err)
	default:
		r.Bridge.Tap, r.Bridge.Exists = tap, true
	}
	cfg, _, err := config.LoadBhyve(c.host.Paths.BhyveConf(), 0)
	if err != nil {
		fail(err)
		return r
	}
	devices, ids, err := ppt.List(c.host.PCI, c.host.Paths.PCIIDs)
	if err != nil {
		fail(err)
		return r
	}
	lines := ppt.Describe(devices, cfg.Passthru, ids)
	for i, sel := range cfg.Passthru {
		d := deviceReport{Selector: sel.String(), Passthru: sel.BSF(), Line: lines[i]}
		if dev, ok := ppt.Find(devices, sel); ok {
			d.Present, d.Driver = true, dev.DriverUnit()
			d.Vendor, d.Device = fmt.Sprintf("%04x", dev.Vendor), fmt.Sprintf("%04x", dev.Device)
		}
		r.Devices = append(r.Devices, d)
	}
	return r
}

// output shows a line to the user and logs it, as the shell's output() does.
func (c *command) output(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.log.Infof("Output: %s", line)
	fmt.Fprintln(c.stdout, line)
}

func (c *command) details(r statusReport) {
	w := c.stdout
	st := r.Status
	fmt.Fprintf(w, "Stage:       %s\n", stageLine(st))
	if st.ManagerPID != 0 {
		fmt.Fprintf(w, "VM manager:  PID %d, %s, up %s\n", st.ManagerPID, st.State, since(st.Since))
		if st.GuestPID != 0 && !st.GuestSince.IsZero() {
			fmt.Fprintf(w, "Guest:       up %s\n", since(st.GuestSince))
		}
		fmt.Fprintf(w, "Wi-Fi:       %s\n", wifiLine(st))
		fmt.Fprintf(w, "Restarts:    %d\n", st.Restarts)
		if st.LastExit != "" {
			fmt.Fprintf(w, "Last exit:   %s\n", st.LastExit)
		}
		for _, r := range st.Relays {
			fmt.Fprintf(w, "Relay:       %s -> guest port %d, %d attached clients\n", r.Path, r.Port, r.Attached)
		}
		for _, r := range st.Repairs {
			fmt.Fprintf(w, "Repaired:    %s ago: %s\n", since(r.Time), r.What)
		}
	}
	if g := r.Legacy; g != nil {
		fmt.Fprintf(w, "Shell impl.: %v\n", g)
	}
	if s := r.LastStop; s != nil {
		fmt.Fprintf(w, "Last stop:   %s (%s ago): %s\n", s.Time.Format(time.DateTime), since(s.Time), s)
	}
	if f := r.LastFailure; f != nil {
		fmt.Fprintf(w, "Failure:     %s (%s ago), in stage %s: %s\n", f.Time.Format(time.DateTime), since(f.Time), f.Stage, f.Reason)
		for _, line := range f.Bhyve {
			fmt.Fprintf(w, "             bhyve: %s\n", line)
		}
	}
	switch {
	case !r.Bridge.Exists:
		fmt.Fprintf(w, "Bridge:      %s does not exist\n", r.Bridge.Name)
	case r.Bridge.Tap == "":
		fmt.Fprintf(w, "Bridge:      %s, no tap member\n", r.Bridge.Name)
	default:
		fmt.Fprintf(w, "Bridge:      %s, member %s\n", r.Bridge.Name, r.Bridge.Tap)
	}
	for _, d := range r.Devices {
		fmt.Fprintf(w, "Device:      %s\n", d.Line)
	}
	if c.core.Recovery != "" {
		fmt.Fprintf(w, "Recovery:    %s\n", c.core.RecoveryText())
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "Problem:     %s\n", e)
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

// stageLine describes the stage, since when, and why.
func stageLine(st manager.Status) string {
	line := string(st.Stage)
	if !st.StageSince.IsZero() {
		line += fmt.Sprintf(" since %s (%s)", st.StageSince.Format(time.TimeOnly), since(st.StageSince))
	}
	if st.Reason != "" {
		line += ": " + st.Reason
	}
	if !st.NextStart.IsZero() {
		line += fmt.Sprintf("; next start at %s (in %s)", st.NextStart.Format(time.TimeOnly),
			max(time.Until(st.NextStart), 0).Round(100*time.Millisecond))
	}
	return line
}

// wifiLine describes what wpa_supplicant or hostapd told through the
// relay.
func wifiLine(st manager.Status) string {
	w := st.Wifi
	switch {
	case st.WifiUnseen != "":
		return "cannot be seen: " + st.WifiUnseen
	case w == nil:
		return "no answer from wpa_supplicant or hostapd through the relay yet"
	}
	line := fmt.Sprintf("%s %s", w.Daemon, w.State)
	if w.SSID != "" {
		line += fmt.Sprintf(", SSID %q", w.SSID)
	}
	if w.Frequency != 0 {
		line += fmt.Sprintf(", %d MHz", w.Frequency)
	}
	if w.Signal != nil {
		line += fmt.Sprintf(", signal %d dBm", *w.Signal)
	}
	if w.Address != "" {
		line += ", guest address " + w.Address
	}
	if !st.WifiSilentSince.IsZero() {
		return line + fmt.Sprintf(" (told %s ago; not answering since %s)",
			time.Since(w.Checked).Round(time.Second), st.WifiSilentSince.Format(time.TimeOnly))
	}
	return line + fmt.Sprintf(" (told %s ago)", time.Since(w.Checked).Round(time.Second))
}

// version shows the program's version and the SHA-256 of each guest image.
func (c *command) version([]string) error {
	c.log.Info("Begin: wifibox version")
	fmt.Fprintf(c.stdout, "wifibox version %s\n", version)
	var errs []error
	for _, image := range []string{c.host.Paths.ESPImage(), c.host.Paths.RootImage()} {
		sum, err := doctor.Checksum(image)
		if err != nil {
			errs = append(errs, fmt.Errorf("guest image %s: %w", filepath.Base(image), err))
			continue
		}
		fmt.Fprintf(c.stdout, "Disk image checksum (%s): %s\n", filepath.Base(image), sum)
	}
	c.log.Info("End: wifibox version")
	if len(errs) > 0 {
		return failure.New(failure.Image, fmt.Errorf("%w; reinstall the guest package (pkg install -f wifibox-alpine), which puts its images in %s",
			errors.Join(errs...), c.host.Paths.GuestRoot))
	}
	return nil
}
