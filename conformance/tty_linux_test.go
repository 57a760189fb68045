package conformance

import (
	"os"
	"testing"

	"github.com/wifibox/wifibox/internal/tty"
)

// terminalPair opens the stand-in for an nmdm(4) pair on Linux, where the
// simulated host runs: a pseudo-terminal, the console's side its terminal.
func terminalPair(t *testing.T) (console, peer *os.File, name string) {
	t.Helper()
	master, slave, path, err := tty.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return slave, master, path
}
