package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// UDSPassthru is appliance/uds_passthru.conf: the Unix domain sockets on the
// host relayed to TCP ports of the guest.
type UDSPassthru struct {
	// GuestIP is the guest's address from network=IP:NETMASK; the zero
	// Addr when network is empty: then it is the default route's gateway
	// via wifibox0.
	GuestIP netip.Addr
	// Netmask is the NETMASK of network; the zero Addr when not given.
	Netmask netip.Addr
	Sockets []Socket // sockets [""]
	// SocketsAt is where the value of sockets starts, for the messages
	// about its entries.
	SocketsAt   Pos
	MaxSessions int // max_sessions [16] (ours): attached clients at once per socket
}

// Socket is one entry of sockets: path=P,user=U,group=G,mode=M,port=N.
type Socket struct {
	Path  string      // absolute
	User  string      // a name or a number, as given
	Group string      // a name or a number, as given
	Mode  fs.FileMode // permission bits
	Port  int         // the guest's TCP port, 1 to 65535
}

// WithoutRelay tells what a uds_passthru.conf that cannot be used means.
const WithoutRelay = "the guest runs without the control-socket pass-through until it is fixed"

// LoadUDSPassthru reads uds_passthru.conf at path, which is optional: when
// the file does not exist it gives the defaults and false. It gives
// warnings for the names the file does not know; anything wrong with the
// file is an ErrInvalid error.
func LoadUDSPassthru(path string) (UDSPassthru, bool, []string, error) {
	file, as, err := load(path)
	if errors.Is(err, ErrMissing) {
		u, _, err := newUDSPassthru(file, nil)
		return u, false, nil, err
	}
	if err != nil {
		return UDSPassthru{}, true, nil, err
	}
	u, warnings, err := newUDSPassthru(file, as)
	return u, true, warnings, err
}

// newUDSPassthru validates the assignments of uds_passthru.conf, which file
// names.
func newUDSPassthru(file string, as Assignments) (UDSPassthru, []string, error) {
	s, warnings := newSettings(file, as, "network", "sockets", "max_sessions")
	var u UDSPassthru
	var err error
	if u.GuestIP, u.Netmask, err = s.network(); err != nil {
		return UDSPassthru{}, warnings, err
	}
	_, u.SocketsAt = s.get("sockets", "")
	if u.Sockets, err = s.sockets(); err != nil {
		return UDSPassthru{}, warnings, err
	}
	if u.MaxSessions, err = s.integer("max_sessions", "16", 1, 1024); err != nil {
		return UDSPassthru{}, warnings, err
	}
	return u, warnings, nil
}

// network gives the IPv4 address and the optional netmask of
// network=IP:NETMASK.
func (s settings) network() (ip, mask netip.Addr, err error) {
	v, at := s.get("network", "")
	t := strings.Trim(v, space)
	if t == "" {
		return netip.Addr{}, netip.Addr{}, nil
	}
	bad := malformed(at, "network", v, "IPv4 address and netmask, e.g. 10.0.0.1:255.255.255.0")
	addr, maskText, hasMask := strings.Cut(t, ":")
	ip, err = netip.ParseAddr(addr)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, netip.Addr{}, bad
	}
	if !hasMask {
		return ip, netip.Addr{}, nil
	}
	mask, err = netip.ParseAddr(maskText)
	if err != nil || !mask.Is4() || !isNetmask(mask) {
		return netip.Addr{}, netip.Addr{}, bad
	}
	return ip, mask, nil
}

// isNetmask tells whether the address is a netmask: ones, then zeros.
func isNetmask(a netip.Addr) bool {
	b := a.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return n&(^n>>1) == 0 // no zero bit followed by a one bit
}

// socketKeys are the keys of a sockets entry, all required.
var socketKeys = []string{"path", "user", "group", "mode", "port"}

var modeSyntax = regexp.MustCompile(`^[0-7]{1,4}$`)

// sockets gives the entries of sockets, separated by space or newlines.
func (s settings) sockets() ([]Socket, error) {
	v, at := s.get("sockets", "")
	var socks []Socket
	for _, entry := range strings.FieldsFunc(v, isSpace) {
		sock, err := parseSocket(entry)
		if err != nil {
			return nil, invalid(at, "sockets entry %q: %s", clip(entry), err)
		}
		for _, seen := range socks {
			if seen.Path == sock.Path {
				return nil, invalid(at, "sockets entry %q: path %s is listed twice", clip(entry), sock.Path)
			}
		}
		socks = append(socks, sock)
	}
	return socks, nil
}

// parseSocket parses one sockets entry, path=P,user=U,group=G,mode=M,port=N
// with the keys in any order.
func parseSocket(entry string) (Socket, error) {
	kv := map[string]string{}
	for _, field := range strings.Split(entry, ",") {
		k, v, ok := strings.Cut(field, "=")
		switch {
		case !ok:
			return Socket{}, fmt.Errorf("%q is not key=value", clip(field))
		case !contains(socketKeys, k):
			return Socket{}, fmt.Errorf("unknown key %q, expected: %s", clip(k), strings.Join(socketKeys, ", "))
		case kv[k] != "":
			return Socket{}, fmt.Errorf("%s is given twice", k)
		case v == "":
			return Socket{}, fmt.Errorf("%s is empty", k)
		}
		kv[k] = v
	}
	for _, k := range socketKeys {
		if kv[k] == "" {
			return Socket{}, fmt.Errorf("%s is missing", k)
		}
	}
	if path := kv["path"]; !strings.HasPrefix(path, "/") {
		return Socket{}, fmt.Errorf("path should be absolute: %s", clip(path))
	} else if path == "/" {
		return Socket{}, errors.New("path should name a socket, not /")
	} else if path != filepath.Clean(path) {
		return Socket{}, fmt.Errorf(`path should be clean, with no "." or ".." component, no "//" and no trailing "/": %s`, clip(path))
	}
	mode, err := strconv.ParseUint(kv["mode"], 8, 32)
	if !modeSyntax.MatchString(kv["mode"]) || err != nil || mode > 0o777 {
		return Socket{}, fmt.Errorf("mode should be octal permissions such as 770 or 0660: %s", clip(kv["mode"]))
	}
	port, err := strconv.Atoi(kv["port"])
	if !integerSyntax.MatchString(kv["port"]) || err != nil || port < 1 || port > 65535 {
		return Socket{}, fmt.Errorf("port should be in between 1 and 65535: %s", clip(kv["port"]))
	}
	return Socket{Path: kv["path"], User: kv["user"], Group: kv["group"], Mode: fs.FileMode(mode), Port: port}, nil
}
