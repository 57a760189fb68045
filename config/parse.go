package config

import (
	"bytes"
	"strings"
)

// Assignment is one name=value of a file, its value expanded and unquoted
// the way sh(1) would assign it.
type Assignment struct {
	Name     string
	Value    string
	Pos      Pos // where the name starts
	ValuePos Pos // where the value starts, after the "="
}

// Assignments are a file's assignments in the order they appear; a name may
// be assigned more than once.
type Assignments []Assignment

// Last gives the last assignment of name, the one whose value sh would keep.
func (as Assignments) Last(name string) (Assignment, bool) {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Name == name {
			return as[i], true
		}
	}
	return Assignment{}, false
}

// notExecuted ends the message of every construct refused because sh would
// run something.
const notExecuted = "configuration is parsed, not executed"

// Parse reads the assignment subset of sh(1): name=value lines, comments,
// blank lines; values unquoted, 'single-quoted', "double-quoted" or
// concatenations of those, over several lines when quoted or continued with
// a backslash; $name and ${name} references to names assigned earlier in the
// same data. Anything else sh would execute or treat specially is an error
// at name:line:column, and nothing is ever run. name is the file's display
// name used in positions. What the references expand to is bounded like the
// file itself: all of them together at most maxSize bytes, so that a few
// lines that double a value at each step cannot take the memory.
func Parse(name string, data []byte) (Assignments, error) {
	return ParseAfter(name, data, nil)
}

// ParseAfter is Parse of a file read after the files that assigned before,
// as rc(8) reads rc.conf and then rc.conf.local: references may name what
// those assigned.
func ParseAfter(name string, data []byte, before Assignments) (Assignments, error) {
	p := &parser{name: name, data: data, vars: map[string]string{}}
	for _, a := range before {
		p.vars[a.Name] = a.Value
	}
	return p.parse()
}

// parse reads the assignments from the start of the data.
func (p *parser) parse() (Assignments, error) {
	for {
		p.skipBlanks()
		if p.eof() {
			return p.out, nil
		}
		switch p.data[p.i] {
		case '\n':
			p.i++
		case '#':
			p.skipComment()
		default:
			if err := p.line(); err != nil {
				return nil, err
			}
		}
	}
}

type parser struct {
	name string
	data []byte
	i    int
	vars map[string]string // the values assigned so far
	out  Assignments
	// expanded counts the bytes the references expanded to so far.
	expanded int
	// What pos counted: the newlines before offset counted, and where the
	// line of that offset starts; scanned is how many bytes it looked at
	// in all, which stays within the size of the data.
	counted, lines, lineStart, scanned int
}

func (p *parser) eof() bool { return p.i >= len(p.data) }

// pos gives the position of the byte at offset off. Positions are asked
// for in the order of the file, so it counts lines from where it counted
// last, which keeps parsing linear; an earlier offset counts from the
// start.
func (p *parser) pos(off int) Pos {
	if off < p.counted {
		p.counted, p.lines, p.lineStart = 0, 0, 0
	}
	seen := p.data[p.counted:off]
	p.scanned += len(seen)
	if n := bytes.Count(seen, []byte{'\n'}); n > 0 {
		p.lines += n
		p.lineStart = p.counted + bytes.LastIndexByte(seen, '\n') + 1
	}
	p.counted = off
	return Pos{File: p.name, Line: p.lines + 1, Column: off - p.lineStart + 1}
}

func (p *parser) errorAt(off int, format string, args ...any) error {
	return invalid(p.pos(off), format, args...)
}

// skipContinuations skips backslash-newline pairs, which sh removes before
// anything else outside single quotes.
func (p *parser) skipContinuations() {
	for p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == '\n' {
		p.i += 2
	}
}

// peek gives the next byte after any continuations, and false at the end.
func (p *parser) peek() (byte, bool) {
	p.skipContinuations()
	if p.eof() {
		return 0, false
	}
	return p.data[p.i], true
}

func (p *parser) skipBlanks() {
	for {
		c, ok := p.peek()
		if !ok || (c != ' ' && c != '\t') {
			return
		}
		p.i++
	}
}

