package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// space is what the shell implementation's [[:space:]] accepts around a
// value.
const space = " \t\n\v\f\r"

// settings are the assignments of one file, looked up by the names the file
// knows.
type settings struct {
	file string // display name
	as   Assignments
}

// newSettings gives the settings of a file and a warning for each name the
// file does not know, which the shell implementation ignores. Names starting
// with "_" are helper variables of the file and ignored silently.
func newSettings(file string, as Assignments, known ...string) (settings, []string) {
	var warnings []string
	warned := map[string]bool{}
	for _, a := range as {
		if strings.HasPrefix(a.Name, "_") || warned[a.Name] || contains(known, a.Name) {
			continue
		}
		warned[a.Name] = true
		warnings = append(warnings, fmt.Sprintf("%s: unknown setting %s, ignored", Pos{File: a.Pos.File, Line: a.Pos.Line}, clip(a.Name)))
	}
	return settings{file: file, as: as}, warnings
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// get gives the value of name, or def when the file does not assign it, and
// where the value starts: file:line:column, or just the file for a default.
func (s settings) get(name, def string) (string, Pos) {
	if a, ok := s.as.Last(name); ok {
		return a.Value, a.ValuePos
	}
	return def, Pos{File: s.file}
}

// maxShown bounds how much of a value or a name a message quotes.
const maxShown = 80

// clip gives a value or a name to quote in a message: as is when short, else its
// first maxShown bytes and how long it is.
func clip(v string) string {
	if len(v) <= maxShown {
		return v
	}
	return fmt.Sprintf("%s... (%d bytes)", v[:maxShown], len(v))
}

// malformed is the shell implementation's message for a value that does
// not have the expected form.
func malformed(at Pos, name, value, expected string) error {
	return invalid(at, "malformed %s value: %q, expected: %s", name, clip(value), expected)
}

// outOfRange is the shell implementation's message for an integer out of
// its range; hi == math.MaxInt is no upper bound, and a value with no
// upper bound that does not fit an int is too large rather than too small.
func outOfRange(at Pos, name string, lo, hi int, value string) error {
	if hi != math.MaxInt {
		return invalid(at, "%s should be in between %d and %d: %s", name, lo, hi, clip(value))
	}
	if n, err := strconv.Atoi(strings.Trim(value, space)); err != nil || n >= lo {
		return invalid(at, "%s is too large: %s", name, clip(value))
	}
	return invalid(at, "%s should be at least %d: %s", name, lo, clip(value))
}

var (
	integerSyntax = regexp.MustCompile(`^[0-9]+$`)
	memorySyntax  = regexp.MustCompile(`^[0-9]+[KkMmGgTt]?$`)
)

// wellformed gives the value of name, without surrounding space, when it
// matches syntax.
func (s settings) wellformed(name, def string, syntax *regexp.Regexp, expected string) (string, error) {
	v, at := s.get(name, def)
	t := strings.Trim(v, space)
	if !syntax.MatchString(t) {
		return "", malformed(at, name, v, expected)
	}
	return t, nil
}

// integer gives the value of name as an integer from lo to hi, and where it
// was assigned.
func (s settings) integer(name, def string, lo, hi int) (int, error) {
	v, at := s.get(name, def)
	t := strings.Trim(v, space)
	if !integerSyntax.MatchString(t) {
		return 0, malformed(at, name, v, "non-negative integer")
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < lo || n > hi { // err: too large for an int
		return 0, outOfRange(at, name, lo, hi, v)
	}
	return n, nil
}

// choice gives the index in choices of the value of name, compared
// case-insensitively when fold.
func (s settings) choice(name, def string, fold bool, choices ...string) (int, error) {
	v, at := s.get(name, def)
	t := strings.Trim(v, space)
	for i, c := range choices {
		if t == c || (fold && strings.EqualFold(t, c)) {
			return i, nil
		}
	}
	last := len(choices) - 1
	expected := strings.Join(choices[:last], ", ") + " or " + choices[last]
	return 0, malformed(at, name, v, expected)
}
