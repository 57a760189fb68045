package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/doctor"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/relay"
)

// status tells whether the guest runs: `wifibox is run as PID N.` (bhyve's
// pid) or `wifibox is not run.` (exit status 1); with -v, what the VM
// manager knows and the state of the devices and interfaces too; with
// --json, all of it as one JSON object (see statusReport).
func (c *command) status(args []string) error {
	verbose := slices.Equal(args, []string{"-v"})
	asJSON := slices.Equal(args, []string{"--json"})
	c.log.Info("Begin: wifibox status")
	st, err := c.guest()
	if err != nil {
		return err
	}
	switch {
	case asJSON:
		data, err := json.MarshalIndent(c.report(st), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", data)
	case st.GuestPID != 0:
		c.output("wifibox is run as PID %d.", st.GuestPID)
	default:
		c.output("wifibox is not run.")
	}
	if verbose {
		c.details(c.report(st))
	}
	c.log.Info("End: wifibox status")
	if st.GuestPID == 0 {
		return failure.New(failure.NotRunning, failure.Shown)
	}
	return nil
}

// guest asks the VM manager, when one runs, what it knows of the guest.
func (c *command) guest() (manager.Status, error) {
	dir := c.host.Paths.RunDir
	var st manager.Status
	pid, _, err := manager.Running(dir)
	if err == nil && pid != 0 {
		st, err = manager.Query(dir)
		if err != nil {
			// A manager killed after its pid file was read is gone,
			// not broken.
			if pid, _, rerr := manager.Running(dir); rerr == nil && pid == 0 {
				return manager.Status{}, nil
			}
		}
		if errors.Is(err, manager.ErrNoAnswer) {
			err = fmt.Errorf("The VM manager PID %d is not answering (%w); it may be stopped or hung: "+
				"`wifibox stop` kills it and cleans up", pid, err)
		}
	}
	return st, failure.New(failure.Environment, err)
}

// statusReport is `wifibox status --json`: the VM manager's status (its
// fields inline; zero when no manager runs), whether the guest runs, the
// bridge and its tap, and each passthru device of bhyve.conf. Its schema
// is stable, as wifibox(8) documents it: every field is always present, a
// list is [] when empty, a time null when unknown.
type statusReport struct {
	Running bool    `json:"running"`
	Uptime  float64 `json:"uptime_seconds"` // of the guest; 0 when it does not run
	manager.Status
	// The manager's times, null when unknown (they hide Status's own).
	Since      *time.Time     `json:"since"`
	GuestSince *time.Time     `json:"guest_since"`
	Bridge     bridgeReport   `json:"bridge"`
	Devices    []deviceReport `json:"devices"`
	Errors     []string       `json:"errors"` // what could not be found out
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
func (c *command) report(st manager.Status) statusReport {
	r := statusReport{
		Running: st.GuestPID != 0, Status: st, Bridge: bridgeReport{Name: manager.Bridge},
		Since: known(st.Since), GuestSince: known(st.GuestSince),
		Devices: []deviceReport{}, Errors: []string{},
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
	if r.Running && !st.GuestSince.IsZero() {
		r.Uptime = time.Since(st.GuestSince).Seconds()
	}
	fail := func(err error) { r.Errors = append(r.Errors, err.Error()) }
	switch tap, err := ifnet.Tap(c.host.Net, manager.Bridge); {
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
	if st := r.Status; st.ManagerPID != 0 {
		fmt.Fprintf(w, "VM manager:  PID %d, %s, up %s\n", st.ManagerPID, st.State, since(st.Since))
		if !st.GuestSince.IsZero() {
			fmt.Fprintf(w, "Guest:       up %s\n", since(st.GuestSince))
		}
		fmt.Fprintf(w, "Restarts:    %d\n", st.Restarts)
		if st.LastExit != "" {
			fmt.Fprintf(w, "Last exit:   %s\n", st.LastExit)
		}
		for _, r := range st.Relays {
			fmt.Fprintf(w, "Relay:       %s -> guest port %d, %d attached clients\n", r.Path, r.Port, r.Attached)
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
	for _, e := range r.Errors {
		fmt.Fprintf(w, "Problem:     %s\n", e)
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

// version shows the program's version and the SHA-256 of each guest image.
func (c *command) version([]string) error {
	c.log.Info("Begin: wifibox version")
	fmt.Fprintf(c.stdout, "wifibox version %s\n", version)
	for _, image := range []string{c.host.Paths.ESPImage(), c.host.Paths.RootImage()} {
		sum, err := doctor.Checksum(image)
		if err != nil {
			sum = err.Error()
		}
		fmt.Fprintf(c.stdout, "Disk image checksum (%s): %s\n", filepath.Base(image), sum)
	}
	c.log.Info("End: wifibox version")
	return nil
}
