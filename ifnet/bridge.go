package ifnet

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// The kinds of interface (host.Interface.Kind) the netif target deals with,
// which are also the names of their cloners (CreateInterface's kind).
const (
	KindBridge = "bridge"
	KindTap    = "tap"
)

// Setup does what `start netif` does: it makes sure the bridge (wifibox0)
// exists, is up and has a tap member that is up, and returns the tap's
// name. An existing bridge is reused, a missing one cloned, renamed and
// brought up; a tap member is reused, or one is cloned, added and brought
// up. Interfaces found down are brought up. Members that are not taps
// are kept and reported in the warnings, as is a second tap member (the
// first is used).
//
// Each interface Setup creates is noted in the journal (a file; "" for
// none) before it is cloned and marked with host.InterfaceMark (its
// description) right after, so that what a killed wifibox left behind
// can be told from the interfaces of others and reclaimed; and the tap
// joins the bridge before it is brought up: FreeBSD 15.0 refuses a bridge
// member that has an address (if_bridge.c, member_ifaddrs), and a tap
// that comes up gets an IPv6 link-local one. What a killed Setup left is
// reclaimed first (Reclaim); a Setup that succeeds empties the journal.
//
// Setup refuses an interface of that name that is not a bridge, and
// touches nothing then. When a step fails, the interfaces this call created
// are destroyed before it returns; the error names the interface, the
// ioctl and the errno. That if_bridge is loaded is the caller's business;
// a missing bridge cloner shows as EINVAL from SIOCIFCREATE2 with a hint.
func (nf Netif) Setup() (tap string, warnings []string, err error) {
	n, bridge, journal := nf.Net, nf.Bridge, nf.Journal
	var created []string // what to destroy on failure, newest last
	defer func() {
		if err != nil {
			err = undo(n, created, err)
		} else {
			err = forget(journal)
		}
	}()

	// One listing serves the reclaim, the bridge and the names of the
	// new interfaces; it is taken again only if the reclaim changed it.
	all, err := n.Interfaces()
	if err != nil {
		return "", nil, err
	}
	reclaimed, err := reclaim(n, bridge, journal, all, nil)
	warnings = leftBehind(reclaimed)
	if err == nil && len(reclaimed) > 0 {
		all, err = n.Interfaces()
	}
	if err != nil {
		return "", warnings, err
	}
	info, members, err := membersIn(n, bridge, all)
	switch {
	case errors.Is(err, unix.ENXIO):
		if err := createBridge(n, bridge, journal, all, &created); err != nil {
			return "", nil, err
		}
	case err != nil:
		return "", nil, err
	case !info.Up:
		if err := n.SetUp(bridge); err != nil {
			return "", nil, err
		}
	}

	var taps []host.Interface
	var others []host.Interface
	for _, m := range members {
		if m.Kind == KindTap {
			taps = append(taps, m)
		} else {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s has members that are not tap interfaces, kept: %s", bridge, names(others)))
	}
	if len(taps) > 0 {
		if len(taps) > 1 {
			warnings = append(warnings, fmt.Sprintf("%s has more than one tap member (%s); using %s", bridge, names(taps), taps[0].Name))
		}
		if !taps[0].Up {
			if err := n.SetUp(taps[0].Name); err != nil {
				return "", nil, err
			}
		}
		return taps[0].Name, warnings, nil
	}

	tap, err = create(n, KindTap, journal, all, &created)
	if err != nil {
		return "", nil, hint(err, "if_tuntap is not loaded")
	}
	if err := n.AddMember(bridge, tap); err != nil {
		return "", nil, err
	}
	if err := n.SetUp(tap); err != nil {
		return "", nil, err
	}
	return tap, warnings, nil
}

// names lists the interfaces' names for a message.
func names(list []host.Interface) string {
	var s []string
	for _, i := range list {
		s = append(s, i.Name)
	}
	return strings.Join(s, ", ")
}

// createBridge clones a bridge, renames it and brings it up, recording in
// created the name under which it can be destroyed.
func createBridge(n host.Net, bridge, journal string, all []host.Interface, created *[]string) error {
	name, err := create(n, KindBridge, journal, all, created)
	if err != nil {
		return hint(err, "if_bridge is not loaded")
	}
	if err := n.RenameInterface(name, bridge); err != nil {
		return err
	}
	(*created)[len(*created)-1] = bridge
	if err := n.SetUp(bridge); err != nil {
		return err
	}
	return nil
}

// create clones an interface and marks it, recording it in created. It
// names the unit itself, the lowest whose name is free, and notes the
// name in the journal before the clone: a wifibox killed between the
// clone and the mark leaves an interface Reclaim knows from the journal.
// A unit that a renamed interface still holds is EEXIST: the next is
// tried. all is a listing of the interfaces to take the names in use
// from.
func create(n host.Net, kind, journal string, all []host.Interface, created *[]string) (string, error) {
	for unit, tries := 0, 0; ; unit++ {
		name := kind + strconv.Itoa(unit)
		if slices.ContainsFunc(all, func(i host.Interface) bool { return i.Name == name }) {
			continue
		}
		if err := note(journal, name); err != nil {
			return "", err
		}
		name, err := n.CreateInterface(name)
		if errors.Is(err, unix.EEXIST) && tries < len(all) {
			tries++
			continue
		}
		if err != nil {
			return "", err
		}
		*created = append(*created, name)
		return name, n.SetDescription(name, host.InterfaceMark)
	}
}

// Reclaim destroys the interfaces wifibox created that nothing uses: those
// it marked (host.InterfaceMark) or noted in the journal, if a bridge
// other than the named one (one not renamed yet), or a tap that is a member of no bridge,
// not in inUse (a tap not added yet, or released) and not open. A tap
// whose link is up is open: a running bhyve's, which `service netif
// stop` released from its bridge, and which its VM manager puts back.
// Destroying it would not fail but wait in the kernel until bhyve exits
// (tun_destroy in sys/net/if_tuntap.c), with the command's lock held. The
// bridge and its members are left to Setup and Teardown. It gives the names destroyed;
// it goes on after a failure and returns every one. The journal is
// emptied once all is done.
func (nf Netif) Reclaim(inUse ...string) (destroyed []string, err error) {
	all, err := nf.Net.Interfaces()
	if err != nil {
		return nil, err
	}
	return reclaim(nf.Net, nf.Bridge, nf.Journal, all, inUse)
}

// reclaim is Reclaim with a listing of the interfaces.
func reclaim(n host.Net, bridge, journal string, all []host.Interface, inUse []string) (destroyed []string, err error) {
	noted, err := journaled(journal)
	if err != nil {
		return nil, err
	}
	members := map[string]bool{}
	var candidates []host.Interface
	for _, i := range all {
		if i.Kind != KindBridge && i.Kind != KindTap {
			continue
		}
		if i.Kind == KindBridge {
			list, err := n.Members(i.Name)
			if err != nil {
				return nil, err
			}
			for _, m := range list {
				members[m] = true
			}
		}
		if i.Name != bridge && !slices.Contains(inUse, i.Name) && !(i.Kind == KindTap && i.LinkUp) {
			candidates = append(candidates, i)
		}
	}
	var errs []error
	for _, i := range candidates {
		if members[i.Name] {
			continue
		}
		if !slices.Contains(noted, i.Name) {
			text, err := n.Description(i.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if text != host.InterfaceMark {
				continue
			}
		}
		if err := n.DestroyInterface(i.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		destroyed = append(destroyed, i.Name)
	}
	if len(errs) == 0 {
		errs = append(errs, forget(journal))
	}
	return destroyed, errors.Join(errs...)
}

// hint adds what an EINVAL from cloning most likely means.
func hint(err error, what string) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%w (%s)", err, what)
	}
	return err
}

// undo destroys what a failed Setup created, newest first, and adds to the
// error anything it could not destroy.
func undo(n host.Net, created []string, err error) error {
	for i := len(created) - 1; i >= 0; i-- {
		if derr := n.DestroyInterface(created[i]); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w; %s is left behind, destroy it by hand", derr, created[i]))
		}
	}
	return err
}

