package suggest

import "testing"

// TestNearest: a typo, a beginning or a word in other case names the
// word meant; a word near none names none.
func TestNearest(t *testing.T) {
	commands := []string{"start", "stop", "restart", "status", "console", "version", "doctor", "log", "suspend", "resume", "help"}
	for word, want := range map[string]string{
		"statsu":  "status", // two letters swapped
		"stat":    "status", // a beginning
		"strat":   "start",
		"stpo":    "stop",
		"docter":  "doctor",
		"console": "console",
		"lo":      "log",
		"STATUS":  "status", // in capitals
		"Stop":    "stop",
		"xyz":     "",
		"s":       "",
		"":        "",
	} {
		if got := Nearest(word, commands); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", word, got, want)
		}
	}
	options := []string{"-v", "--json"}
	for word, want := range map[string]string{"--v": "-v", "-json": "--json", "--jsno": "--json", "-x": ""} {
		if got := Nearest(word, options); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "abc", 0}, {"", "abc", 3}, {"statsu", "status", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
