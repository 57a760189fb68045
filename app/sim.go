//go:build !nosim

package app

import "github.com/wifibox/wifibox/sim"

// The simulated host is built in: the tests, the demo and the benchmarks
// run wifibox against it.
func init() {
	globalOptions = append(globalOptions, "-S")
	globalSynopsis += " [-S DIR]"
	simulator = &simHooks{
		help: commandHelp{"sim", "init|legacy|netif-stop|netif-start DIR", nil, 2,
			"init: create a simulated FreeBSD host in DIR, for trying wifibox out and\n" +
				"testing it without bhyve or a Wi-Fi card; -S DIR acts on it. legacy: run\n" +
				"a guest there the way the shell implementation does, to try an upgrade.\n" +
				"netif-stop, netif-start: do there what `service netif stop` and `start` do."},
		env:          "WIFIBOX_SIMULATE",
		bhyveCommand: sim.BhyveCommand,
		legacyEnv:    sim.LegacyEnv,
		legacyMain:   sim.LegacyMain,
		open:         sim.Open,
		bhyve:        sim.BhyveMain,
		setups: map[string]simSetup{
			"init":   {sim.Init, "Simulated FreeBSD host created in %s"},
			"legacy": {sim.Legacy, "The shell implementation's guest runs on the simulated host in %s"},
			// What `service netif stop` and `start` do, done to the host.
			"netif-stop":  {sim.NetifStop, "service netif stop done on the simulated host in %s"},
			"netif-start": {sim.NetifStart, "service netif start done on the simulated host in %s"},
		},
	}
}
