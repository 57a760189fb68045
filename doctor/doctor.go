// Package doctor owns `wifibox doctor`: it checks, without changing
// anything on the host, whether wifibox can run there, in the order a user
// would fix what it finds: CPU virtualization (vmm), the IOMMU, bhyve and
// its virtio-9p, the UEFI firmware, the guest images, the configuration
// files, the passthru devices and the native drivers that would take them
// back, the host's rc.conf against wifibox0, and the log file. It only reads:
// files, and the host seam's queries (Module, SysctlInt/String, Devices,
// Emulations); it loads, binds and creates nothing.
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
// finding is a FAIL.
package doctor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wifibox/wifibox/host"
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
	Status Status
	What   string // what was checked: "IOMMU", "guest image esp.img"
	Detail string // what was found; the problem for WARN and FAIL
	Fix    string // the exact fix for WARN and FAIL; may be empty for WARN
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

// Run checks the host, prints every finding to w and tells whether the
// host is fit to run wifibox: no finding is a FAIL.
func Run(h *host.Host, w io.Writer) (ok bool) {
	findings := Check(h)
	for _, f := range findings {
		fmt.Fprintln(w, f)
	}
	return Fit(findings)
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
func Checksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
