package manager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
)

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
	Settings string   // bhyve.conf as read, for the debug log
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
	program, err := cfg.ProgramPath(p)
	if err != nil {
		return Plan{}, failure.New(failure.Config, err)
	}
	if err := CheckFiles(p); err != nil {
		return Plan{}, err
	}
	nf := ifnet.NewNetif(h.Net, h.Paths)
	tap, err := nf.Tap()
	if err == nil && tap == "" {
		err = errors.New("it has no tap member")
	}
	if err != nil {
		return Plan{}, failure.New(failure.NoTap,
			fmt.Errorf("no tap interface is available on %s: %w; run `wifibox start netif` first", nf.Bridge, err))
	}
	spec := bhyve.Spec{
		Program:      program,
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
	if len(cfg.Passthru) == 0 {
		warnings = append(warnings, NoPassthru(p))
	}
	target, err := AppConfig(p)
	if err != nil {
		warnings = append(warnings, err.Error()+"; "+AppConfigFix(p))
	}
	if target != "" {
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
		Settings: fmt.Sprintf("%s: cpus=%d memory=%s console=%t passthru=%v priority=%d stop_wait_max=%d",
			p.BhyveConf(), cfg.CPUs, cfg.Memory, cfg.Console, cfg.Passthru, cfg.Priority, cfg.StopWaitMax),
	}, nil
}

// CheckFiles checks that the guest's images and the UEFI firmware are
// there, with the exit status of what is missing: a guest image (4), the
// firmware (127).
func CheckFiles(p host.Paths) error {
	for _, image := range []string{p.ESPImage(), p.RootImage()} {
		if _, err := os.Stat(image); err != nil {
			return failure.New(failure.Image,
				fmt.Errorf("%s could not be found, guest cannot be started: %w", image, errors.Unwrap(err)))
		}
	}
	if _, err := os.Stat(p.Firmware); err != nil {
		return failure.New(failure.Environment,
			fmt.Errorf("UEFI firmware %s could not be found: %w; install the sysutils/bhyve-firmware package", p.Firmware, errors.Unwrap(err)))
	}
	return nil
}

// NoPassthru is the warning for a bhyve.conf that passes no device
// through: the guest starts, with no Wi-Fi card to drive.
func NoPassthru(p host.Paths) string {
	return "No passthru device is configured, the guest has no Wi-Fi card to drive: " +
		"set passthru to the bus/slot/function of the card (pciconf -l) in " + p.BhyveConf()
}

// AppConfig gives the directory app_config points to, shared with the
// guest as its application's configuration (wpa_supplicant's networks):
// "" when there is no app_config, and an error saying what the guest
// misses when the link is broken or does not lead to a directory.
func AppConfig(p host.Paths) (string, error) {
	link := p.AppConfig()
	if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	target, err := filepath.EvalSymlinks(link)
	var pathErr *fs.PathError
	switch fi, serr := os.Stat(target); {
	case errors.As(err, &pathErr):
		err = pathErr.Err
	case err == nil && serr == nil && !fi.IsDir():
		err = syscall.ENOTDIR
	}
	if err != nil {
		dest, _ := os.Readlink(link)
		return "", fmt.Errorf("app_config is broken, the guest gets no Wi-Fi configuration (%s -> %s: %w)", link, dest, err)
	}
	return target, nil
}

// AppConfigFix says how to mend a broken app_config.
func AppConfigFix(p host.Paths) string {
	return "point it at the guest's configuration directory: ln -sfh DIR " + p.AppConfig()
}
