package manager

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
)

// Repair is one repair of the guest's network, as status shows it.
type Repair struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// maxRepairs bounds the repairs status keeps, the latest.
const maxRepairs = 10

// watchNet keeps the network of a running guest working whatever the
// system does to its interfaces, `service netif stop/start/restart` among
// them: it follows the kernel's interface messages (the routing socket)
// and, at each, puts back what was taken (ifnet.Netif.Repair), so wifibox0
// survives netif without a restart of wifibox. A tap that is gone cannot
// be given back to the running bhyve: the guest is reset, and started
// again on a new tap. The check is level-triggered: each message, the
// manager's own changes included, leads to a look at the whole network,
// and a network in order needs nothing, so its own changes end there.
// It returns the function that ends the watch.
func (m *manager) watchNet(tap string) (stop func()) {
	w, err := m.h.Net.Watch()
	if err != nil {
		m.log.Warnf("VM manager: %v; %s is not repaired if the system takes it down", err, m.netif.Bridge)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if m.repairNet(tap) {
				return
			}
			if _, err := w.Next(); err != nil {
				return
			}
		}
	}()
	return func() {
		w.Close()
		<-done
	}
}

// replaceGoneTap gives wifibox0 a new tap before the guest runs again
// when it has none: a tap destroyed while bhyve held it (ifconfig tap0
// destroy) goes only once bhyve has exited (tun_destroy in
// sys/net/if_tuntap.c waits for its close), when no network watch runs.
func (m *manager) replaceGoneTap() {
	if tap, err := m.netif.Tap(); err != nil || tap != "" {
		return
	}
	existed := m.netif.Exists()
	tap, _, err := m.netif.Setup()
	m.configureCreated(existed)
	if err != nil {
		m.log.Errorf("VM manager: %s has no tap, and a new one could not be made: %v", m.netif.Bridge, err)
		return
	}
	m.log.Warnf("VM manager: network repair: %s had no tap: the guest starts again on %s", m.netif.Bridge, tap)
}

// Configure has the bridge (wifibox0), which wifibox has just created,
// configured as rc.conf says (host.Launcher.Configure), and logs what
// came of it.
func Configure(h *host.Host, nf ifnet.Netif, log *logrus.Logger) {
	ran, err := h.Launcher.Configure(nf.Bridge)
	switch {
	case err != nil:
		log.Warnf("%s is not configured as rc.conf says (ifconfig_%s): %v", nf.Bridge, nf.Bridge, err)
	case ran:
		log.Infof("%s is configured as rc.conf says (ifconfig_%s), as devd does for an interface that attaches: %s",
			nf.Bridge, nf.Bridge, strings.Join(host.PccardEtherFor(nf.Bridge), " "))
	default:
		log.Debugf("%s is configured by netif: devd does not run yet", nf.Bridge)
	}
}

// configureCreated configures wifibox0 (Configure) when it is there now
// and was not (existed, as found before): a repair created it.
func (m *manager) configureCreated(existed bool) {
	if !existed && m.netif.Exists() {
		Configure(m.h, m.netif, m.log)
	}
}

// repairNet puts the guest's network back in order, logs what it did and
// keeps it for status. It tells whether the guest is being reset for a new
// tap, which ends the watch.
func (m *manager) repairNet(tap string) (reset bool) {
	done, created, err := m.netif.Repair(tap)
	if errors.Is(err, ifnet.ErrTapGone) {
		existed := m.netif.Exists()
		newTap, _, serr := m.netif.Setup()
		m.configureCreated(existed)
		if serr != nil {
			m.log.Errorf("VM manager: %s is gone, and a new tap could not be made: %v", tap, serr)
			return false
		}
		done = append(done, fmt.Sprintf("%v: the guest is reset and started again on %s", err, newTap))
		err = m.h.VMs.SuspendVM(host.VMName, host.SuspendReset)
		reset = err == nil
	} else if created {
		Configure(m.h, m.netif, m.log)
	}
	for _, what := range done {
		m.log.Warnf("VM manager: network repair: %s", what)
		m.update(func(s *Status) {
			s.Repairs = append(s.Repairs, Repair{Time: time.Now(), What: what})
			if len(s.Repairs) > maxRepairs {
				s.Repairs = s.Repairs[len(s.Repairs)-maxRepairs:]
			}
		})
	}
	if err != nil {
		m.log.Errorf("VM manager: repair the network of the guest: %v", err)
	}
	return reset
}
