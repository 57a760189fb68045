package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// The kinds of change.
const (
	kindSet    = "set"    // a line of name=value, replaced or added
	kindCreate = "create" // a file created from its sample
	kindLink   = "link"   // a symbolic link created
)

// Change is one change setup makes, as its record keeps it: enough to say
// what it did and to take exactly that back.
type Change struct {
	File string `json:"file"`
	Kind string `json:"kind"`
	// Name is the variable a set changes; the sample a create copies.
	Name string `json:"name"`
	// Old is the line a set replaced; nil when it added one.
	Old *string `json:"old,omitempty"`
	// New is the line a set wrote, the content a create wrote, the target
	// of a link.
	New string `json:"new"`
	// Newline: a set added a newline to end the file's last line first.
	Newline bool `json:"newline,omitempty"`
	// Created: a set made the file, which did not exist.
	Created bool `json:"created,omitempty"`
}

// String tells the change in a line.
func (c Change) String() string {
	switch {
	case c.Kind == kindCreate:
		return fmt.Sprintf("%s: create from %s", c.File, c.Name)
	case c.Kind == kindLink:
		return fmt.Sprintf("%s: link to %s", c.File, c.New)
	case c.Old != nil:
		return fmt.Sprintf("%s: replace %s with %s", c.File, *c.Old, c.New)
	}
	return fmt.Sprintf("%s: add %s", c.File, c.New)
}

// fileEdit is the changes of one file: its content before and after them.
type fileEdit struct {
	path    string
	exists  bool
	before  []byte
	after   []byte
	perm    fs.FileMode // of a file setup creates
	changes []Change
}

// file gives the edit of the file at path, reading it the first time.
func (p *plan) file(path string, perm fs.FileMode) (*fileEdit, error) {
	if f, ok := p.files[path]; ok {
		return f, nil
	}
	f := &fileEdit{path: path, perm: perm}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		f.exists, f.before = true, data
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, err
	}
	f.after = bytes.Clone(f.before)
	p.files[path] = f
	p.order = append(p.order, path)
	return f, nil
}

// set replaces the last line that assigns name with line, or adds line at
// the end, as sysrc(8) does.
func (f *fileEdit) set(name, line string) {
	c := Change{File: f.path, Kind: kindSet, Name: name, New: line, Created: !f.exists && len(f.changes) == 0}
	lines := strings.SplitAfter(string(f.after), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		text := strings.TrimSuffix(lines[i], "\n")
		if strings.HasPrefix(strings.TrimLeft(text, " \t"), name+"=") {
			c.Old = &text
			lines[i] = line + strings.TrimPrefix(lines[i], text)
			f.after = []byte(strings.Join(lines, ""))
			f.changes = append(f.changes, c)
			return
		}
	}
	if len(f.after) > 0 && f.after[len(f.after)-1] != '\n' {
		c.Newline = true
		f.after = append(f.after, '\n')
	}
	f.after = append(f.after, line+"\n"...)
	f.changes = append(f.changes, c)
}

// create makes the file with the sample's content.
func (f *fileEdit) create(sample string, data []byte) {
	f.after = bytes.Clone(data)
	f.changes = append(f.changes, Change{File: f.path, Kind: kindCreate, Name: sample, New: string(data)})
}

// link makes the file a symbolic link to target.
func (f *fileEdit) link(target string) {
	f.changes = append(f.changes, Change{File: f.path, Kind: kindLink, New: target})
}

// changes are every change of the plan in order.
func (p *plan) changes() []Change {
	var all []Change
	for _, path := range p.order {
		all = append(all, p.files[path].changes...)
	}
	return all
}

// apply records the changes, then makes them file by file; when one
// fails, the files already changed and the record are put back.
func (p *plan) apply() error {
	record := recordPath(p.paths)
	before, err := readRecord(record)
	if err != nil {
		return err
	}
	if err := writeRecord(record, append(before, p.changes()...)); err != nil {
		return err
	}
	var done []*fileEdit
	for _, path := range p.order {
		f := p.files[path]
		if len(f.changes) == 0 {
			continue
		}
		if err := f.write(); err != nil {
			for _, d := range done {
				d.restore()
			}
			writeRecord(record, before)
			return fmt.Errorf("%w; nothing is changed", err)
		}
		done = append(done, f)
	}
	return nil
}

