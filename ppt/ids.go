package ppt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// IDs names PCI vendors and devices. The zero value, and a nil *IDs, know
// no names.
type IDs struct {
	vendors map[uint16]*vendorIDs
}

type vendorIDs struct {
	name    string
	devices map[uint16]string
}

// LoadIDs reads a PCI ID database. A file that does not exist gives a
// database without names: they are a courtesy, not a need.
func LoadIDs(path string) (*IDs, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &IDs{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read PCI ID database: %w", err)
	}
	defer f.Close()
	ids, err := ParseIDs(f)
	if err != nil {
		return nil, fmt.Errorf("read PCI ID database %s: %w", path, err)
	}
	return ids, nil
}

// ParseIDs reads the pci.ids format: a vendor line "8086  Intel
// Corporation", then its devices each on a line with one tab
// "\t2723  Wi-Fi 6 AX200", subsystem lines with two tabs (skipped), '#'
// comments, and from the first class line ("C 02  Network controller") on,
// the class list (skipped).
func ParseIDs(r io.Reader) (*IDs, error) {
	ids := &IDs{vendors: map[uint16]*vendorIDs{}}
	var cur *vendorIDs
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || line[0] == '#' || strings.HasPrefix(line, "\t\t"):
		case strings.HasPrefix(line, "C "):
			return ids, nil
		case line[0] == '\t':
			id, name, ok := idLine(line[1:])
			if ok && cur != nil {
				cur.devices[id] = name
			}
		default:
			id, name, ok := idLine(line)
			if !ok {
				cur = nil
				continue
			}
			cur = &vendorIDs{name: name, devices: map[uint16]string{}}
			ids.vendors[id] = cur
		}
	}
	return ids, sc.Err()
}

// idLine splits "2723  Wi-Fi 6 AX200" into its hexadecimal ID and name.
func idLine(s string) (uint16, string, bool) {
	hex, name, ok := strings.Cut(s, " ")
	if !ok || len(hex) != 4 {
		return 0, "", false
	}
	id, err := strconv.ParseUint(hex, 16, 16)
	if err != nil {
		return 0, "", false
	}
	return uint16(id), strings.TrimSpace(name), true
}

// Name gives the vendor's and the device's names, "" for what the database
// does not know.
func (ids *IDs) Name(vendor, device uint16) (string, string) {
	if ids == nil {
		return "", ""
	}
	v, ok := ids.vendors[vendor]
	if !ok {
		return "", ""
	}
	return v.name, v.devices[device]
}
