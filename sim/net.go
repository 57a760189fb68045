package sim

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/host"
)

// ifNameSize is IFNAMSIZ, the size of an interface name with its NUL.
const ifNameSize = 16

// ifnet is a network interface.
type ifnet struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Up   bool   `json:"up"`
	// Cloner and Unit tell the cloner that created the interface and the
	// unit it holds until the interface is destroyed, renamed or not;
	// Cloner is empty for an interface that is not cloned.
	Cloner  string   `json:"cloner,omitempty"`
	Unit    int      `json:"unit,omitempty"`
	Members []string `json:"members,omitempty"` // of a bridge, in the order added
}

func (t *txn) iface(name string) *ifnet {
	for _, i := range t.st.Interfaces {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// bridge gives the named bridge: ENXIO when there is no such interface,
// EINVAL when it is not a bridge.
func (t *txn) bridge(name string) (*ifnet, error) {
	b := t.iface(name)
	if b == nil {
		return nil, unix.ENXIO
	}
	if b.Kind != "bridge" {
		return nil, unix.EINVAL
	}
	return b, nil
}

// CreateInterface clones a tap (always possible: if_tuntap is built in) or
// a bridge (needs if_bridge) with the lowest free unit.
func (s *system) CreateInterface(kind string) (string, error) {
	var name string
	err := s.run("if_create "+kind, privileged, func(t *txn) error {
		if kind != "tap" && (kind != "bridge" || !t.present("if_bridge")) {
			return unix.EINVAL
		}
		for unit := 0; ; unit++ {
			name = fmt.Sprintf("%s%d", kind, unit)
			held := slices.ContainsFunc(t.st.Interfaces, func(i *ifnet) bool { return i.Cloner == kind && i.Unit == unit })
			if !held && t.iface(name) == nil {
				t.st.Interfaces = append(t.st.Interfaces, &ifnet{Name: name, Kind: kind, Cloner: kind, Unit: unit})
				t.line += " " + name
				return nil
			}
		}
	})
	if err != nil {
		return "", err
	}
	return name, nil
}

// RenameInterface renames an interface: ENXIO when old does not exist,
// EINVAL for an empty or too long new name, EEXIST when it is taken.
func (s *system) RenameInterface(old, new string) error {
	return s.run(fmt.Sprintf("if_rename %s %s", old, new), privileged, func(t *txn) error {
		i := t.iface(old)
		if i == nil {
			return unix.ENXIO
		}
		if new == "" || len(new) >= ifNameSize {
			return unix.EINVAL
		}
		if new == old {
			return nil
		}
		if t.iface(new) != nil {
			return unix.EEXIST
		}
		i.Name = new
		for _, b := range t.st.Interfaces {
			if n := slices.Index(b.Members, old); n >= 0 {
				b.Members[n] = new
			}
		}
		return nil
	})
}

// DestroyInterface destroys a cloned interface: ENXIO when it does not
// exist, EINVAL when it is not cloned. A member leaves its bridge.
func (s *system) DestroyInterface(name string) error {
	return s.run("if_destroy "+name, privileged, func(t *txn) error {
		i := t.iface(name)
		if i == nil {
			return unix.ENXIO
		}
		if i.Cloner == "" {
			return unix.EINVAL
		}
		for _, b := range t.st.Interfaces {
			b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == name })
		}
		t.st.Interfaces = slices.DeleteFunc(t.st.Interfaces, func(other *ifnet) bool { return other == i })
		return nil
	})
}

// SetUp sets an interface up; ENXIO when it does not exist.
func (s *system) SetUp(name string) error {
	return s.run("if_up "+name, privileged, func(t *txn) error {
		i := t.iface(name)
		if i == nil {
			return unix.ENXIO
		}
		i.Up = true
		return nil
	})
}

func (i *ifnet) describe() host.Interface {
	return host.Interface{Name: i.Name, Kind: i.Kind, Up: i.Up}
}

// Interface describes an interface; ENXIO when it does not exist.
func (s *system) Interface(name string) (host.Interface, error) {
	var desc host.Interface
	err := s.run("ifconfig "+name, query, func(t *txn) error {
		i := t.iface(name)
		if i == nil {
			return unix.ENXIO
		}
		desc = i.describe()
		return nil
	})
	return desc, err
}

// Interfaces lists the interfaces.
func (s *system) Interfaces() ([]host.Interface, error) {
	var list []host.Interface
	err := s.run("ifconfig", query, func(t *txn) error {
		for _, i := range t.st.Interfaces {
			list = append(list, i.describe())
		}
		return nil
	})
	return list, err
}

// AddMember adds an Ethernet-like interface to a bridge (BRDGADD's errors:
// ENOENT no member, EINVAL member unfit, EEXIST already a member, EBUSY
// member of another bridge).
func (s *system) AddMember(bridge, member string) error {
	return s.run(fmt.Sprintf("bridge_add %s %s", bridge, member), privileged, func(t *txn) error {
		b, err := t.bridge(bridge)
		if err != nil {
			return err
		}
		m := t.iface(member)
		if m == nil {
			return unix.ENOENT
		}
		if m == b || (m.Kind != "ether" && m.Kind != "tap") {
			return unix.EINVAL
		}
		if slices.Contains(b.Members, member) {
			return unix.EEXIST
		}
		if slices.ContainsFunc(t.st.Interfaces, func(other *ifnet) bool { return slices.Contains(other.Members, member) }) {
			return unix.EBUSY
		}
		b.Members = append(b.Members, member)
		return nil
	})
}

// DeleteMember removes a member from a bridge; ENOENT when it is none.
func (s *system) DeleteMember(bridge, member string) error {
	return s.run(fmt.Sprintf("bridge_del %s %s", bridge, member), privileged, func(t *txn) error {
		b, err := t.bridge(bridge)
		if err != nil {
			return err
		}
		n := slices.Index(b.Members, member)
		if n < 0 {
			return unix.ENOENT
		}
		b.Members = slices.Delete(b.Members, n, n+1)
		return nil
	})
}

// Members lists a bridge's members; EINVAL when it is not a bridge.
func (s *system) Members(bridge string) ([]string, error) {
	var list []string
	err := s.run("bridge_members "+bridge, query, func(t *txn) error {
		b, err := t.bridge(bridge)
		if err != nil {
			return err
		}
		list = slices.Clone(b.Members)
		return nil
	})
	return list, err
}
