// Package setup owns `wifibox setup`: it takes a host from a fresh install
// to one configured for wifibox. It finds the Wi-Fi card (PCIOCGETCONF,
// through ppt) and the loaded file that provides its native driver (the
// kld calls, through kmod), then writes what wifibox needs and keeps
// everything else: passthru in bhyve.conf; core.conf, the guest's
// uds_passthru.conf, app_config and its daemon's configuration from their
// samples when absent; wifibox_enable, devmatch_blocklist and
// ifconfig_wifibox0 in rc.conf, the way sysrc(8) edits it; and on an AMD
// CPU hw.vmm.amdvi.enable in loader.conf. Each change is one line or one
// file, written atomically and never through a link (runfile.Replace),
// and recorded in DBDir/setup.json so that --undo takes back exactly what
// setup added. It ends with doctor's verdict and the command to run next.
//
// Why rc.conf and not /etc/rc.conf.d: load_rc_config (libexec/rc/rc.subr)
// reads rc.conf for every service, but /etc/rc.conf.d/NAME only for the
// service NAME. ifconfig_wifibox0="SYNCDHCP" is read by netif and again by
// rc.d/dhclient, which devd(8) runs when wifibox0's link comes up and which
// loads its own configuration (dhclient), not netif's: in
// /etc/rc.conf.d/netif it would be seen at boot and missed there. sysrc(8)
// without -f writes rc.conf too (f_sysrc_set: the file of rc_conf_files
// that sets the variable last, else the first, /etc/rc.conf), and doctor
// reads rc.conf. So setup edits the file that sets a variable last, as
// the service sees it, and /etc/rc.conf when none does.
package setup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/doctor"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/manager"
	"github.com/wifibox/wifibox/ppt"
)

// Options are the command line of `wifibox setup`.
type Options struct {
	DryRun bool   // -n: print each change, make none
	Yes    bool   // --yes: take the defaults, ask nothing
	Device string // --device: the card, as pciconf names it (pci0:3:0:0) or as bhyve.conf does (3/0/0)
	Undo   bool   // --undo: take back what setup changed
	// In gives the answers when Ask is set: standard input is a
	// terminal. Otherwise a question is refused with the option that
	// answers it.
	In  io.Reader
	Ask bool
	Out io.Writer
}

// amdviTunable is the loader tunable that enables AMD-Vi, off by default
// (sys/amd64/vmm/amd/amdvi_hw.c, amdvi_enable_user); doctor also accepts
// the older hw.vmm.amdvi_enable.
const amdviTunable = "hw.vmm.amdvi.enable"

