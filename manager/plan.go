package manager

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
)

// Bridge is the name of the interface wifibox exposes to the host.
const Bridge = "wifibox0"

// Plan is one launch of the guest, read afresh from the configuration
// before each: a changed bhyve.conf takes effect at the guest's next start.
type Plan struct {
	Argv     []string
	Nice     int
	Tap      string
	Console  bool // bhyve's COM1 is the nmdm pair, which needs nmdm.ko
	Passthru []host.Selector
	StopWait time.Duration
	Warnings []string // for the log
}

// Prepare reads bhyve.conf and the state of the host and gives the plan of
// the next launch, or the error that prevents it, with its exit status:
// configuration (3), a guest image (4), the tap interface (5).
func Prepare(h *host.Host) (Plan, error) {
	p := h.Paths
	maxCPU, err := h.Kernel.SysctlInt("hw.vmm.maxcpu")
	if err != nil {
		return Plan{}, failure.New(failure.Environment,
			fmt.Errorf("read sysctl hw.vmm.maxcpu: %w (is vmm loaded?)", err))
	}
	cfg, warnings, err := config.LoadBhyve(p.BhyveConf(), int(maxCPU))
	if err != nil {
		return Plan{}, failure.New(failure.Config, err)
	}
	for _, image := range []string{p.ESPImage(), p.RootImage()} {
		if _, err := os.Stat(image); err != nil {
			return Plan{}, failure.New(failure.Image,
				fmt.Errorf("%s could not be found, guest cannot be started: %w", image, errors.Unwrap(err)))
		}
	}
	if _, err := os.Stat(p.Firmware); err != nil {
		return Plan{}, failure.New(failure.Environment,
			fmt.Errorf("UEFI firmware %s could not be found: %w; install the sysutils/bhyve-firmware package", p.Firmware, errors.Unwrap(err)))
	}
	tap, err := ifnet.Tap(h.Net, Bridge)
	if err == nil && tap == "" {
		err = errors.New("it has no tap member")
	}
	if err != nil {
		return Plan{}, failure.New(failure.NoTap,
			fmt.Errorf("no tap interface is available on %s: %w; run `wifibox start netif` first", Bridge, err))
	}
	spec := bhyve.Spec{
		Program:      p.Bhyve,
		CPUs:         cfg.CPUs,
		Memory:       cfg.Memory,
		Firmware:     p.Firmware,
		ESPImage:     p.ESPImage(),
		RootImage:    p.RootImage(),
		Appliance:    p.Appliance(),
		RunAppliance: p.RunAppliance(),
		Tap:          tap,
		Passthru:     cfg.Passthru,
	}
	if cfg.Console {
		spec.Console = p.ConsoleHost()
	}
	if target, err := filepath.EvalSymlinks(p.AppConfig()); err == nil {
		spec.AppConfig = target
		_, err := os.Stat(p.UDSPassthruConf())
		spec.AppConfigRW = err == nil
	}
	return Plan{
		Argv:     bhyve.Args(spec),
		Nice:     bhyve.Nice(cfg.Priority),
		Tap:      tap,
		Console:  cfg.Console,
		Passthru: cfg.Passthru,
		StopWait: cfg.StopWait(),
		Warnings: warnings,
	}, nil
}
