package ppt

import "testing"

func TestNativeModule(t *testing.T) {
	for driver, want := range map[string]string{
		"iwlwifi": "if_iwlwifi", "iwm": "if_iwm", "iwn": "if_iwn",
		"ath": "if_ath_pci", "rtwn": "if_rtwn_pci", "rtw88": "if_rtw88",
	} {
		if got := NativeModule(driver); got != want {
			t.Errorf("NativeModule(%q) = %q, want %q", driver, got, want)
		}
	}
}
