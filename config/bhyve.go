package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// Bhyve is bhyve.conf, the guest's virtual machine.
type Bhyve struct {
	CPUs        int             // cpus [1]
	Memory      string          // memory [128M], as bhyve -m takes it
	Console     bool            // console [no]
	Passthru    []host.Selector // passthru [""], domain 0
	Priority    int             // priority [50], 0 (highest) to 99 (lowest)
	StopWaitMax int             // stop_wait_max [10], seconds
	// Program is bhyve [""]: the absolute path of the bhyve(8) to run,
	// "" for the base system's (host.Paths.Bhyve).
	Program string
}

// MaxStopWait is the largest stop_wait_max.
const MaxStopWait = 60

// StopWait gives how long a guest asked to power off has before it is
// forced off.
func (b Bhyve) StopWait() time.Duration { return time.Duration(b.StopWaitMax) * time.Second }

// LoadBhyve reads bhyve.conf at path. maxCPU is sysctl hw.vmm.maxcpu, or 0
// when unknown: then cpus is only checked to be at least 1. It gives
// warnings for the names the file does not know; a missing file is an
// ErrMissing error, anything wrong with it an ErrInvalid one.
func LoadBhyve(path string, maxCPU int) (Bhyve, []string, error) {
	file, as, err := load(path)
	if err != nil {
		return Bhyve{}, nil, err
	}
	return newBhyve(file, as, maxCPU)
}

// newBhyve validates the assignments of bhyve.conf, which file names, the
// way the shell implementation's load_bhyve_conf_values does.
func newBhyve(file string, as Assignments, maxCPU int) (Bhyve, []string, error) {
	s, warnings := newSettings(file, as, "cpus", "memory", "console", "passthru", "priority", "stop_wait_max", "bhyve")
	var b Bhyve
	var err error
	maxCPUs := maxCPU
	if maxCPUs <= 0 {
		maxCPUs = math.MaxInt
	}
	if b.CPUs, err = s.integer("cpus", "1", 1, maxCPUs); err != nil {
		return Bhyve{}, warnings, err
	}
	if b.Memory, err = s.memory(); err != nil {
		return Bhyve{}, warnings, err
	}
	if b.Passthru, err = s.passthru(); err != nil {
		return Bhyve{}, warnings, err
	}
	console, err := s.choice("console", "no", false, "yes", "no")
	if err != nil {
		return Bhyve{}, warnings, err
	}
	b.Console = console == 0
	if b.Priority, err = s.integer("priority", "50", 0, 99); err != nil {
		return Bhyve{}, warnings, err
	}
	if b.StopWaitMax, err = s.integer("stop_wait_max", "10", 1, MaxStopWait); err != nil {
		return Bhyve{}, warnings, err
	}
	if b.Program, err = s.program(); err != nil {
		return Bhyve{}, warnings, err
	}
	return b, warnings, nil
}

// program gives the value of bhyve: empty, or an absolute path without
// "." or ".." components or repeated slashes.
func (s settings) program() (string, error) {
	v, at := s.get("bhyve", "")
	if v == "" {
		return "", nil
	}
	if !filepath.IsAbs(v) || filepath.Clean(v) != v {
		return "", malformed(at, "bhyve", v, "absolute path of bhyve(8), such as /usr/sbin/bhyve")
	}
	return v, nil
}

// ProgramPath gives the bhyve(8) to run on the host of p: the one bhyve=
// names, once it is found fit to run as root (a regular, executable file
// owned by root or the running user and writable by neither group nor
// others, as configuration files are checked), or else the base
// system's.
func (b Bhyve) ProgramPath(p host.Paths) (string, error) {
	if b.Program == "" {
		return p.Bhyve, nil
	}
	path := filepath.Join(p.Root, b.Program)
	at := Pos{File: "bhyve.conf"}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", invalid(at, "bhyve=%s cannot be run: %v; install bhyve there, or remove the bhyve line to run the base system's",
			b.Program, runfile.Cause(err))
	case !fi.Mode().IsRegular():
		return "", invalid(at, "bhyve=%s is %s, not a regular file", b.Program, runfile.TypeName(fi.Mode()))
	case fi.Mode().Perm()&0o111 == 0:
		return "", invalid(at, "bhyve=%s is not executable (mode %04o); fix it with: chmod 555 %[1]s", b.Program, fi.Mode().Perm())
	}
	if why, fix := runfile.Unsafe(fi, os.Getuid()); why != "" {
		return "", &Error{Kind: ErrUnsafe, Pos: at,
			Msg: fmt.Sprintf("refusing to run bhyve=%s: %s, so others could make wifibox run anything as root; fix it with: %s %[1]s", b.Program, why, fix)}
	}
	return path, nil
}

// memory gives the value of memory as bhyve -m takes it: a number of bytes
// with an optional unit, whose size fits the 64 bits bhyve reads it into.
func (s settings) memory() (string, error) {
	t, err := s.wellformed("memory", "128M", memorySyntax, "non-negative integer, suffixed with unit: K, M, G, T")
	if err != nil {
		return "", err
	}
	digits, shift := t, 0
	if unit := strings.IndexByte("KkMmGgTt", t[len(t)-1]); unit >= 0 {
		digits, shift = t[:len(t)-1], 10*(unit/2+1)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > math.MaxUint64>>shift {
		v, at := s.get("memory", "")
		return "", invalid(at, "memory is too large: %s, more than 2^64 bytes", clip(v))
	}
	return t, nil
}

var bsfSyntax = regexp.MustCompile(`^([0-9]{1,3})/([0-9]{1,3})/([0-9]{1,3})$`)

// passthru gives the devices of passthru: space-separated
// bus/slot/function triples.
func (s settings) passthru() ([]host.Selector, error) {
	v, at := s.get("passthru", "")
	var sels []host.Selector
	for _, bsf := range strings.FieldsFunc(v, isSpace) {
		m := bsfSyntax.FindStringSubmatch(bsf)
		if m == nil {
			return nil, malformed(at, "passthru", v, "list of bus/slot/function, triples of non-negative integers")
		}
		var n [3]int
		for i, part := range []struct {
			name string
			max  int
		}{{"bus", 255}, {"slot", 31}, {"function", 7}} {
			n[i], _ = strconv.Atoi(m[i+1]) // at most 3 digits
			if n[i] > part.max {
				return nil, invalid(at, "passthru device %s: %s should be in between 0 and %d: %s", bsf, part.name, part.max, m[i+1])
			}
		}
		sel := host.Selector{Bus: uint8(n[0]), Slot: uint8(n[1]), Function: uint8(n[2])}
		for _, seen := range sels {
			if seen == sel {
				return nil, invalid(at, "passthru device %s is listed twice", bsf)
			}
		}
		sels = append(sels, sel)
	}
	return sels, nil
}

func isSpace(r rune) bool { return strings.ContainsRune(space, r) }
