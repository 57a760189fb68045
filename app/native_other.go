//go:build !freebsd

package app

import (
	"errors"

	"github.com/wifibox/wifibox/host"
)

// nativeHost: wifibox manages FreeBSD hosts; elsewhere only simulated ones.
func nativeHost() (*host.Host, error) {
	return nil, errors.New("wifibox manages a FreeBSD host; on this system use -S DIR " +
		"(or WIFIBOX_SIMULATE=DIR) with a simulated host made by `wifibox sim init DIR`")
}
