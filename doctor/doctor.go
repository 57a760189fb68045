// Package doctor owns `wifibox doctor`: it checks, without changing
// anything on the host, whether wifibox can run there, in the order a user
// would fix what it finds: a guest the shell implementation still runs
// (reported only when it does), CPU virtualization (vmm), the IOMMU (before
// vmm is loaded, from the CPU's vendor and loader.conf), bhyve and its
// virtio-9p, the UEFI firmware, the guest images, the configuration files
// and app_config, the passthru devices and the native drivers that would
// take them back, the host's rc.conf (read as rc(8) reads it) against
// wifibox0 and the guest's network, other VMs, the devd suspend hook, and
// the log file. It only reads: files, and the host seam's queries (Module,
// SysctlInt/String, Devices, Emulations, Processes); it loads, binds and
// creates nothing.
//
// Each finding is printed as one line, a status padded to four characters
// and a space, then what was checked, and for problems a colon and the
// problem:
//
//	OK   CPU virtualization: vmm is loaded, hw.vmm.maxcpu=16
//	WARN native driver of pci0:3:0:0 (3/0/0): iwlwifi0 holds the device ...
//	FAIL IOMMU: not enabled (hw.vmm.iommu.enable=0), PCI pass-through cannot work
//	SKIP bhyve virtio-9p: bhyve cannot run (see above)
//
// followed, for WARN and FAIL, by a line `     fix: ` giving the exact fix.
// Further lines of a problem or a fix (an error listing devices, rc.conf
// lines to add) are indented to line up with the text above them. FAIL is a
// problem that stops wifibox from working; WARN one that wifibox works
// despite, for now (a native driver not blocklisted, no address for
// wifibox0); SKIP a check that needs what an earlier one found missing, or
// that can only be made once wifibox has started. The host is fit when no
// finding is a FAIL. -q prints the WARN and FAIL findings only, --json all
// of them as one object (Report).
package doctor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// Status is how a check ended.
type Status string

// The statuses of a finding, as printed.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Finding is the result of one check.
type Finding struct {
	Status Status `json:"status"`
	What   string `json:"check"`  // what was checked: "IOMMU", "guest image esp.img"
	Detail string `json:"detail"` // what was found; the problem for WARN and FAIL
	Fix    string `json:"fix"`    // the exact fix for WARN and FAIL; may be empty for WARN
}

// The indentation of a finding's further lines and of its fix's further
// lines: below the text after the status, and after "fix: ".
const (
	indent    = "     "
	fixIndent = indent + "     "
)

// String gives the finding as doctor prints it, without a final newline.
func (f Finding) String() string {
	line := f.What
	if f.Detail != "" {
		line += ": " + f.Detail
	}
	s := fmt.Sprintf("%-4s %s", f.Status, indentLines(line, indent))
	if f.Fix != "" {
		s += "\n" + indent + "fix: " + indentLines(f.Fix, fixIndent)
	}
	return s
}

func indentLines(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// Format is how Run prints the findings.
type Format int

// The formats of `wifibox doctor`, `doctor -q` and `doctor --json`.
const (
	All      Format = iota // every finding, one a line
	Problems               // the WARN and FAIL findings only
	JSON                   // one JSON object, see Report
)

// Report is `wifibox doctor --json`: whether the host is fit, and every
// finding in order; fix is "" where there is none.
type Report struct {
	Fit      bool      `json:"fit"`
	Findings []Finding `json:"findings"`
}

// Run checks the host, prints the findings to w in the format and tells
// whether the host is fit to run wifibox: no finding is a FAIL.
func Run(h *host.Host, w io.Writer, format Format) (ok bool) {
	findings := Check(h)
	ok = Fit(findings)
	if format == JSON {
		data, _ := json.MarshalIndent(Report{Fit: ok, Findings: findings}, "", "  ")
		fmt.Fprintf(w, "%s\n", data)
		return ok
	}
	for _, f := range findings {
		if format == All || f.Status == Warn || f.Status == Fail {
			fmt.Fprintln(w, f)
		}
	}
	return ok
}

// Fit tells whether no finding is a FAIL.
func Fit(findings []Finding) bool {
	for _, f := range findings {
		if f.Status == Fail {
			return false
		}
	}
	return true
}

// Checksum gives the SHA-256 of a file in hex, as sha256(1) -q prints it:
// the guest images' checksums of `wifibox version` and doctor.
// Only a regular file is read: opening does not wait on a FIFO in its
// place.
func Checksum(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is %s, not a regular file", path, runfile.TypeName(fi.Mode()))
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err // read PATH: the cause
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
