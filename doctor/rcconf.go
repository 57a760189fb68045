package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/host"
)

// RCConf is the host's rc.conf(5) as rc(8) reads it, each file parsed with
// the parser of wifibox's own configuration files (rc.conf is mostly the
// same subset of sh(1)) and never run. load_rc_config of FreeBSD's
// libexec/rc/rc.subr (read in main, as of 15.0; 13.5 and 14.x read the
// same files) reads /etc/defaults/rc.conf, whose source_rc_confs reads
// rc_conf_files, "/etc/rc.conf /etc/rc.conf.local"; then, for the service
// whose configuration it loads, /etc/rc.conf.d/SERVICE and, from
// local_startup (LOCALBASE/etc/rc.d), LOCALBASE/etc/rc.conf.d/SERVICE, each
// a file or a directory whose files are read in order. What a later file
// assigns wins. The settings doctor and setup look at are read by three
// services: devmatch (devmatch_blocklist), netif (the interfaces') and
// wifibox (wifibox_enable).
type RCConf struct {
	path     string                        // /etc/rc.conf, where fixes go
	global   config.Assignments            // rc.conf, rc.conf.local
	services map[string]config.Assignments // global and the service's own files
	err      error                         // why it cannot be checked; nil when no file exists
}

// rcServices are the services whose configuration doctor and setup read.
var rcServices = []string{"devmatch", "netif", host.Service}

// ReadRCConf reads the host's rc.conf files as load_rc_config reads them
// for each service doctor and setup look at.
func ReadRCConf(p host.Paths) *RCConf {
	etc := filepath.Join(p.Root, "etc")
	rc := &RCConf{path: filepath.Join(etc, "rc.conf"), services: map[string]config.Assignments{}}
	rc.global, rc.err = rcFiles(nil, rc.path, filepath.Join(etc, "rc.conf.local"))
	for _, service := range rcServices {
		var files []string
		for _, dir := range []string{etc, filepath.Join(p.LocalBase, "etc")} {
			path := filepath.Join(dir, "rc.conf.d", service)
			if entries, err := os.ReadDir(path); err == nil {
				for _, e := range entries { // sorted, as sh expands /*
					files = append(files, filepath.Join(path, e.Name()))
				}
			} else {
				files = append(files, path)
			}
		}
		as, err := rcFiles(rc.global, files...)
		rc.services[service] = as
		if rc.err == nil {
			rc.err = err
		}
	}
	return rc
}

// rcFiles reads the files that exist in order after the assignments
// before, and gives all of them.
func rcFiles(before config.Assignments, paths ...string) (config.Assignments, error) {
	all := slices.Clone(before)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && len(data) == 0 {
			continue // rc.subr's dot skips what is not there or empty
		}
		var as config.Assignments
		if err == nil {
			as, err = config.ParseAfter(path, data, all)
		}
		if err != nil {
			return all, err
		}
		all = append(all, as...)
	}
	return all, nil
}

// assignments are what the service sees: rc.conf's and its own.
func (rc *RCConf) assignments(service string) config.Assignments {
	return rc.services[service]
}

// Path is /etc/rc.conf, where the settings no file sets go, as sysrc(8)
// puts them.
func (rc *RCConf) Path() string { return rc.path }

// Err tells why the files cannot be read; nil when they can, or do not
// exist.
func (rc *RCConf) Err() error { return rc.err }

// Value gives a setting as the service that reads it sees it, and the
// file that set it.
func (rc *RCConf) Value(service, name string) (value, file string, ok bool) {
	a, ok := rc.services[service].Last(name)
	return a.Value, a.Pos.File, ok
}

// blocklist gives the rc.conf lines that keep devmatch(8) from loading the
// module at boot, the list set already kept; "" when it is blocklisted.
func (rc *RCConf) blocklist(module string) string {
	v, _, _ := rc.Value("devmatch", "devmatch_blocklist")
	list := strings.Fields(v)
	if slices.Contains(list, module) {
		return ""
	}
	return fmt.Sprintf("add to %s:\n"+`devmatch_enable="YES"`+"\ndevmatch_blocklist=%q",
		rc.path, strings.Join(append(list, module), " "))
}

// wifiDrivers are FreeBSD's PCI Wi-Fi drivers, whose rc.conf settings
// conflict with a card given to the guest.
var wifiDrivers = []string{"iwlwifi", "iwm", "iwn", "iwx", "ath", "rtwn", "rtw88", "rtw89", "bwn", "bwi", "wpi", "ipw", "iwi", "malo", "mwl", "ral"}

