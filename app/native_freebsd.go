//go:build freebsd

package app

import (
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/ifnet"
	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/launch"
	"github.com/wifibox/wifibox/ppt"
	"github.com/wifibox/wifibox/procs"
	"github.com/wifibox/wifibox/sys"
	"github.com/wifibox/wifibox/vmmapi"
)

// nativeHost is the FreeBSD kernel, reached through system calls, ioctls
// and libvmmapi.
func nativeHost() (*host.Host, error) {
	paths := host.DefaultPaths("/")
	native := sys.Native()
	net, err := ifnet.New(native)
	if err != nil {
		return nil, err
	}
	return &host.Host{
		Kernel:   kmod.New(native),
		VMs:      vmmapi.New(vmmapi.Config{Paths: paths}),
		PCI:      ppt.New(sys.Native()),
		Net:      net,
		Launcher: &launch.Launcher{Sys: native},
		Procs:    procs.New(native),
		Paths:    paths,
	}, nil
}