// skipComment skips to the end of the line, leaving the newline.
func (p *parser) skipComment() {
	if n := bytes.IndexByte(p.data[p.i:], '\n'); n >= 0 {
		p.i += n
	} else {
		p.i = len(p.data)
	}
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameByte(c byte) bool { return isNameStart(c) || ('0' <= c && c <= '9') }

// readName reads a name ([A-Za-z_][A-Za-z0-9_]*), or nothing.
func (p *parser) readName() string {
	var b strings.Builder
	for {
		c, ok := p.peek()
		if !ok || !isNameByte(c) || (b.Len() == 0 && !isNameStart(c)) {
			return b.String()
		}
		b.WriteByte(c)
		p.i++
	}
}

// line reads the assignments of one command line up to its end: sh performs
// a line of several assignments and nothing else, so a line of only
// assignments is accepted.
func (p *parser) line() error {
	var prev string
	for {
		start := p.i
		name := p.readName()
		if c, ok := p.peek(); name == "" || !ok || c != '=' {
			p.i = start
			return p.notAssignment(prev)
		}
		p.i++
		p.skipContinuations()
		valueStart := p.i
		value, err := p.value()
		if err != nil {
			return err
		}
		p.out = append(p.out, Assignment{Name: name, Value: value, Pos: p.pos(start), ValuePos: p.pos(valueStart)})
		p.vars[name] = value
		prev = name
		p.skipBlanks()
		c, ok := p.peek()
		if !ok {
			return nil
		}
		switch c {
		case '\n':
			p.i++
			return nil
		case '#':
			p.skipComment()
			return nil
		}
	}
}

// notAssignment explains why the word at p.i, the first of a line or the one
// following the value of prev, is not an assignment.
func (p *parser) notAssignment(prev string) error {
	start := p.i
	switch c := p.data[p.i]; {
	case isOperator(c):
		return p.operator()
	case c == '`':
		return p.errorAt(start, "command substitution \"`\" is not allowed: %s", notExecuted)
	case c == '$' && p.i+1 < len(p.data) && p.data[p.i+1] == '(':
		p.i += 2
		return p.substitution(start)
	}
	word := p.word()
	if prev != "" {
		return p.errorAt(start, "command %q after the value of %s is not allowed: "+
			"sh would run it; quote a value that contains spaces", word, clip(prev))
	}
	if strings.HasSuffix(word, "()") || p.followedByParen(word) {
		return p.errorAt(start, "function definition %q is not allowed: %s",
			strings.TrimSuffix(word, "()")+"()", notExecuted)
	}
	return p.errorAt(start, "command %q is not allowed: a line must be name=value; %s", word, notExecuted)
}

// word reads the rest of a word for an error message: up to a blank, the end
// of the line or an operator, at most 40 bytes.
func (p *parser) word() string {
	end := p.i
	for end < len(p.data) && end-p.i < 40 {
		c := p.data[end]
		if c == ' ' || c == '\t' || c == '\n' || (isOperator(c) && c != '(' && c != ')') {
			break
		}
		end++
	}
	return string(p.data[p.i:end])
}

// followedByParen tells whether word, a name, is followed by "(" as in a
// function definition "name ()".
func (p *parser) followedByParen(word string) bool {
	for _, c := range []byte(word) {
		if !isNameByte(c) {
			return false
		}
	}
	p.i += len(word)
	p.skipBlanks()
	c, ok := p.peek()
	return ok && c == '('
}

func isOperator(c byte) bool { return strings.IndexByte(";&|<>()", c) >= 0 }

// operators names what sh would do with each control or redirection
// operator.
var operators = map[string]string{
	";":  "command separator",
	";;": "case terminator",
	"&":  "background operator",
	"&&": "and-list operator",
	"|":  "pipe",
	"||": "or-list operator",
	"<":  "redirection",
	">":  "redirection",
	"<<": "here-document",
	">>": "redirection",
	"<&": "redirection",
	">&": "redirection",
	"<>": "redirection",
	">|": "redirection",
	"(":  "subshell",
	")":  "subshell",
}

// operator refuses the operator at p.i.
func (p *parser) operator() error {
	op := string(p.data[p.i])
	if p.i+1 < len(p.data) {
		if two := string(p.data[p.i : p.i+2]); operators[two] != "" {
			op = two
		}
	}
	return p.errorAt(p.i, "%s %q is not allowed: %s", operators[op], op, notExecuted)
}

// substitution refuses the "$(" at off, a command substitution or, as "$((",
// an arithmetic expansion.
func (p *parser) substitution(off int) error {
	if c, ok := p.peek(); ok && c == '(' {
		return p.errorAt(off, "arithmetic expansion \"$((\" is not allowed: %s", notExecuted)
	}
	return p.errorAt(off, "command substitution \"$(\" is not allowed: %s", notExecuted)
}

// value reads the value of an assignment, up to an unquoted blank, newline
// or the end.
func (p *parser) value() (string, error) {
	var b strings.Builder
	tilde := true // sh expands ~ at the start and after an unquoted ':'
	for {
		c, ok := p.peek()
		if !ok {
			return b.String(), nil
		}
		afterColon := false
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			return b.String(), nil
		case c == '\'':
			if err := p.singleQuoted(&b); err != nil {
				return "", err
			}
		case c == '"':
			if err := p.doubleQuoted(&b); err != nil {
				return "", err
			}
		case c == '\\':
			if p.i+1 == len(p.data) {
				return "", p.errorAt(p.i, "backslash at the end of the file escapes nothing")
			}
			b.WriteByte(p.data[p.i+1])
			p.i += 2
		case c == '$':
			if err := p.dollar(&b, false); err != nil {
				return "", err
			}
		case c == '`':
			return "", p.errorAt(p.i, "command substitution \"`\" is not allowed: %s", notExecuted)
		case isOperator(c):
			return "", p.operator()
		case c == '~' && tilde:
			return "", p.errorAt(p.i, "tilde expansion \"~\" is not allowed: write the path in full or quote it")
		default:
			b.WriteByte(c)
			p.i++
			afterColon = c == ':'
		}
		tilde = afterColon
	}
}

