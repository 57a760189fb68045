package ifnet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wifibox/wifibox/internal/runfile"
)

// The journal is a file of interface names, one a line, that Setup notes
// each name in before it clones the interface: what a wifibox killed
// between the clone and the mark left. "" is no journal (the dry run).

// note appends a name to the journal. The file is created for root alone,
// and opened as the other run files are (runfile.Open): a link in its
// place is not followed, and a FIFO is refused at once rather than waited
// on.
func note(journal, name string) error {
	if journal == "" {
		return nil
	}
	f, err := runfile.Open(journal, os.O_WRONLY|os.O_APPEND, true, 0o600)
	if err != nil {
		return fmt.Errorf("note interface %s in the journal: %w", name, err)
	}
	_, err = f.WriteString(name + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("note interface %s in the journal: %w", name, err)
	}
	return nil
}

// maxJournal bounds what journaled reads: a few interface names.
const maxJournal = 64 << 10

// journaled gives the names in the journal, opened as note opens it.
func journaled(journal string) ([]string, error) {
	if journal == "" {
		return nil, nil
	}
	f, err := runfile.Open(journal, os.O_RDONLY, false, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the interface journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJournal))
	if err != nil {
		return nil, fmt.Errorf("read the interface journal %s: %w", journal, err)
	}
	return strings.Fields(string(data)), nil
}

// forget removes the journal.
func forget(journal string) error {
	if journal == "" {
		return nil
	}
	if err := os.Remove(journal); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the interface journal: %w", err)
	}
	return nil
}
