package ifnet

import (
	"path/filepath"

	"github.com/wifibox/wifibox/host"
)

// Netif is the netif target on one host: the host's interfaces, the
// bridge wifibox claims, and the journal in which it notes each interface
// it is about to create. Setup, Repair, Reclaim, Teardown and Tap act on
// it; everything that touches wifibox's network goes through one.
type Netif struct {
	Net     host.Net
	Bridge  string
	Journal string // a file; "" keeps none (the dry run)
}

// NewNetif is the netif target of a host whose files are at p: the bridge
// is host.BridgeName, the journal host.NetifJournalFile in the run
// directory.
func NewNetif(n host.Net, p host.Paths) Netif {
	return Netif{Net: n, Bridge: host.BridgeName, Journal: filepath.Join(p.RunDir, host.NetifJournalFile)}
}

// Exists tells whether the bridge is there (an interface of its name).
func (nf Netif) Exists() bool {
	_, err := nf.Net.Interface(nf.Bridge)
	return err == nil
}
