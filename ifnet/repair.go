package ifnet

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// ErrTapGone is Repair's answer when the guest's tap no longer exists: the
// guest has to be started again on a new one.
var ErrTapGone = errors.New("the guest's tap is gone")

// Repair puts back what the system took from a running guest's network,
// and says what it did, a line each; a network in order needs nothing.
// `service netif stop` downs every interface, the tap included, and
// `service netif start` brings up only those rc.conf configures (wifibox0),
// never the tap, whose frames tunwrite (sys/net/if_tuntap.c) drops while it
// is not up; an interface destroyed takes its bridge membership with it.
// So Repair recreates a missing bridge (cloned, renamed, marked, up) with
// the tap as its member, puts the tap back into a bridge that lost it, and
// brings a tap that is down while its bhyve holds it up again, the tap
// joining before it comes up as Setup does. A bridge that is there but down is left down: that is what
// the administrator asked of netif. A missing tap is ErrTapGone.
//
// On FreeBSD 15.0 the tap cannot join again: it came up once, so it has
// its IPv6 link-local address (in6_if_up), which neither going down nor
// leaving the bridge removes, and BRDGADD refuses a member with an
// address (EINVAL) unless net.link.bridge.member_ifaddrs=1. wifibox
// makes no address calls, so the repair does not clear it: that refusal
// is ErrTapGone too, and the guest starts again on a new tap, which joins
// before it comes up and so never has one.
//
// created tells whether Repair made the bridge anew: the caller has it
// configured as rc.conf says. It is Repair's own finding, not one made
// before the call, as a bridge being destroyed can still be there then.
func (nf Netif) Repair(tap string) (done []string, created bool, err error) {
	n, bridge, journal := nf.Net, nf.Bridge, nf.Journal
	all, err := n.Interfaces()
	if err != nil {
		return nil, false, err
	}
	i := slices.IndexFunc(all, func(i host.Interface) bool { return i.Name == tap })
	if i < 0 {
		return nil, false, fmt.Errorf("%s: %w", tap, ErrTapGone)
	}
	// A tap that is down with its link down is one its bhyve has closed
	// (tundtor in if_tuntap.c takes it down): the guest is exiting, and
	// the next launch brings the tap up. Only one that bhyve still holds
	// is brought up again here.
	tapDown := !all[i].Up && all[i].LinkUp
	_, members, err := membersIn(n, bridge, all)
	switch {
	case errors.Is(err, unix.ENXIO):
		var made []string
		if err := createBridge(n, bridge, journal, all, &made); err != nil {
			return nil, false, undo(n, made, err)
		}
		if err := n.AddMember(bridge, tap); err != nil {
			return nil, false, undo(n, made, rejoin(tap, err))
		}
		if err := forget(journal); err != nil {
			return nil, true, err
		}
		created = true
		done = append(done, fmt.Sprintf("%s was gone: created it again with %s as its member", bridge, tap))
	case err != nil:
		return nil, false, err
	case !slices.ContainsFunc(members, func(m host.Interface) bool { return m.Name == tap }):
		if err := n.AddMember(bridge, tap); err != nil {
			return nil, false, rejoin(tap, err)
		}
		done = append(done, fmt.Sprintf("%s was no member of %s: added it again", tap, bridge))
	}
	if tapDown {
		if err := n.SetUp(tap); err != nil {
			return done, created, err
		}
		done = append(done, fmt.Sprintf("%s was down, so the guest's frames were dropped: brought it up again", tap))
	}
	return done, created, nil
}

// rejoin words a tap's refusal back into its bridge: EINVAL (15.0's
// member_ifaddrs) makes it ErrTapGone.
func rejoin(tap string, err error) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s cannot join again, it has an address (FreeBSD 15.0, net.link.bridge.member_ifaddrs=0): %w: %w", tap, ErrTapGone, err)
	}
	return err
}