// Tap returns the bridge's tap member, or "" when it has none. A missing
// bridge gives an error wrapping ENXIO.
func (nf Netif) Tap() (string, error) {
	_, members, err := bridgeMembers(nf.Net, nf.Bridge)
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if m.Kind == KindTap {
			return m.Name, nil
		}
	}
	return "", nil
}

// Teardown does what `stop netif` does: it removes each tap member from the
// bridge and destroys it, then destroys the bridge (which releases any
// other member without destroying it). A missing bridge is not an error:
// Teardown returns nil and says so in a warning. It goes on after a failed
// step, so as little as possible is left behind, and returns every failure.
//
// Marked interfaces that a killed wifibox left are reclaimed afterwards
// (Reclaim), and named in the warnings.
func (nf Netif) Teardown() (warnings []string, err error) {
	warnings, err = teardownBridge(nf.Net, nf.Bridge)
	reclaimed, rerr := nf.Reclaim()
	return append(warnings, leftBehind(reclaimed)...), errors.Join(err, rerr)
}

// leftBehind words what Reclaim destroyed.
func leftBehind(names []string) []string {
	var warnings []string
	for _, name := range names {
		warnings = append(warnings, fmt.Sprintf("destroyed %s, left behind by a wifibox that was stopped before it finished", name))
	}
	return warnings
}

