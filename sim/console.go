package sim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// console is the guest's serial console: a pseudo-terminal standing in for
// the nmdm(4) pair, whose two device names are symbolic links to the
// terminal a console client opens.
type console struct {
	master, slave *os.File
	links         []string
}

// openConsole opens the console bhyve's -l com1,PATH names: PATH must be the
// A side of an nmdm pair, /dev/nmdmNAMEA.
func openConsole(path string) (*console, error) {
	base := path[strings.LastIndexByte(path, '/')+1:]
	if !strings.HasPrefix(base, "nmdm") || len(base) <= 5 || !strings.HasSuffix(base, "A") {
		return nil, fmt.Errorf("%s: not an nmdm device", path)
	}
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	c := &console{master: master, slave: slave}
	for _, link := range []string{path, strings.TrimSuffix(path, "A") + "B"} {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.close()
			return nil, err
		}
		if err := os.Symlink(slave.Name(), link); err != nil {
			c.close()
			return nil, err
		}
		c.links = append(c.links, link)
	}
	go c.serve()
	return c, nil
}

// serve runs the guest's side of the console until it is closed.
func (c *console) serve() {
	g := &getty{out: c.master}
	g.start()
	buf := make([]byte, 256)
	for {
		n, err := c.master.Read(buf)
		g.feed(buf[:n])
		if err != nil {
			return
		}
	}
}

func (c *console) close() {
	for _, link := range c.links {
		os.Remove(link)
	}
	c.master.Close()
	c.slave.Close()
}

// getty is the guest's login prompt and a shell that knows a few commands.
type getty struct {
	out      io.Writer
	loggedIn bool
	line     []byte
	afterCR  bool
}

const (
	loginPrompt = "wifibox login: "
	shellPrompt = "root@wifibox:~# "
)

func (g *getty) start() {
	g.write("\r\nWelcome to wifibox (simulated guest)\r\nKernel 6.6.21-wifibox on an x86_64 (ttyS0)\r\n\r\n" + loginPrompt)
}

func (g *getty) write(s string) { io.WriteString(g.out, s) }

// feed takes what the user typed: it echoes it, edits the line and runs it
// on carriage return or newline.
func (g *getty) feed(p []byte) {
	for _, b := range p {
		switch {
		case b == '\n' && g.afterCR:
		case b == '\r' || b == '\n':
			g.write("\r\n")
			line := strings.TrimSpace(string(g.line))
			g.line = g.line[:0]
			g.enter(line)
		case b == 0x7f || b == '\b':
			if len(g.line) > 0 {
				g.line = g.line[:len(g.line)-1]
				g.write("\b \b")
			}
		default:
			g.line = append(g.line, b)
			g.write(string(b))
		}
		g.afterCR = b == '\r'
	}
}

func (g *getty) enter(line string) {
	if !g.loggedIn {
		switch line {
		case "root":
			g.loggedIn = true
			g.write("Welcome to the wifibox guest.\r\n" + shellPrompt)
		case "":
			g.write(loginPrompt)
		default:
			g.write("Login incorrect\r\n" + loginPrompt)
		}
		return
	}
	switch strings.Join(strings.Fields(line), " ") {
	case "":
	case "uname -a":
		g.write("Linux wifibox 6.6.21-wifibox #1 SMP x86_64 Linux\r\n")
	case "ip addr":
		g.write("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\r\n    inet 127.0.0.1/8 scope host lo\r\n" +
			"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\r\n    inet 10.0.0.1/24 scope global eth0\r\n" +
			"3: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\r\n    inet 192.168.1.23/24 scope global wlan0\r\n")
	case "exit":
		g.loggedIn = false
		g.write("logout\r\n\r\n" + loginPrompt)
		return
	default:
		g.write("-sh: " + strings.Fields(line)[0] + ": not found\r\n")
	}
	g.write(shellPrompt)
}
