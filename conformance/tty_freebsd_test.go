//go:build freebsd

package conformance

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// terminalPair opens both sides of an nmdm(4) pair, as bhyve (-l
// com1,/dev/nmdmNAME1A) and wifibox console (the B side) do: opening
// /dev/nmdmNAMEA makes the pair (nmdm_clone); nmdm must be loaded.
func terminalPair(t *testing.T) (console, peer *os.File, name string) {
	t.Helper()
	if !real() {
		t.Skip("FreeBSD's terminals are tested on its kernel (WIFIBOX_CONFORMANCE=1)")
	}
	if _, err := native().Modfind("nmdm"); err != nil {
		t.Skipf("nmdm is not loaded (modfind: %v)", err)
	}
	base := fmt.Sprintf("/dev/nmdm%s", unique("wbconf"))
	a, err := os.OpenFile(base+"A", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(base+"B", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return b, a, base + "B"
}
