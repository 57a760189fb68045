package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// at builds the expected assignment of name=value at line:column of t.conf.
func at(name, value string, line, column int) Assignment {
	return Assignment{Name: name, Value: value, Pos: Pos{File: "t.conf", Line: line, Column: column}}
}

var acceptedCases = []struct {
	name string
	in   string
	want Assignments
}{
	{"empty", "", nil},
	{"comments and blank lines",
		"# comment\n\n   # indented comment\ncpus=1 # trailing\nmemory=2\t# after a tab\n",
		Assignments{at("cpus", "1", 4, 1), at("memory", "2", 5, 1)}},
	{"indented", "  \ta=1\n", Assignments{at("a", "1", 1, 4)}},
	{"no final newline", "a=1", Assignments{at("a", "1", 1, 1)}},
	{"hash inside a word", "a=b#c", Assignments{at("a", "b#c", 1, 1)}},
	{"hash starting the value", "a=#c", Assignments{at("a", "#c", 1, 1)}},
	{"empty values", "a=\nb= # comment\nc=''\nd=\"\"", Assignments{
		at("a", "", 1, 1), at("b", "", 2, 1), at("c", "", 3, 1), at("d", "", 4, 1)}},
	{"single quotes keep everything", `a=1` + "\n" + `b='x  $a ${a} \" \\ $(id) ` + "`id`" + ` ; | & < > ( ) ~'`,
		Assignments{at("a", "1", 1, 1), at("b", `x  $a ${a} \" \\ $(id) `+"`id`"+` ; | & < > ( ) ~`, 2, 1)}},
	{"double quote escapes", `a="q\"b\\s\$d` + "\\`" + `e\x\n"`,
		Assignments{at("a", `q"b\s$d`+"`"+`e\x\n`, 1, 1)}},
	{"double quotes keep operators", `a="x;y|z&w<v>u(t)s ~ #"`,
		Assignments{at("a", "x;y|z&w<v>u(t)s ~ #", 1, 1)}},
	{"concatenation", `a=a"b"'c'd"e f"`, Assignments{at("a", "abcde f", 1, 1)}},
	{"multi-line single quotes", "a='x\ny'\nb=2", Assignments{at("a", "x\ny", 1, 1), at("b", "2", 3, 1)}},
	{"multi-line double quotes", "a=\"x\n  y\"  b=2", Assignments{at("a", "x\n  y", 1, 1), at("b", "2", 2, 7)}},
	{"continuation in an unquoted value", "a=x\\\ny\nb=1", Assignments{at("a", "xy", 1, 1), at("b", "1", 3, 1)}},
	{"continuation in double quotes", "a=\"x\\\ny\"", Assignments{at("a", "xy", 1, 1)}},
	{"continuation between assignments", "a=1 \\\n  b=2", Assignments{at("a", "1", 1, 1), at("b", "2", 2, 3)}},
	{"continuation inside a name", "na\\\nme=1", Assignments{at("name", "1", 1, 1)}},
	{"continuation before the equals sign", "a\\\n=1", Assignments{at("a", "1", 1, 1)}},
	{"continuation before a hash", "a=1\\\n#x b=2", Assignments{at("a", "1#x", 1, 1), at("b", "2", 2, 4)}},
	{"comment ending in a backslash", "# x \\\na=1", Assignments{at("a", "1", 2, 1)}},
	{"carriage return kept", "a=1\r\nb=2", Assignments{at("a", "1\r", 1, 1), at("b", "2", 2, 1)}},
	{"reserved word as a name", "if=1 then=$if", Assignments{at("if", "1", 1, 1), at("then", "1", 1, 6)}},
	{"continued line alone", "\\\na=1", Assignments{at("a", "1", 2, 1)}},
	{"escaped characters", `a=x\ y\;\$z\'\"\\`, Assignments{at("a", `x y;$z'"\`, 1, 1)}},
	{"references", "a=x\nb=${a}/$a\"$a\"'$a'\"${a}\"", Assignments{at("a", "x", 1, 1), at("b", "x/xx$ax", 2, 1)}},
	{"reference ends at a non-name byte", "a=1\nb=$a.x-$a", Assignments{at("a", "1", 1, 1), at("b", "1.x-1", 2, 1)}},
	{"reference to an empty value", "a=\nb=x${a}y", Assignments{at("a", "", 1, 1), at("b", "xy", 2, 1)}},
	{"reassignment", "a=1\na=${a}2", Assignments{at("a", "1", 1, 1), at("a", "12", 2, 1)}},
	{"assignments on one line", "a=1 b=$a\tc=\"$b$b\"", Assignments{at("a", "1", 1, 1), at("b", "1", 1, 5), at("c", "11", 1, 10)}},
	{"lone dollars", `a=$ b="$" c=x$/ d=$:`, Assignments{
		at("a", "$", 1, 1), at("b", "$", 1, 5), at("c", "x$/", 1, 11), at("d", "$:", 1, 17)}},
	{"glob and brace characters are literal", "a=*.conf?[x]{y,z}!", Assignments{at("a", "*.conf?[x]{y,z}!", 1, 1)}},
	{"tilde not first", "a=x~ b='~' c=\"~\"", Assignments{at("a", "x~", 1, 1), at("b", "~", 1, 6), at("c", "~", 1, 12)}},
	{"equals in the value", "a=x=y", Assignments{at("a", "x=y", 1, 1)}},
	{"underscore names", "_x=1\nA_9=$_x", Assignments{at("_x", "1", 1, 1), at("A_9", "1", 2, 1)}},
	{"uds_passthru sample",
		"network=10.0.0.1:255.255.255.0\n_sockdir=/var/run/wpa_supplicant\n" +
			"_perms=\"user=root,group=0,mode=770\"\nsockets=\"path=${_sockdir}/wlan0,${_perms},port=1200\"\n",
		Assignments{
			at("network", "10.0.0.1:255.255.255.0", 1, 1),
			at("_sockdir", "/var/run/wpa_supplicant", 2, 1),
			at("_perms", "user=root,group=0,mode=770", 3, 1),
			at("sockets", "path=/var/run/wpa_supplicant/wlan0,user=root,group=0,mode=770,port=1200", 4, 1),
		}},
	{"core.conf sample", "# These are the default values\n\n#loglevel=warn  # level of logging\n", nil},
}

func TestParseAccepts(t *testing.T) {
	for _, c := range acceptedCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse("t.conf", []byte(c.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.in, err)
			}
			// TestParseValuePos checks where the values start.
			if diff := cmp.Diff(c.want, got, cmpopts.IgnoreFields(Assignment{}, "ValuePos")); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", c.in, diff)
			}
		})
	}
}

// TestParseAgreesWithSh sources each accepted case with sh(1) and compares
// the values it assigns with ours. The cases are assignments only, which is
// what Parse accepted.
func TestParseAgreesWithSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to compare with")
	}
	for _, c := range acceptedCases {
		if len(c.want) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "t.conf")
			if err := os.WriteFile(file, []byte(c.in), 0o600); err != nil {
				t.Fatal(err)
			}
			var names, refs []string
			want := map[string]string{}
			for _, a := range c.want {
				if _, ok := want[a.Name]; !ok {
					names = append(names, a.Name)
					refs = append(refs, fmt.Sprintf(`"${%s}"`, a.Name))
				}
				want[a.Name] = a.Value
			}
			cmd := exec.Command(sh, "-c", `. "$0" && printf '%s\0' `+strings.Join(refs, " "), file)
			cmd.Env = []string{}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("sh: %v", err)
			}
			values := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			for i, name := range names {
				if values[i] != want[name] {
					t.Errorf("%s: sh assigns %q, Parse %q", name, values[i], want[name])
				}
			}
		})
	}
}

const notRun = ": configuration is parsed, not executed"

var rejectedCases = []struct {
	name string
	in   string
	want string
}{
	{"command substitution", "cpus=1\n\nmemory=$(touch x)", `t.conf:3:8: command substitution "$(" is not allowed` + notRun},
	{"command substitution in double quotes", `a="x$(id)"`, `t.conf:1:5: command substitution "$(" is not allowed` + notRun},
	{"command substitution starting a line", "  $(id)", `t.conf:1:3: command substitution "$(" is not allowed` + notRun},
	{"backticks", "a=`id`", "t.conf:1:3: command substitution \"`\" is not allowed" + notRun},
	{"backticks in double quotes", "a=\"x`id`\"", "t.conf:1:5: command substitution \"`\" is not allowed" + notRun},
	{"backticks starting a line", "`id`", "t.conf:1:1: command substitution \"`\" is not allowed" + notRun},
	{"arithmetic", "a=$((1+1))", `t.conf:1:3: arithmetic expansion "$((" is not allowed` + notRun},
	{"arithmetic in double quotes", `a="$((1))"`, `t.conf:1:4: arithmetic expansion "$((" is not allowed` + notRun},
	{"semicolon", "a=1; b=2", `t.conf:1:4: command separator ";" is not allowed` + notRun},
	{"semicolon after a blank", "a=1 ;", `t.conf:1:5: command separator ";" is not allowed` + notRun},
	{"semicolon after a multi-line value", "a='x\ny' ;", `t.conf:2:4: command separator ";" is not allowed` + notRun},
	{"pipe", "a=1|b", `t.conf:1:4: pipe "|" is not allowed` + notRun},
	{"or-list", "a=1 || b", `t.conf:1:5: or-list operator "||" is not allowed` + notRun},
	{"and-list", "a=1 && b", `t.conf:1:5: and-list operator "&&" is not allowed` + notRun},
	{"background", "a=1 &", `t.conf:1:5: background operator "&" is not allowed` + notRun},
	{"redirection out", "a=x>y", `t.conf:1:4: redirection ">" is not allowed` + notRun},
	{"redirection append", "a=x >>y", `t.conf:1:5: redirection ">>" is not allowed` + notRun},
	{"redirection in", "a=x<y", `t.conf:1:4: redirection "<" is not allowed` + notRun},
	{"here-document", "<<EOF", `t.conf:1:1: here-document "<<" is not allowed` + notRun},
	{"subshell", "(a=1)", `t.conf:1:1: subshell "(" is not allowed` + notRun},
	{"parenthesis in a value", "a=(x)", `t.conf:1:3: subshell "(" is not allowed` + notRun},
	{"function definition", "f() { a=1; }", `t.conf:1:1: function definition "f()" is not allowed` + notRun},
	{"function definition with a space", "\nf () {", `t.conf:2:1: function definition "f()" is not allowed` + notRun},
	{"command", "ls -l", `t.conf:1:1: command "ls" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"export", "a=1\n  export a=2", `t.conf:2:3: command "export" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"if", "if true; then a=1; fi", `t.conf:1:1: command "if" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"a name alone", "cpus", `t.conf:1:1: command "cpus" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"append", "a+=1", `t.conf:1:1: command "a+=1" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"no name", "=1", `t.conf:1:1: command "=1" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"quoted name", `"a"=1`, `t.conf:1:1: command "\"a\"=1" is not allowed: a line must be name=value; configuration is parsed, not executed`},
	{"unquoted space", "passthru=3/0/0 0/20/0", `t.conf:1:16: command "0/20/0" after the value of passthru is not allowed: sh would run it; quote a value that contains spaces`},
	{"command after assignments", "a=1 b=2 env", `t.conf:1:9: command "env" after the value of b is not allowed: sh would run it; quote a value that contains spaces`},
	{"unterminated single quote", "a=1\nb='x\ny", `t.conf:2:3: unterminated single quote: it opens here and is never closed`},
	{"unterminated double quote", "a=x\"y", `t.conf:1:4: unterminated double quote: it opens here and is never closed`},
	{"unterminated double quote ending in a backslash", `a="x\`, `t.conf:1:3: unterminated double quote: it opens here and is never closed`},
	{"backslash at the end", `a=x\`, `t.conf:1:4: backslash at the end of the file escapes nothing`},
	{"operator with a default", "b=1\na=${b:-x}", `t.conf:2:3: parameter expansion operator ":-" in ${b...} is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"operator with an assignment", "b=1\na=\"${b=x}\"", `t.conf:2:4: parameter expansion operator "=" in ${b...} is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"suffix removal", "b=1\na=${b%%.*}", `t.conf:2:3: parameter expansion operator "%%" in ${b...} is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"length", "a=${#b}", `t.conf:1:3: length expansion "${#" is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"positional parameter", "a=$1", `t.conf:1:3: special parameter "$1" is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"braced positional parameter", "a=${10}", `t.conf:1:3: special parameter "${1" is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"special parameter in double quotes", `a="$$"`, `t.conf:1:4: special parameter "$$" is not allowed: only $name and ${name} of earlier assignments are expanded`},
	{"empty braces", "a=${}", `t.conf:1:3: malformed reference "${}": expected ${name}`},
	{"unterminated braces", "b=1\na=${b", `t.conf:2:3: unterminated "${": it opens here and is never closed`},
	{"unassigned name", "a=$HOME/x", `t.conf:1:3: reference to HOME, which is not assigned earlier in this file`},
	{"unassigned braced name in double quotes", `a="x${b}"`, `t.conf:1:5: reference to b, which is not assigned earlier in this file`},
	{"name assigned later", "a=$b\nb=1", `t.conf:1:3: reference to b, which is not assigned earlier in this file`},
	{"longest name", "a=1\nb=$a_x", `t.conf:2:3: reference to a_x, which is not assigned earlier in this file`},
	{"tilde", "a=~/x", `t.conf:1:3: tilde expansion "~" is not allowed: write the path in full or quote it`},
	{"tilde after a colon", "a=/x:~", `t.conf:1:6: tilde expansion "~" is not allowed: write the path in full or quote it`},
	{"dollar quote", "a=$'x'", `t.conf:1:3: quoting "$'" is not supported: use '...' or "..."`},
}

func TestParseRejects(t *testing.T) {
	for _, c := range rejectedCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse("t.conf", []byte(c.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %s", c.in, got, c.want)
			}
			if err.Error() != c.want {
				t.Errorf("Parse(%q):\n got %s\nwant %s", c.in, err, c.want)
			}
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrMissing) {
				t.Errorf("Parse(%q): error is not only ErrInvalid", c.in)
			}
		})
	}
}

// TestParseValuePos: a value's position is the byte after its "=", past
// any continuation, on the line where it starts.
func TestParseValuePos(t *testing.T) {
	for _, c := range []struct {
		in           string
		line, column int
	}{
		{"cpus=1", 1, 6},
		{"\n  memory='1\n2'", 2, 10},
		{"a=1 b=2", 1, 7},
		{"a=\\\nx", 2, 1},
		{"na\\\nme=1", 2, 4},
	} {
		as := mustParse(t, "t.conf", c.in)
		want := Pos{File: "t.conf", Line: c.line, Column: c.column}
		if got := as[len(as)-1].ValuePos; got != want {
			t.Errorf("Parse(%q): value at %v, want %v", c.in, got, want)
		}
	}
}

// TestParseBoundsExpansion: a0=x then aN=$a(N-1)$a(N-1) would double the
// value 32 times (4 GiB from 392 bytes); the expansion stops, with the
// position of the reference, once it passes the size of a file.
func TestParseBoundsExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0=x\n")
	for n := 1; n <= 32; n++ {
		fmt.Fprintf(&b, "a%d=$a%d$a%d\n", n, n-1, n-1)
	}
	_, err := Parse("t.conf", []byte(b.String()))
	// The references of lines 2 to 20 (a1 to a19) expand to 2^20-2 bytes;
	// the first $a19 of line 21 adds 2^19, past 2^20.
	want := "t.conf:21:5: reference to a19 expands the values of this file beyond 1048576 bytes, " +
		"the size a configuration file may have: write the values out instead of doubling them"
	checkInvalid(t, "32 levels of doubling", err, want)
}

// TestParseRunsNothing gives Parse and LoadBhyve files that would create a
// file if sh sourced them, and checks no file appears.
func TestParseRunsNothing(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "x")
	for _, c := range []struct {
		in, where string
	}{
		{"cpus=1\nmemory=$(touch " + victim + ")\n", "bhyve.conf:2:8: "},
		{"cpus=1\n\nmemory=\"`touch " + victim + "`\"\n", "bhyve.conf:3:9: "},
		{"cpus=1 ; touch " + victim + "\n", "bhyve.conf:1:8: "},
		{"touch " + victim + "\n", "bhyve.conf:1:1: "},
		{"memory=1 touch " + victim + "\n", "bhyve.conf:1:10: "},
		{"f() { touch " + victim + "; }\nf\n", "bhyve.conf:1:1: "},
		{"memory=${x:-$(touch " + victim + ")}\n", "bhyve.conf:1:8: "},
	} {
		path := filepath.Join(dir, "bhyve.conf")
		writeFile(t, path, c.in, 0o644)
		_, _, err := LoadBhyve(path, 16)
		if err == nil || !strings.HasPrefix(err.Error(), c.where) {
			t.Errorf("LoadBhyve of %q: error %v, want one starting %q", c.in, err, c.where)
		}
		if _, err := os.Stat(victim); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("LoadBhyve of %q: %s exists (%v): something ran", c.in, victim, err)
		}
	}
}

// lineLengths gives the length of each line of data.
func lineLengths(data []byte) []int {
	var n []int
	for _, l := range bytes.Split(data, []byte{'\n'}) {
		n = append(n, len(l))
	}
	return n
}

// FuzzParse checks that Parse does not panic, that every error carries
// file:line:column inside the data, and that every assignment's position
// is where its name is.
func FuzzParse(f *testing.F) {
	for _, c := range acceptedCases {
		f.Add([]byte(c.in))
	}
	for _, c := range rejectedCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := lineLengths(data)
		inside := func(p Pos) bool {
			return p.File == "f.conf" && p.Line >= 1 && p.Line <= len(lines) &&
				p.Column >= 1 && p.Column <= lines[p.Line-1]+1
		}
		as, err := Parse("f.conf", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): error %v is not an ErrInvalid *Error", data, err)
			}
			if !inside(e.Pos) || !strings.HasPrefix(err.Error(), fmt.Sprintf("f.conf:%d:%d: ", e.Pos.Line, e.Pos.Column)) {
				t.Fatalf("Parse(%q): error %q has no position inside the data: %+v", data, err, e.Pos)
			}
			return
		}
		for _, a := range as {
			if !inside(a.Pos) || !inside(a.ValuePos) {
				t.Fatalf("Parse(%q): %s at %+v, outside the data", data, a.Name, a.Pos)
			}
			line := bytes.Split(data, []byte{'\n'})[a.Pos.Line-1]
			if a.Name == "" || line[a.Pos.Column-1] != a.Name[0] {
				t.Fatalf("Parse(%q): %s is not at %v", data, a.Name, a.Pos)
			}
		}
	})
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// mebibyteConf is a core.conf of 1 MiB, the most ReadFile reads: a line
// for each of tens of thousands of assignments, which is what makes a
// parser that counts lines from the start for each of them quadratic.
func mebibyteConf() []byte {
	line := []byte("loglevel=warn # a comment\n")
	data := bytes.Repeat(line, maxSize/len(line))
	return append(data, bytes.Repeat([]byte("#"), maxSize-len(data))...)
}

// TestParseLinear: the positions of a 1 MiB file's assignments are right,
// and finding them looks at each byte of the file once, not once for each
// assignment before it.
func TestParseLinear(t *testing.T) {
	data := mebibyteConf()
	p := &parser{name: "t.conf", data: data, vars: map[string]string{}}
	as, err := p.parse()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte{'\n'}); len(as) != n {
		t.Fatalf("%d assignments, want %d", len(as), n)
	}
	if last, want := as[len(as)-1], (Pos{File: "t.conf", Line: len(as), Column: 1}); last.Pos != want || last.ValuePos.Column != 10 {
		t.Errorf("the last assignment at %v (value at %v), want %v", last.Pos, last.ValuePos, want)
	}
	if p.scanned > len(data) {
		t.Errorf("positions looked at %d bytes of a %d-byte file: parsing is not linear", p.scanned, len(data))
	}
}

// BenchmarkParseMiB parses a 1 MiB core.conf, the largest ReadFile gives.
func BenchmarkParseMiB(b *testing.B) {
	data := mebibyteConf()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("core.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
