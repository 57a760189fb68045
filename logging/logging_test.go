package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/internal/linktest"
)

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

func TestFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	l := New(path, config.LogDebug, nil)
	l.Info("Begin: wifibox start")
	l.Warn("careful")
	l.Error("broken")
	l.Debug("details")
	lines := strings.Split(strings.TrimSpace(read(t, path)), "\n")
	want := []string{"INFO  Begin: wifibox start", "WARN  careful", "ERROR broken", "DEBUG details"}
	if len(lines) != len(want) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), len(want), read(t, path))
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} `)
	for i, line := range lines {
		if !stamp.MatchString(line) {
			t.Errorf("line %q lacks the shell's timestamp", line)
			continue
		}
		if got := stamp.ReplaceAllString(line, ""); got != want[i] {
			t.Errorf("line %d = %q, want %q", i, got, want[i])
		}
	}
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		name       string
		level      config.LogLevel
		file, user []string
	}{
		{"none", config.LogNone, nil, nil},
		{"error", config.LogError, []string{"ERROR e"}, []string{"ERROR: e"}},
		{"warn", config.LogWarn, []string{"ERROR e", "WARN  w"}, []string{"ERROR: e", "WARNING: w"}},
		{"info", config.LogInfo, []string{"ERROR e", "WARN  w", "INFO  i"}, []string{"ERROR: e", "WARNING: w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wifibox.log")
			var user bytes.Buffer
			l := New(path, tc.level, &user)
			l.Error("e")
			l.Warn("w")
			l.Info("i")
			l.Debug("d")
			var file []string
			for _, line := range strings.Split(strings.TrimSpace(read(t, path)), "\n") {
				if line != "" {
					file = append(file, line[strings.Index(line, " ")+1:])
				}
			}
			if strings.Join(file, "|") != strings.Join(tc.file, "|") {
				t.Errorf("file got %q, want %q", file, tc.file)
			}
			want := ""
			for _, line := range tc.user {
				want += line + "\n"
			}
			if got := user.String(); got != want {
				t.Errorf("user got %q, want %q", got, want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wifibox.log")
	l := New(path, config.LogInfo, nil)
	l.Info("before")
	if err := os.Rename(path, path+".0"); err != nil { // what newsyslog does
		t.Fatal(err)
	}
	l.Info("after")
	if got := read(t, path+".0"); !strings.Contains(got, "before") || strings.Contains(got, "after") {
		t.Errorf("rotated file = %q", got)
	}
	if got := read(t, path); !strings.Contains(got, "after") {
		t.Errorf("new file = %q, want the message after rotation", got)
	}
}

func TestUnwritableWarnsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "wifibox.log")
	var user bytes.Buffer
	l := New(path, config.LogInfo, &user)
	l.Info("one")
	l.Info("two")
	if n := strings.Count(user.String(), "is not writeable"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, user.String())
	}
	if n := strings.Count(user.String(), path); n != 1 {
		t.Errorf("the warning names the path %d times, want once:\n%s", n, user.String())
	}
}

// TestLogRefusesLinks: a link planted at the log's path, dangling or to an
// existing file, is not written through: the user is warned instead.
func TestLogRefusesLinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifibox.log")
	linktest.Check(t, path, func(existing bool) {
		var user bytes.Buffer
		New(path, config.LogInfo, &user).Info("hello")
		if !strings.Contains(user.String(), "symbolic link") {
			t.Errorf("target exists %v: the user was told %q", existing, user.String())
		}
	})
}

// TestLogRefusesUnsafeDir: a log directory others can write into is not
// written in; the warning gives the command that fixes it.
func TestLogRefusesUnsafeDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wifibox.log")
	var user bytes.Buffer
	New(path, config.LogInfo, &user).Info("hello")
	if want := "fix it with: chmod go-w " + dir; !strings.Contains(user.String(), want) {
		t.Errorf("the user was told %q, want %q", user.String(), want)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the log was written in the refused directory: %v", err)
	}
}