var (
	digits    = regexp.MustCompile(`^[0-9]+$`)
	aliasName = regexp.MustCompile(`^(.+)_alias[0-9]+$`)
)

// rcConf checks that the host's network configuration leaves wifibox0 to
// wifibox, does not configure the card given to the guest, gives wifibox0
// an address and no address that collides with the guest's network.
func (d *doctor) rcConf() {
	const what = "rc.conf"
	rc := d.rc
	if rc.err != nil {
		d.add(Warn, what, "cannot be checked: "+rc.err.Error(),
			"check "+rc.path+" by hand: nothing may create "+host.BridgeName+" or configure the Wi-Fi card")
		return
	}
	before := len(d.found)
	fail := func(detail, fix string) { d.add(Fail, what, detail, fix) }
	if v, _, _ := rc.Value("netif", "cloned_interfaces"); slices.Contains(strings.Fields(v), host.BridgeName) {
		fail("cloned_interfaces creates "+host.BridgeName+", which wifibox creates itself",
			"remove "+host.BridgeName+" from cloned_interfaces in "+rc.path)
	}
	for _, a := range rc.assignments("netif") {
		if iface, ok := strings.CutPrefix(a.Name, "ifconfig_"); ok {
			if iface, ok := strings.CutSuffix(iface, "_name"); ok && a.Value == host.BridgeName {
				fail(fmt.Sprintf("%s renames %s to %s, which wifibox creates itself", a.Name, iface, host.BridgeName),
					fmt.Sprintf("remove %s, and %s from cloned_interfaces, from %s", a.Name, iface, rc.path))
			}
		}
		if unit, ok := strings.CutPrefix(a.Name, "wlans_"); ok && d.givesCard(unit) {
			names := []string{a.Name}
			for _, wlan := range strings.Fields(a.Value) {
				if _, _, ok := rc.Value("netif", "ifconfig_"+wlan); ok {
					names = append(names, "ifconfig_"+wlan)
				}
			}
			fail(fmt.Sprintf("%s configures the Wi-Fi card on the host, but wifibox gives it to the guest", a.Name),
				fmt.Sprintf("remove %s from %s", strings.Join(names, " and "), rc.path))
		}
	}
	if _, _, ok := rc.Value("netif", "ifconfig_"+host.BridgeName); !ok {
		d.add(Warn, what, "ifconfig_"+host.BridgeName+" is not set, so the host gets no address on "+host.BridgeName,
			fmt.Sprintf("add ifconfig_%s=\"SYNCDHCP\" to %s (or a static inet address in the guest's network)", host.BridgeName, rc.path))
	}
	d.addresses()
	if len(d.found) == before {
		d.add(OK, what, "nothing conflicts with "+host.BridgeName, "")
	}
}

// givesCard tells whether a Wi-Fi device of rc.conf (iwlwifi0 of
// wlans_iwlwifi0) is a card given to the guest: the unit of its native
// driver, or any unit of a Wi-Fi driver when none holds the card but ppt.
func (d *doctor) givesCard(unit string) bool {
	for _, dev := range d.devs {
		if dev.DriverUnit() == unit || (dev.Driver == "ppt" || !dev.Attached) && isWiFiUnit(unit) {
			return true
		}
	}
	return false
}

func isWiFiUnit(unit string) bool {
	for _, driver := range wifiDrivers {
		if n, ok := strings.CutPrefix(unit, driver); ok && digits.MatchString(n) {
			return true
		}
	}
	return false
}

// defaultGuest is the guest's address on wifibox0 when uds_passthru.conf
// does not say: the guest image's own, 10.0.0.1/24, whose network is the
// one users find colliding with theirs (man/wifibox.8, EXAMPLES).
var defaultGuest = netip.MustParsePrefix("10.0.0.1/24")

// guestNetwork gives the guest's address and network, and where they come
// from: network= of uds_passthru.conf; or else the network of wifibox0's
// static address in rc.conf, which the guest's must share; or else the
// guest image's default. known is false for the default, which the guest's
// own configuration may have changed.
func (d *doctor) guestNetwork() (guest netip.Addr, network netip.Prefix, from string, known bool) {
	if u := d.uds; u != nil && u.GuestIP.IsValid() && u.Netmask.IsValid() {
		return u.GuestIP, netip.PrefixFrom(u.GuestIP, maskBits(u.Netmask)).Masked(),
			"network in " + d.h.Paths.UDSPassthruConf(), true
	}
	if v, _, ok := d.rc.Value("netif", "ifconfig_"+host.BridgeName); ok {
		if addr, ok := inetAddress(v); ok && addr.Bits() < 32 {
			return netip.Addr{}, addr.Masked(), "ifconfig_" + host.BridgeName + " in " + d.rc.path, true
		}
	}
	return defaultGuest.Addr(), defaultGuest.Masked(), "the guest image's default", false
}

