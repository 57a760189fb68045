package sim

import (
	"fmt"
	"os"
)

// BhyveMain runs the simulated bhyve: args are the host's directory and
// bhyve's argv. It returns bhyve's exit status.
func BhyveMain(args []string) int {
	fmt.Fprintln(os.Stderr, "bhyve: not simulated yet")
	return 4
}
