package manager

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
)

// NetifJournal is where `netif` notes the interfaces it is about to
// create (ifnet.Setup), and the manager those its repairs create.
func NetifJournal(runDir string) string { return filepath.Join(runDir, "netif.journal") }

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
// and, at each, puts back what was taken (ifnet.Repair), so wifibox0
// survives netif without a restart of wifibox. A tap that is gone cannot
// be given back to the running bhyve: the guest is reset, and started
// again on a new tap. The check is level-triggered: each message, the
// manager's own changes included, leads to a look at the whole network,
// and a network in order needs nothing, so its own changes end there.
// It returns the function that ends the watch.
func (m *manager) watchNet(tap string) (stop func()) {
	w, err := m.h.Net.Watch()
	if err != nil {
		m.log.Warnf("VM manager: %v; %s is not repaired if the system takes it down", err, Bridge)
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
	if tap, err := ifnet.Tap(m.h.Net, Bridge); err != nil || tap != "" {
		return
	}
	_, gone := m.h.Net.Interface(Bridge)
	tap, _, err := ifnet.Setup(m.h.Net, Bridge, NetifJournal(m.h.Paths.RunDir))
	m.configureCreated(gone)
	if err != nil {
		m.log.Errorf("VM manager: %s has no tap, and a new one could not be made: %v", Bridge, err)
		return
	}
	m.log.Warnf("VM manager: network repair: %s had no tap: the guest starts again on %s", Bridge, tap)
}

// Configure has wifibox0, which wifibox has just created, configured as
// rc.conf says (host.Launcher.Configure), and logs what came of it.
func Configure(h *host.Host, log *logrus.Logger) {
	ran, err := h.Launcher.Configure(Bridge)
	switch {
	case err != nil:
		log.Warnf("%s is not configured as rc.conf says (ifconfig_%s): %v", Bridge, Bridge, err)
	case ran:
		log.Infof("%s is configured as rc.conf says (ifconfig_%s), as devd does for an interface that attaches: %s",
			Bridge, Bridge, strings.Join(host.PccardEtherFor(Bridge), " "))
	default:
		log.Debugf("%s is configured by netif: devd does not run yet", Bridge)
	}
}

// configureCreated configures wifibox0 (Configure) when it is there now
// and was not (gone, the error of looking it up before): a repair
// created it.
func (m *manager) configureCreated(gone error) {
	if _, now := m.h.Net.Interface(Bridge); gone != nil && now == nil {
		Configure(m.h, m.log)
	}
}

// repairNet puts the guest's network back in order, logs what it did and
// keeps it for status. It tells whether the guest is being reset for a new
// tap, which ends the watch.
func (m *manager) repairNet(tap string) (reset bool) {
	journal := NetifJournal(m.h.Paths.RunDir)
	done, created, err := ifnet.Repair(m.h.Net, Bridge, tap, journal)
	if errors.Is(err, ifnet.ErrTapGone) {
		_, gone := m.h.Net.Interface(Bridge)
		newTap, _, serr := ifnet.Setup(m.h.Net, Bridge, journal)
		m.configureCreated(gone)
		if serr != nil {
			m.log.Errorf("VM manager: %s is gone, and a new tap could not be made: %v", tap, serr)
			return false
		}
		done = append(done, fmt.Sprintf("%v: the guest is reset and started again on %s", err, newTap))
		err = m.h.VMs.SuspendVM(bhyve.VMName, host.SuspendReset)
		reset = err == nil
	} else if created {
		Configure(m.h, m.log)
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
