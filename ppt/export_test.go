package ppt

import (
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/sys"
)

// NewPaged is New with at most perCall entries a PCIOCGETCONF call.
func NewPaged(s sys.Sys, perCall int) host.PCI { return &kernel{sys: s, perCall: perCall} }