// teardownBridge removes and destroys the bridge's taps and the bridge.
func teardownBridge(n host.Net, bridge string) (warnings []string, err error) {
	_, members, err := bridgeMembers(n, bridge)
	if errors.Is(err, unix.ENXIO) {
		return []string{fmt.Sprintf("bridge %s does not exist; nothing to remove", bridge)}, nil
	}
	if err != nil {
		return nil, err
	}
	var errs []error
	taps := 0
	for _, m := range members {
		if m.Kind != KindTap {
			warnings = append(warnings, fmt.Sprintf("%s is a member of %s but not a tap; it is released, not destroyed", m.Name, bridge))
			continue
		}
		taps++
		errs = append(errs, n.DeleteMember(bridge, m.Name), n.DestroyInterface(m.Name))
	}
	if taps == 0 {
		warnings = append(warnings, fmt.Sprintf("no tap interface found on %s", bridge))
	}
	errs = append(errs, n.DestroyInterface(bridge))
	return warnings, errors.Join(errs...)
}

// bridgeMembers describes the named bridge and its members, from one
// listing of the interfaces. ENXIO when there is no such interface; an
// error saying what to do when it is not a bridge.
func bridgeMembers(n host.Net, bridge string) (host.Interface, []host.Interface, error) {
	all, err := n.Interfaces()
	if err != nil {
		return host.Interface{}, nil, err
	}
	return membersIn(n, bridge, all)
}

// membersIn is bridgeMembers with a listing of the interfaces.
func membersIn(n host.Net, bridge string, all []host.Interface) (host.Interface, []host.Interface, error) {
	byName := make(map[string]host.Interface, len(all))
	for _, i := range all {
		byName[i.Name] = i
	}
	info, ok := byName[bridge]
	if !ok {
		return info, nil, errNoInterface(bridge)
	}
	if info.Kind != KindBridge {
		return info, nil, fmt.Errorf("%s exists but is not a bridge: it is a %s interface; destroy it or rename it", bridge, info.Kind)
	}
	list, err := n.Members(bridge)
	if err != nil {
		return info, nil, err
	}
	members := make([]host.Interface, 0, len(list))
	for _, name := range list {
		m, ok := byName[name]
		if !ok {
			return info, nil, fmt.Errorf("member of bridge %s: %w", bridge, errNoInterface(name))
		}
		members = append(members, m)
	}
	return info, members, nil
}
