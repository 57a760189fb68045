package sim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wifibox/wifibox/config"
	netif "github.com/wifibox/wifibox/ifnet"
)

// What `service netif` does to the interfaces, on a simulated host: the
// system's own tool acting on wifibox's interfaces behind its back, made
// with the same interface ioctls through the kernel model, so the VM
// manager hears of it as it would on FreeBSD (the routing socket). Read:
// libexec/rc/rc.d/netif and network.subr at freebsd-src 023fc80e, the same
// on stable/13 and stable/14. Left out: addresses (the model keeps none to
// delete but a tap's IPv6 link-local), wlan interfaces, and the
// ifconfig_IF values themselves: an interface with one is brought up.

// NetifStop does what `service netif stop` does: clone_down destroys the
// interfaces of cloned_interfaces; before that, netif_common ifn_stop
// takes down every interface `ifconfig -l` lists (list_net_interfaces,
// network_interfaces=AUTO), the tap of a running guest included, and
// deletes their addresses. Nothing else is destroyed.
func NetifStop(dir string) error {
	n, rc, err := netifHost(dir)
	if err != nil {
		return err
	}
	all, err := n.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range all {
		if i.Up {
			if err := n.SetDown(i.Name); err != nil {
				return err
			}
		}
	}
	for _, name := range rc.cloned {
		if err := n.DestroyInterface(name); err != nil {
			return err
		}
	}
	return nil
}

// NetifStart does what `service netif start` does: clone_up creates the
// interfaces of cloned_interfaces, and ifn_start configures, and so brings
// up, each interface that has an ifconfig_IF line in rc.conf; the others,
// a guest's tap among them, stay as they are.
func NetifStart(dir string) error {
	n, rc, err := netifHost(dir)
	if err != nil {
		return err
	}
	for _, name := range rc.cloned {
		if _, err := n.CreateInterface(name); err != nil {
			return err
		}
	}
	all, err := n.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range all {
		if rc.configured[i.Name] && !i.Up {
			if err := n.SetUp(i.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// netifRC is what netif reads of the simulated host's /etc/rc.conf.
type netifRC struct {
	cloned     []string
	configured map[string]bool
}

// netifHost gives the interfaces of the simulated host under dir through
// the kernel model, and its rc.conf's netif settings.
func netifHost(dir string) (*netif.Net, netifRC, error) {
	rc := netifRC{configured: map[string]bool{}}
	s, err := openSystem(dir)
	if err != nil {
		return nil, rc, err
	}
	n, err := netif.New(newKernel(s))
	if err != nil {
		return nil, rc, err
	}
	path := filepath.Join(s.dir, "etc", "rc.conf")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return n, rc, nil
	}
	var as config.Assignments
	if err == nil {
		as, err = config.Parse(path, data)
	}
	if err != nil {
		return nil, rc, fmt.Errorf("read the simulated host's rc.conf: %w", err)
	}
	for _, a := range as {
		if name, ok := strings.CutPrefix(a.Name, "ifconfig_"); ok && a.Value != "" {
			rc.configured[name] = true
		}
	}
	if a, ok := as.Last("cloned_interfaces"); ok {
		rc.cloned = strings.Fields(a.Value)
	}
	return n, rc, nil
}