// write makes the file's changes.
func (f *fileEdit) write() error {
	if f.changes[0].Kind == kindLink {
		return os.Symlink(f.changes[0].New, f.path)
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return err
	}
	return runfile.Replace(f.path, f.after, f.perm)
}

// restore puts the file back as it was before write.
func (f *fileEdit) restore() {
	if !f.exists {
		os.Remove(f.path)
		return
	}
	runfile.Replace(f.path, f.before, f.perm)
}

// recordPath is setup's record of its changes, kept across reboots.
func recordPath(p host.Paths) string { return filepath.Join(p.DBDir, host.SetupRecordFile) }

func readRecord(path string) ([]Change, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var changes []Change
	if err := json.Unmarshal(data, &changes); err != nil {
		return nil, fmt.Errorf("read setup's record %s: %w", path, err)
	}
	return changes, nil
}

func writeRecord(path string, changes []Change) error {
	if len(changes) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.MarshalIndent(changes, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return runfile.Replace(path, append(data, '\n'), 0o600)
}

// undo takes back the recorded changes, the last first, each only as long
// as it is still what setup made: a line or file changed since stays, and
// is named.
func undo(p host.Paths, o Options) error {
	record := recordPath(p)
	changes, err := readRecord(record)
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if len(changes) == 0 {
		fmt.Fprintf(o.Out, "Nothing to undo: setup has changed nothing on this host (no record %s).\n", record)
		return nil
	}
	var left []string
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		verb := "undo"
		if o.DryRun {
			verb = "undo (-n: not done)"
		}
		ok, err := revert(c, o.DryRun)
		switch {
		case err != nil:
			return failure.New(failure.Environment, fmt.Errorf("undo %s: %w", c, err))
		case !ok:
			left = append(left, c.String())
			fmt.Fprintf(o.Out, "  left, changed since setup: %s\n", c)
		default:
			fmt.Fprintf(o.Out, "  %s: %s\n", verb, c)
		}
	}
	if o.DryRun {
		return nil
	}
	if err := writeRecord(record, nil); err != nil {
		return failure.New(failure.Environment, err)
	}
	os.Remove(p.DBDir) // setup made it; kept when anything else is in it
	if len(left) > 0 {
		return failure.New(failure.Environment, fmt.Errorf("%d changes of setup were changed since and are left as they are: take them back by hand:\n%s",
			len(left), strings.Join(left, "\n")))
	}
	fmt.Fprintln(o.Out, "Every change of setup is taken back.")
	return nil
}

// revert takes one change back unless dry, and tells whether it could:
// false when what it made has changed since.
func revert(c Change, dry bool) (bool, error) {
	switch c.Kind {
	case kindLink:
		if target, err := os.Readlink(c.File); err != nil || target != c.New {
			return false, nil
		}
		return true, remove(c.File, dry)
	case kindCreate:
		data, err := os.ReadFile(c.File)
		if err != nil || string(data) != c.New {
			return false, nil
		}
		return true, remove(c.File, dry)
	}
	fi, err := os.Lstat(c.File)
	if err != nil {
		return false, nil
	}
	data, err := os.ReadFile(c.File)
	if err != nil {
		return false, err
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // after the last newline
	}
	for i := len(lines) - 1; i >= 0; i-- {
		text := strings.TrimSuffix(lines[i], "\n")
		if text != c.New {
			continue
		}
		if c.Old != nil {
			lines[i] = *c.Old + strings.TrimPrefix(lines[i], text)
		} else {
			lines = append(lines[:i], lines[i+1:]...)
			if c.Newline && i == len(lines) && i > 0 {
				lines[i-1] = strings.TrimSuffix(lines[i-1], "\n")
			}
		}
		rest := strings.Join(lines, "")
		if c.Created && rest == "" {
			return true, remove(c.File, dry)
		}
		if dry {
			return true, nil
		}
		return true, runfile.Replace(c.File, []byte(rest), fi.Mode().Perm())
	}
	return false, nil
}

func remove(path string, dry bool) error {
	if dry {
		return nil
	}
	return os.Remove(path)
}
