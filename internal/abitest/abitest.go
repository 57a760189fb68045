// Package abitest checks Go definitions of FreeBSD's ABI against the facts
// the project keeps in testdata/freebsd-abi.json (ioctl and syscall numbers,
// struct sizes and field offsets read from FreeBSD's headers). Tests of the
// packages that encode ioctl and syscall arguments call Check with the values
// their Go code uses, under the names the JSON file gives them.
package abitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Facts loads testdata/freebsd-abi.json from the module's root directory.
func Facts(t testing.TB) map[string]int64 {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("abitest: no go.mod above the test's directory")
		}
		dir = parent
	}
	data, err := os.ReadFile(filepath.Join(dir, "testdata", "freebsd-abi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("abitest: testdata/freebsd-abi.json: %v", err)
	}
	facts := make(map[string]int64, len(raw))
	for name, msg := range raw {
		// An entry is a number, or {"value": N, "header": "sys/..."}
		// for a fact the project read from FreeBSD's source itself.
		var entry struct {
			Value  *int64 `json:"value"`
			Header string `json:"header"`
		}
		var n int64
		if err := json.Unmarshal(msg, &n); err == nil {
			facts[name] = n
			continue
		}
		if err := json.Unmarshal(msg, &entry); err != nil || entry.Value == nil || entry.Header == "" {
			t.Fatalf("abitest: testdata/freebsd-abi.json: %s: want a number or {\"value\": N, \"header\": \"...\"}", name)
		}
		facts[name] = *entry.Value
	}
	return facts
}

// Check compares each Go value with the fact of the same name. A name the
// file lacks is a failure too: every value a test checks must be pinned.
func Check(t testing.TB, got map[string]int64) {
	t.Helper()
	facts := Facts(t)
	names := make([]string, 0, len(got))
	for name := range got {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, ok := facts[name]
		switch {
		case !ok:
			t.Errorf("%s: not in testdata/freebsd-abi.json", name)
		case got[name] != want:
			t.Errorf("%s = %d (%#x), FreeBSD has %d (%#x)", name, got[name], got[name], want, want)
		}
	}
}
