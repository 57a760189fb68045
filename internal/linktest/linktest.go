// Package linktest is for tests: it plants symbolic links where wifibox
// creates or reads a file, and checks that wifibox did not follow them.
package linktest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Check plants at path, in turn, a dangling link and a link to an existing
// file, each time calls use (which should refuse the link), and checks that
// the dangling link's target was not created and the existing file was
// neither changed nor removed. use gets whether the target exists; the
// link is removed after each call.
func Check(t *testing.T, path string, use func(existing bool)) {
	t.Helper()
	for _, existing := range []bool{false, true} {
		target := filepath.Join(t.TempDir(), "target")
		const content = "precious\n"
		if existing {
			if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		use(existing)
		data, err := os.ReadFile(target)
		switch {
		case !existing && !errors.Is(err, os.ErrNotExist):
			t.Errorf("the target of the dangling link %s was created (%v)", path, err)
		case existing && string(data) != content:
			t.Errorf("the target of the link %s was changed: %q, %v", path, data, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}
