package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
)

// status tells whether the guest runs: `wifibox is run as PID N.` (bhyve's
// pid) or `wifibox is not run.` (exit status 1); with -v, what the VM
// manager knows and the state of the devices and interfaces too.
func (c *command) status(args []string) error {
	verbose := slices.Equal(args, []string{"-v"})
	if len(args) > 0 && !verbose {
		return failure.New(failure.Usage, errors.New("Too many parameters"))
	}
	c.log.Info("Begin: wifibox status")
	st, err := c.guest()
	if err != nil {
		return err
	}
	if st.GuestPID != 0 {
		c.output("wifibox is run as PID %d.", st.GuestPID)
	} else {
		c.output("wifibox is not run.")
	}
	if verbose {
		c.details(st)
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
	}
	return st, failure.New(failure.Environment, err)
}

// output shows a line to the user and logs it, as the shell's output() does.
func (c *command) output(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.log.Infof("Output: %s", line)
	fmt.Fprintln(c.stdout, line)
}

func (c *command) details(st manager.Status) {
	w := c.stdout
	if st.ManagerPID != 0 {
		fmt.Fprintf(w, "VM manager:  PID %d, %s, up %s\n", st.ManagerPID, st.State, since(st.Since))
		if !st.GuestSince.IsZero() {
			fmt.Fprintf(w, "Guest:       up %s\n", since(st.GuestSince))
		}
		fmt.Fprintf(w, "Restarts:    %d\n", st.Restarts)
		if st.LastExit != "" {
			fmt.Fprintf(w, "Last exit:   %s\n", st.LastExit)
		}
	}
	for _, r := range st.Relays {
		fmt.Fprintf(w, "Relay:       %s -> guest port %d, %d sessions\n", r.Path, r.Port, r.Sessions)
	}
	tap, err := ifnet.Tap(c.host.Net, manager.Bridge)
	switch {
	case err != nil:
		fmt.Fprintf(w, "Bridge:      %s: %v\n", manager.Bridge, err)
	case tap == "":
		fmt.Fprintf(w, "Bridge:      %s, no tap member\n", manager.Bridge)
	default:
		fmt.Fprintf(w, "Bridge:      %s, member %s\n", manager.Bridge, tap)
	}
	cfg, _, err := config.LoadBhyve(c.host.Paths.BhyveConf(), 0)
	if err != nil {
		fmt.Fprintf(w, "Devices:     %v\n", err)
		return
	}
	devices, err := c.host.PCI.Devices()
	var ids *ppt.IDs
	if err == nil {
		ids, err = ppt.LoadIDs(c.host.Paths.PCIIDs)
	}
	if err != nil {
		fmt.Fprintf(w, "Devices:     %v\n", err)
		return
	}
	for _, line := range ppt.Describe(devices, cfg.Passthru, ids) {
		fmt.Fprintf(w, "Device:      %s\n", line)
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

// version shows the program's version and the SHA-256 of each guest image.
func (c *command) version(args []string) error {
	if len(args) > 0 {
		return failure.New(failure.Usage, errors.New("Too many parameters"))
	}
	c.log.Info("Begin: wifibox version")
	fmt.Fprintf(c.stdout, "wifibox version %s\n", version)
	for _, image := range []string{c.host.Paths.ESPImage(), c.host.Paths.RootImage()} {
		sum, err := checksum(image)
		if err != nil {
			sum = err.Error()
		}
		fmt.Fprintf(c.stdout, "Disk image checksum (%s): %s\n", filepath.Base(image), sum)
	}
	c.log.Info("End: wifibox version")
	return nil
}

func checksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
