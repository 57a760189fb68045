package abi

import (
	"testing"
	"unsafe"

	"github.com/wifibox/wifibox/internal/abitest"
)

func TestKld(t *testing.T) {
	var s KldFileStat
	abitest.Check(t, map[string]int64{
		"MAXPATHLEN":                      MAXPATHLEN,
		"sizeof.kld_file_stat":            int64(SizeofKldFileStat),
		"sizeof.kld_file_stat_1":          int64(SizeofKldFileStat1),
		"offsetof.kld_file_stat.version":  int64(unsafe.Offsetof(s.Version)),
		"offsetof.kld_file_stat.name":     int64(unsafe.Offsetof(s.Name)),
		"offsetof.kld_file_stat.refs":     int64(unsafe.Offsetof(s.Refs)),
		"offsetof.kld_file_stat.id":       int64(unsafe.Offsetof(s.Id)),
		"offsetof.kld_file_stat.address":  int64(unsafe.Offsetof(s.Address)),
		"offsetof.kld_file_stat.size":     int64(unsafe.Offsetof(s.Size)),
		"offsetof.kld_file_stat.pathname": int64(unsafe.Offsetof(s.Pathname)),
	})
}
