package conformance

import "github.com/wifibox/wifibox/sys"

func native() sys.Sys { return sys.Native() }