// singleQuoted reads '...' at p.i: everything up to the next quote, as is.
func (p *parser) singleQuoted(b *strings.Builder) error {
	open := p.i
	n := bytes.IndexByte(p.data[open+1:], '\'')
	if n < 0 {
		return p.errorAt(open, "unterminated single quote: it opens here and is never closed")
	}
	b.Write(p.data[open+1 : open+1+n])
	p.i = open + n + 2
	return nil
}

// doubleQuoted reads "..." at p.i, with the escapes \" \\ \$ \` and
// backslash-newline, and $name and ${name} references.
func (p *parser) doubleQuoted(b *strings.Builder) error {
	open := p.i
	p.i++
	for {
		if p.eof() {
			return p.errorAt(open, "unterminated double quote: it opens here and is never closed")
		}
		switch c := p.data[p.i]; c {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 == len(p.data) {
				return p.errorAt(open, "unterminated double quote: it opens here and is never closed")
			}
			switch n := p.data[p.i+1]; n {
			case '"', '\\', '$', '`':
				b.WriteByte(n)
				p.i += 2
			case '\n':
				p.i += 2
			default:
				b.WriteByte(c)
				p.i++
			}
		case '$':
			if err := p.dollar(b, true); err != nil {
				return err
			}
		case '`':
			return p.errorAt(p.i, "command substitution \"`\" is not allowed: %s", notExecuted)
		default:
			b.WriteByte(c)
			p.i++
		}
	}
}

// dollar reads what starts with the "$" at p.i: a $name or ${name}
// reference, expanded into b, or a lone "$", which sh keeps as is.
func (p *parser) dollar(b *strings.Builder, quoted bool) error {
	start := p.i
	p.i++
	c, ok := p.peek()
	switch {
	case !ok:
	case c == '(':
		p.i++
		return p.substitution(start)
	case c == '{':
		p.i++
		return p.braced(b, start)
	case isNameStart(c):
		return p.expand(b, p.readName(), start)
	case ('0' <= c && c <= '9') || strings.IndexByte("@*#?-$!", c) >= 0:
		return p.errorAt(start, "special parameter \"$%c\" is not allowed: only $name and ${name} of earlier assignments are expanded", c)
	case !quoted && (c == '\'' || c == '"'):
		return p.errorAt(start, "quoting \"$%c\" is not supported: use '...' or \"...\"", c)
	}
	b.WriteByte('$')
	return nil
}

// braced reads the rest of a ${name} reference that starts at start.
func (p *parser) braced(b *strings.Builder, start int) error {
	name := p.readName()
	c, ok := p.peek()
	switch {
	case !ok:
		return p.errorAt(start, "unterminated \"${\": it opens here and is never closed")
	case name != "" && c == '}':
		p.i++
		return p.expand(b, name, start)
	case name == "" && c == '#':
		return p.errorAt(start, "length expansion \"${#\" is not allowed: only $name and ${name} of earlier assignments are expanded")
	case name == "" && (('0' <= c && c <= '9') || strings.IndexByte("@*#?-$!", c) >= 0):
		return p.errorAt(start, "special parameter \"${%c\" is not allowed: only $name and ${name} of earlier assignments are expanded", c)
	case name != "":
		if op := p.expansionOperator(); op != "" {
			return p.errorAt(start, "parameter expansion operator %q in ${%s...} is not allowed: only $name and ${name} of earlier assignments are expanded", op, clip(name))
		}
	}
	return p.errorAt(start, "malformed reference %q: expected ${name}", clip("${"+name+string(rune(c))))
}

// expansionOperator gives the operator of ${name<op>word} at p.i, or "".
func (p *parser) expansionOperator() string {
	rest := p.data[p.i:]
	for _, op := range []string{":-", ":=", ":?", ":+", "##", "%%", "-", "=", "?", "+", "#", "%"} {
		if bytes.HasPrefix(rest, []byte(op)) {
			return op
		}
	}
	return ""
}

// expand writes the value of name, which the "$" at start refers to, as
// long as the file's expansions stay within maxSize bytes.
func (p *parser) expand(b *strings.Builder, name string, start int) error {
	v, ok := p.vars[name]
	if !ok {
		return p.errorAt(start, "reference to %s, which is not assigned earlier in this file", clip(name))
	}
	p.expanded += len(v)
	if p.expanded > maxSize {
		return p.errorAt(start, "reference to %s expands the values of this file beyond %d bytes, "+
			"the size a configuration file may have: write the values out instead of doubling them", clip(name), maxSize)
	}
	b.WriteString(v)
	return nil
}
