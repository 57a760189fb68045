package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDryRun: `wifibox -n CMD` prints the operations CMD then performs, in
// order, and changes nothing.
func TestDryRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup [][]string
		args  []string
	}{
		{"start cold", nil, []string{"start"}},
		{"start guest", [][]string{{"start"}, {"stop", "guest"}}, []string{"start", "guest"}},
		{"start vmm", [][]string{{"start"}, {"stop", "vmm"}}, []string{"start", "vmm"}},
		{"stop", [][]string{{"start"}}, []string{"stop"}},
		{"stop vmm", [][]string{{"start"}}, []string{"stop", "vmm"}},
		{"restart", [][]string{{"start"}}, []string{"restart"}},
		{"restart guest", [][]string{{"start"}}, []string{"restart", "guest"}},
		{"restart vmm", [][]string{{"start"}}, []string{"restart", "vmm"}},
		{"resume", [][]string{{"start"}}, []string{"resume"}},
		{"repair after a killed manager", [][]string{{"start"}, {"__kill-manager"}}, []string{"start"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			for _, args := range tc.setup {
				if args[0] == "__kill-manager" {
					killAndWait(t, h.managerPID())
					continue
				}
				h.must(args...)
			}
			state := func() []byte {
				data, err := os.ReadFile(filepath.Join(h.dir, "sim/state.json"))
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			before, traced := state(), len(h.trace())
			out := h.must(append([]string{"-n"}, tc.args...)...)
			if !bytes.Equal(before, state()) || len(h.trace()) != traced {
				t.Fatalf("the dry run changed the host")
			}
			var shown []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					shown = append(shown, line)
				}
			}
			h.must(tc.args...)
			if diff := cmp.Diff(h.trace()[traced:], shown); diff != "" {
				t.Errorf("dry run (-performed +shown):\n%s", diff)
			}
		})
	}
}
