package app

import (
	"errors"
	"flag"
	"io"
	"os"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/internal/tty"
	"github.com/wifibox/wifibox/setup"
)

// setup is `wifibox setup [--yes] [--device SEL] | --undo`; -n prints the
// changes and makes none. It asks on standard input when that is a
// terminal.
func (c *command) setup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := setup.Options{DryRun: c.dry, In: os.Stdin, Out: c.stdout}
	fs.BoolVar(&o.Yes, "yes", false, "")
	fs.StringVar(&o.Device, "device", "", "")
	fs.BoolVar(&o.Undo, "undo", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || o.Undo && (o.Yes || o.Device != "") {
		return failure.New(failure.Usage, errors.New("usage: wifibox [-n] setup [--yes] [--device SEL] | --undo"))
	}
	_, err := tty.Get(int(os.Stdin.Fd()), "standard input")
	o.Ask = err == nil
	return setup.Run(c.host, o)
}
