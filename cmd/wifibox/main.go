// Command wifibox runs a Linux guest under bhyve(8) that drives the host's
// Wi-Fi card through PCI pass-through and exposes its network as the
// wifibox0 bridge. See wifibox(8).
package main

import (
	"os"

	"github.com/wifibox/wifibox/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