// addresses checks the inet addresses of rc.conf against the guest's
// network: another interface in it takes the guest's traffic; wifibox0
// outside it, or on the guest's own address, cannot reach the guest.
func (d *doctor) addresses() {
	guestIP, guest, from, known := d.guestNetwork()
	conf := d.h.Paths.UDSPassthruConf()
	overlap, fix := Fail, fmt.Sprintf("give the guest a network no host interface uses: change network in %s and the guest's own address to match", conf)
	if !known {
		overlap, fix = Warn, fmt.Sprintf("give the guest another network in its configuration (app_config), and set network in %s to its address", conf)
	}
	for _, a := range d.rc.assignments("netif") {
		iface, ok := strings.CutPrefix(a.Name, "ifconfig_")
		if !ok {
			continue
		}
		if m := aliasName.FindStringSubmatch(iface); m != nil {
			iface = m[1]
		}
		addr, ok := inetAddress(a.Value)
		if !ok {
			continue
		}
		switch {
		case iface != host.BridgeName && addr.Overlaps(guest):
			d.add(overlap, "rc.conf", fmt.Sprintf("%s gives %s the address %s, in the guest's network %s (%s)", a.Name, iface, addr, guest, from), fix)
		case iface != host.BridgeName || !guestIP.IsValid():
		case addr.Addr() == guestIP:
			d.add(Fail, "rc.conf", fmt.Sprintf("%s gives %s the guest's own address %s", a.Name, iface, addr.Addr()),
				fmt.Sprintf("set %s=\"inet %s/%d\" in %s", a.Name, hostAddress(guest, guestIP), guest.Bits(), d.rc.path))
		case !guest.Contains(addr.Addr()):
			d.add(Warn, "rc.conf", fmt.Sprintf("%s gives %s the address %s, outside the guest's network %s (%s), so the host cannot reach the guest", a.Name, iface, addr, guest, from),
				fmt.Sprintf("set %s=\"inet %s/%d\" in %s", a.Name, hostAddress(guest, guestIP), guest.Bits(), d.rc.path))
		}
	}
}

// inetAddress finds the IPv4 address of an ifconfig_IF value, "inet
// A.B.C.D[/LEN] [netmask M]", as a prefix; with no length or netmask it is
// the address alone.
func inetAddress(value string) (netip.Prefix, bool) {
	words := strings.Fields(value)
	i := slices.Index(words, "inet")
	if i < 0 || i+1 == len(words) {
		return netip.Prefix{}, false
	}
	if p, err := netip.ParsePrefix(words[i+1]); err == nil && p.Addr().Is4() {
		return p, true
	}
	addr, err := netip.ParseAddr(words[i+1])
	if err != nil || !addr.Is4() {
		return netip.Prefix{}, false
	}
	bits := 32
	if j := slices.Index(words, "netmask"); j > i && j+1 < len(words) {
		if mask, ok := parseNetmask(words[j+1]); ok {
			bits = maskBits(mask)
		}
	}
	return netip.PrefixFrom(addr, bits), true
}

// parseNetmask reads a netmask as ifconfig(8) takes it: dotted or 0x hex.
func parseNetmask(s string) (netip.Addr, bool) {
	if hex, ok := strings.CutPrefix(s, "0x"); ok && len(hex) == 8 {
		var b [4]byte
		if _, err := fmt.Sscanf(hex, "%02x%02x%02x%02x", &b[0], &b[1], &b[2], &b[3]); err == nil {
			return netip.AddrFrom4(b), true
		}
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

// maskBits gives the prefix length of a netmask, 32 for one that is not
// ones followed by zeros.
func maskBits(mask netip.Addr) int {
	b := mask.As4()
	if ones, bits := net.IPMask(b[:]).Size(); bits != 0 {
		return ones
	}
	return 32
}

// hostAddress suggests an address of the network for the host: the one
// after the guest's, or the one before when that is the last.
func hostAddress(network netip.Prefix, guest netip.Addr) netip.Addr {
	if next := guest.Next(); network.Contains(next) && next.Next().IsValid() && network.Contains(next.Next()) {
		return next
	}
	return guest.Prev()
}
