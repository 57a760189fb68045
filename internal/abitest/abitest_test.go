package abitest

import "testing"

func TestFactsLoad(t *testing.T) {
	facts := Facts(t)
	if got := facts["sizeof.ifreq"]; got != 32 {
		t.Errorf("sizeof.ifreq = %d, want 32", got)
	}
	Check(t, map[string]int64{"BRDGGIFS": 6, "sys.ioctl": 54})
}
