package lifecycle

import (
	"time"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/manager"
)

// tellStop says how the guest stopped when it did not just power off: the
// VM manager records the manner of the stop (manager.LastStop) before it
// answers the stop request begun at begin.
func (r *Runner) tellStop(begin time.Time) {
	s, err := manager.ReadLastStop(r.Host.Paths.RunDir)
	switch {
	case err != nil:
		r.Log.Warnf("How the guest stopped cannot be told: %v", err)
	case s == nil || s.Time.Before(begin):
		// A VM manager of an earlier version records nothing.
		r.Log.Info("How the guest stopped cannot be told: the VM manager recorded nothing")
	case s.Manner == manager.ForcedOff || s.Manner == manager.Killed:
		r.Log.Warnf("Guest %s was %s; a card forced off this way may need a reboot of the host to work again "+
			"(stop_wait_max in bhyve.conf gives the guest longer to power off)", host.VMName, s)
	default:
		r.Log.Infof("Guest %s: %s", host.VMName, s)
	}
}

// recordStop records the manner of a stop the command made itself.
func (r *Runner) recordStop(s manager.LastStop) {
	if err := manager.RecordStop(r.Host.Paths.RunDir, s); err != nil {
		r.Log.Warnf("Record the stop: %v", err)
	}
}