// Run sets the host up, or with Undo takes back what setup changed.
func Run(h *host.Host, o Options) error {
	if o.Undo {
		return undo(h.Paths, o)
	}
	in := bufio.NewReader(o.In)
	if o.In == nil {
		in = bufio.NewReader(strings.NewReader(""))
	}
	p := &plan{paths: h.Paths, out: o.Out, files: map[string]*fileEdit{}}
	card, err := chooseCard(h, o, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Wi-Fi card: %s\n", card.line)
	if err := p.build(h, card.dev); err != nil {
		return failure.New(failure.Config, err)
	}
	changes := p.changes()
	if len(changes) == 0 {
		fmt.Fprintln(o.Out, "Nothing to change: this host is set up for wifibox already.")
		return p.verdict(h, false)
	}
	head := "Changes:"
	if o.DryRun {
		head = "Changes (-n: none is made):"
	}
	fmt.Fprintln(o.Out, head)
	for _, c := range changes {
		fmt.Fprintf(o.Out, "  %s\n", c)
	}
	if o.DryRun {
		return nil
	}
	if !o.Yes {
		if !o.Ask {
			return failure.New(failure.Usage, errors.New("setup asks before it changes the host, and standard input is not a terminal: pass --yes to make these changes"))
		}
		if !confirm(o.Out, in, "Make these changes? [y/N] ") {
			fmt.Fprintln(o.Out, "Nothing changed.")
			return nil
		}
	}
	if err := p.apply(); err != nil {
		return failure.New(failure.Environment, err)
	}
	fmt.Fprintf(o.Out, "Made %d changes; `wifibox setup --undo` takes them back.\n", len(changes))
	return p.verdict(h, p.reboot)
}

// card is the Wi-Fi card chosen, and its line as setup shows it.
type card struct {
	dev  host.PCIDevice
	line string
}

// chooseCard lists the Wi-Fi cards, network controllers of subclass other,
// and takes the one --device names, the only one, or the one the user
// chooses.
func chooseCard(h *host.Host, o Options, in *bufio.Reader) (card, error) {
	devs, ids, err := ppt.List(h.PCI, h.Paths.PCIIDs)
	if err != nil {
		return card{}, failure.New(failure.Environment, err)
	}
	var cards []card
	for _, d := range devs {
		if ppt.IsWiFi(d) {
			cards = append(cards, card{d, ppt.Line(d, ids)})
		}
	}
	list := func() string {
		var b strings.Builder
		for i, c := range cards {
			fmt.Fprintf(&b, "\n  %d) %s", i+1, c.line)
		}
		return b.String()
	}
	switch {
	case len(cards) == 0:
		return card{}, failure.New(failure.Environment, fmt.Errorf(
			"no Wi-Fi card found, nothing changed: no PCI network controller of subclass other (class 0x02, subclass 0x80) is present. "+
				"The PCI devices, as pciconf -lv lists them:%s", pciconf(devs, ids)))
	case o.Device != "":
		for _, c := range cards {
			if o.Device == c.dev.Selector.String() || o.Device == c.dev.Selector.BSF() {
				return c, nil
			}
		}
		return card{}, failure.New(failure.Usage, fmt.Errorf("--device %s is none of the Wi-Fi cards:%s", o.Device, list()))
	case len(cards) == 1:
		return cards[0], nil
	case !o.Ask:
		return card{}, failure.New(failure.Usage, fmt.Errorf(
			"%d Wi-Fi cards are present and standard input is not a terminal to ask which one: pass --device with one of them (pci0:3:0:0 or 3/0/0):%s", len(cards), list()))
	}
	fmt.Fprintf(o.Out, "%d Wi-Fi cards are present:%s\n", len(cards), list())
	for {
		fmt.Fprintf(o.Out, "Which one goes to the guest? [1-%d] ", len(cards))
		answer, err := in.ReadString('\n')
		var n int
		if _, serr := fmt.Sscanf(strings.TrimSpace(answer), "%d", &n); serr == nil && n >= 1 && n <= len(cards) {
			return cards[n-1], nil
		}
		if err != nil {
			return card{}, failure.New(failure.Usage, errors.New("no card chosen: pass --device"))
		}
	}
}

// pciconf lists devices the way pciconf -lv does: the driver and
// selector, the class and IDs, then the names.
func pciconf(devs []host.PCIDevice, ids *ppt.IDs) string {
	var b strings.Builder
	for _, d := range devs {
		name := d.DriverUnit()
		if name == "" {
			name = "none"
		}
		fmt.Fprintf(&b, "\n%s@%s:\tclass=0x%02x%02x00 vendor=0x%04x device=0x%04x", name, d.Selector, d.Class, d.Subclass, d.Vendor, d.Device)
		vendor, device := ids.Name(d.Vendor, d.Device)
		if vendor != "" {
			fmt.Fprintf(&b, "\n    vendor     = '%s'", vendor)
		}
		if device != "" {
			fmt.Fprintf(&b, "\n    device     = '%s'", device)
		}
	}
	return b.String()
}

// confirm asks a yes-or-no question, no unless answered yes.
func confirm(out io.Writer, in *bufio.Reader, question string) bool {
	fmt.Fprint(out, question)
	answer, _ := in.ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// plan is what setup changes, file by file, and what it tells.
type plan struct {
	paths  host.Paths
	out    io.Writer
	files  map[string]*fileEdit
	order  []string // the files in the order of their first change
	reboot bool     // a loader tunable is new
}

// build plans every change for the card.
func (p *plan) build(h *host.Host, dev host.PCIDevice) error {
	if err := p.bhyveConf(dev); err != nil {
		return err
	}
	if err := p.fromSample(p.paths.CoreConf(), p.paths.CoreConf()+".sample", "core.conf"); err != nil {
		return err
	}
	if err := p.fromSample(p.paths.UDSPassthruConf(), p.paths.UDSPassthruConf()+".sample", ""); err != nil {
		return err
	}
	if err := p.rcConf(h, dev); err != nil {
		return err
	}
	if err := p.guest(); err != nil {
		return err
	}
	return p.loader(h)
}

// bhyveConf puts the card into passthru, bhyve.conf made from the sample
// when absent; the devices passthru names already stay.
func (p *plan) bhyveConf(dev host.PCIDevice) error {
	path := p.paths.BhyveConf()
	if err := p.fromSample(path, path+".sample", "bhyve.conf"); err != nil {
		return err
	}
	f, err := p.file(path, 0o644)
	if err != nil {
		return err
	}
	as, err := config.Parse(path, f.after)
	if err != nil {
		return fmt.Errorf("set passthru: %w", err)
	}
	a, _ := as.Last("passthru")
	sels := strings.Fields(a.Value)
	if slices.Contains(sels, dev.Selector.BSF()) {
		return nil
	}
	f.set("passthru", fmt.Sprintf("passthru=%q", strings.Join(append([]string{dev.Selector.BSF()}, sels...), " ")))
	return nil
}

// fromSample creates a file from its sample when the file is absent and
// the sample present. what names a file wifibox cannot do without: with
// neither, setup says so.
func (p *plan) fromSample(path, sample, what string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or doctor tells what is wrong with it
	}
	if _, ok := p.files[path]; ok {
		return nil
	}
	data, err := os.ReadFile(sample)
	switch {
	case errors.Is(err, fs.ErrNotExist) && what != "":
		return fmt.Errorf("%s and its sample %s are missing: reinstall wifibox (pkg install -f wifibox-core)", path, sample)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	f, err := p.file(path, 0o644)
	if err != nil {
		return err
	}
	f.create(filepath.Base(sample), data)
	return nil
}

// The guest images' daemons and their configuration directories, as the
// guest package installs them (PREFIX/etc/wifibox/wpa_supplicant and
// hostapd, app_config a link to the one the image runs).
var (
	daemons    = []string{"wpa_supplicant", "hostapd"}
	hasNetwork = map[string]*regexp.Regexp{
		"wpa_supplicant": regexp.MustCompile(`(?m)^[ \t]*network[ \t]*=[ \t]*\{`),
		"hostapd":        regexp.MustCompile(`(?m)^[ \t]*ssid[ \t]*=[ \t]*\S`),
	}
)

// guest links app_config to the guest's configuration directory when it
// is absent, creates the daemon's configuration from its sample, and says
// which daemon runs and whether it has a network.
func (p *plan) guest() error {
	link := p.paths.AppConfig()
	dir, err := manager.AppConfig(p.paths)
	if err != nil {
		fmt.Fprintf(p.out, "Guest: %v\n", err)
		return nil
	}
	if dir == "" {
		for _, d := range daemons {
			if fi, err := os.Stat(filepath.Join(p.paths.ConfDir, d)); err == nil && fi.IsDir() {
				dir = filepath.Join(p.paths.ConfDir, d)
				f, err := p.file(link, 0)
				if err != nil {
					return err
				}
				f.link(d)
				break
			}
		}
	}
	if dir == "" {
		fmt.Fprintf(p.out, "Guest: no configuration directory (%s), so the guest gets no Wi-Fi configuration: reinstall the guest package (pkg install -f wifibox-alpine)\n",
			strings.Join(daemons, " or "))
		return nil
	}
	daemon := filepath.Base(dir)
	re, known := hasNetwork[daemon]
	if !known {
		fmt.Fprintf(p.out, "Guest: app_config is %s, not a configuration of %s\n", dir, strings.Join(daemons, " or "))
		return nil
	}
	conf := filepath.Join(dir, daemon+".conf")
	if err := p.fromSample(conf, conf+".sample", ""); err != nil {
		return err
	}
	data, err := os.ReadFile(conf)
	if f, ok := p.files[conf]; ok {
		data, err = f.after, nil
	}
	switch {
	case err != nil:
		fmt.Fprintf(p.out, "Guest: runs %s, whose configuration %s is missing: create it (%s(8))\n", daemon, conf, daemon)
	case re.Match(data):
		fmt.Fprintf(p.out, "Guest: runs %s; %s has a network\n", daemon, conf)
	case daemon == "hostapd":
		fmt.Fprintf(p.out, "Guest: runs hostapd; %s sets no ssid: set ssid= and wpa_passphrase= there, then `wifibox restart guest`\n", conf)
	default:
		fmt.Fprintf(p.out, "Guest: runs wpa_supplicant; %s has no network: add one with `wpa_passphrase SSID >> %s` (it asks for the passphrase), then `wifibox restart guest`\n", conf, conf)
	}
	return nil
}

// rcConf enables the service, blocklists the native driver of the card
// and gives wifibox0 an address, each unless rc.conf does already.
func (p *plan) rcConf(h *host.Host, dev host.PCIDevice) error {
	rc := doctor.ReadRCConf(p.paths)
	if err := rc.Err(); err != nil {
		return fmt.Errorf("read rc.conf: %w; correct it first", err)
	}
	// set gives a variable a value in the file that sets it last, as the
	// service reads it, or in rc.conf.
	set := func(service, name, value string) error {
		file := rc.Path()
		if _, at, ok := rc.Value(service, name); ok {
			file = at
		}
		f, err := p.file(file, 0o644)
		if err != nil {
			return err
		}
		f.set(name, fmt.Sprintf("%s=%q", name, value))
		return nil
	}
	if v, _, _ := rc.Value(host.Service, host.Service+"_enable"); !yes(v) {
		if err := set(host.Service, host.Service+"_enable", "YES"); err != nil {
			return err
		}
	}
	if module := p.nativeModule(h, dev); module != "" {
		v, _, _ := rc.Value("devmatch", "devmatch_blocklist")
		if list := strings.Fields(v); !slices.Contains(list, module) {
			if err := set("devmatch", "devmatch_blocklist", strings.Join(append(list, module), " ")); err != nil {
				return err
			}
		}
	}
	if _, _, ok := rc.Value("netif", "ifconfig_"+host.BridgeName); !ok {
		return set("netif", "ifconfig_"+host.BridgeName, "SYNCDHCP")
	}
	return nil
}

// yes tells whether an rc.conf variable is on, as checkyesno reads it.
func yes(v string) bool {
	return slices.Contains([]string{"yes", "true", "on", "1"}, strings.ToLower(v))
}

// nativeModule finds the module devmatch loads for the card, the name of
// the file that provides its driver, from the kernel; "" when no native
// driver holds the card.
func (p *plan) nativeModule(h *host.Host, dev host.PCIDevice) string {
	switch {
	case ppt.OnPPT(dev):
		fmt.Fprintf(p.out, "Native driver: none, %s holds the card; stop wifibox and run setup again to find it\n", dev.DriverUnit())
		return ""
	case !dev.Attached:
		fmt.Fprintln(p.out, "Native driver: none holds the card")
		return ""
	}
	module, file, err := kmod.DriverModule(h.Kernel, dev.Driver)
	if err != nil {
		fmt.Fprintf(p.out, "Native driver: %s; %v: add the file that provides it (kldstat -v lists them) to devmatch_blocklist in /etc/rc.conf by hand\n", dev.DriverUnit(), err)
		return ""
	}
	fmt.Fprintf(p.out, "Native driver: %s, from %s\n", dev.DriverUnit(), file)
	return module
}

// loader enables AMD-Vi on an AMD CPU, in the file of loader.conf(5) that
// sets the tunable last or else /boot/loader.conf, which every loader
// reads (stand/defaults/loader.conf, loader_conf_files), not a file of
// /boot/loader.conf.d, whose *.conf files only the Lua loader reads
// (loader.conf(5), loader_conf_dirs). vmm reads it when it loads: at the
// next boot, or once `kenv hw.vmm.amdvi.enable=1` is run while vmm.ko is
// not loaded.
func (p *plan) loader(h *host.Host) error {
	model, _ := h.Kernel.SysctlString("hw.model")
	if !strings.Contains(model, "AMD") {
		return nil
	}
	root := p.paths.Root
	for _, name := range []string{amdviTunable, "hw.vmm.amdvi_enable"} {
		if v, _, ok := doctor.LoaderTunable(root, name); ok && v == "1" {
			return nil
		}
	}
	file := filepath.Join(root, "boot/loader.conf")
	if _, at, ok := doctor.LoaderTunable(root, amdviTunable); ok {
		file = at
	}
	f, err := p.file(file, 0o644)
	if err != nil {
		return err
	}
	f.set(amdviTunable, amdviTunable+`="1"`)
	p.reboot = true
	return nil
}

// verdict runs doctor and tells its problems and the command to run
// next; a host doctor finds unfit fails setup.
func (p *plan) verdict(h *host.Host, reboot bool) error {
	findings := doctor.Check(h)
	problems := 0
	for _, f := range findings {
		if f.Status == doctor.Warn || f.Status == doctor.Fail {
			fmt.Fprintln(p.out, f)
			problems++
		}
	}
	if !doctor.Fit(findings) {
		fmt.Fprintln(p.out, "doctor: the host cannot run wifibox yet: fix what FAIL says, then `wifibox doctor`")
		return failure.New(failure.Environment, failure.ErrShown)
	}
	if problems == 0 {
		fmt.Fprintln(p.out, "doctor: every check passes")
	} else {
		fmt.Fprintln(p.out, "doctor: the host can run wifibox (see the warnings above)")
	}
	if reboot {
		fmt.Fprintf(p.out, "Next: reboot, for %s=1 takes effect when vmm.ko loads at the next boot "+
			"(or, while vmm.ko is not loaded, `kenv %s=1`), then `service wifibox start`\n", amdviTunable, amdviTunable)
		return nil
	}
	fmt.Fprintln(p.out, "Next: service wifibox start")
	return nil
}
