package sim

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/sys"
)

// Kernel is the model of FreeBSD's kernel at the system-call boundary: it
// implements sys.Sys over the simulated host's state, so the FreeBSD
// backends (ppt, ifnet, kmod, launch) run unchanged over it. Each call is
// one atomic update of the state under the host's lock (system.run), and
// each handler names the FreeBSD source file and function it reproduces and
// the release read. Descriptors are the calling process's own, as in a real
// kernel; the state behind them is shared by every process on the host.
//
// The tables below (cdevs, socketIoctls, sysctls) are filled by the files
// that model each subsystem. A call the model does not know is traced as
// "unmodelled ..." and answers ENOSYS, so a test notices it rather than
// reading an answer the kernel never gave.
type Kernel struct {
	s *system

	mu    sync.Mutex
	files map[int]*file
	next  int
}

var _ sys.Sys = (*Kernel)(nil)

// file is an open descriptor: a character device or a socket.
type file struct {
	path  string // the device's path; "" for a socket
	flags int    // the open flags (unix.O_RDONLY, O_RDWR, ...)
	sock  *socket
}

// socket is an open socket's kind, and for a routing socket what it
// reads.
type socket struct {
	domain, typ, proto int
	route              *routeSocket
}

// cdev is a character device the model serves at a path under /dev.
type cdev struct {
	// open reproduces the driver's d_open; nil accepts any flags.
	open func(t *txn, flags int) error
	// openMode is what open does to the state: query unless it changes
	// it; close reproduces d_close, nil for none.
	openMode mode
	close    func(t *txn) error
	// ioctls are the requests its d_ioctl knows.
	ioctls map[uint32]ioctl
	// pread reproduces its d_read at an offset; nil for none.
	pread func(t *txn, p []byte, off int64) (int, error)
}

// ioctl is the model of one request: what it does to the state, and
// whether it changes it (privileged: traced and written back) or only reads
// it (query).
type ioctl struct {
	mode mode
	// do reproduces the request. f is the descriptor it came on; arg
	// points at the request's argument, as in the caller's memory.
	do func(t *txn, f *file, arg unsafe.Pointer) error
}

// sysctlNode answers a sysctl by name, with the numeric components that
// follow the name.
type sysctlNode func(t *txn, args []int) ([]byte, error)

// The subsystems' entries, registered by their files' init functions.
var (
	cdevs        = map[string]*cdev{}
	socketIoctls = map[uint32]ioctl{}
	sysctls      = map[string]sysctlNode{}
)

func init() {
	// kern.osreldate (sys/kern/kern_mib.c, SYSCTL_INT(_kern,
	// KERN_OSRELDATE, osreldate, ...): an int, the running kernel's
	// __FreeBSD_version; the simulated host's from its osreldate knob.
	sysctls["kern.osreldate"] = func(t *txn, args []int) ([]byte, error) {
		return binary.LittleEndian.AppendUint32(nil, uint32(t.faults.osreldate)), nil
	}
	// hw.model (sys/x86/x86/identcpu.c, SYSCTL_STRING(_hw, HW_MODEL,
	// model, ..., cpu_model, ...)): the CPU's name, of the cpu knob's
	// vendor.
	sysctls["hw.model"] = func(t *txn, args []int) ([]byte, error) {
		return append([]byte(cpuModels[t.faults.cpuVendor]), 0), nil
	}
	// kern.securelevel (freebsd-src main:sys/kern/kern_mib.c, the same
	// node in every copy read, old and CTLFLAG_PRISON ones: SYSCTL_PROC(_kern,
	// KERN_SECURELVL, securelevel, CTLTYPE_INT | ..., sysctl_kern_securelvl,
	// "I", ...)): an int, the securelevel knob (-1 unless it is set).
	sysctls["kern.securelevel"] = func(t *txn, args []int) ([]byte, error) {
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(t.faults.securelevel))), nil
	}
	// hw.machine_arch (sys/kern/kern_mib.c, SYSCTL_PROC(_hw,
	// HW_MACHINE_ARCH, machine_arch, CTLTYPE_STRING, ...): MACHINE_ARCH,
	// a string; the machine_arch knob's, amd64 unless it says aarch64.
	sysctls["hw.machine_arch"] = func(t *txn, args []int) ([]byte, error) {
		return append([]byte(t.faults.machineArch), 0), nil
	}
}

// NewKernel gives the model of the kernel of the simulated host under dir.
func NewKernel(dir string) (*Kernel, error) {
	s, err := openSystem(dir)
	if err != nil {
		return nil, err
	}
	return newKernel(s), nil
}

func newKernel(s *system) *Kernel { return &Kernel{s: s, files: map[int]*file{}, next: 3} }

func (k *Kernel) install(f *file) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	fd := k.next
	k.next++
	k.files[fd] = f
	return fd
}

func (k *Kernel) lookup(fd int) (*file, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f, ok := k.files[fd]
	if !ok {
		return nil, abi.EBADF
	}
	return f, nil
}

// unmodelled records a call the model does not know and answers ENOSYS.
func (k *Kernel) unmodelled(call string) error {
	line := "unmodelled " + call
	if err := k.s.syscall(line, traced, func(*txn) error { return nil }); err != nil {
		return err
	}
	return abi.ENOSYS
}

// Open opens a device the model serves; any other path is ENOENT, as
// devfs answers for a node that does not exist.
func (k *Kernel) Open(path string, flags int) (int, error) {
	d, ok := cdevs[path]
	if !ok {
		d, ok = dynamicCdev(path)
	}
	if !ok {
		return -1, abi.ENOENT
	}
	if d.open != nil {
		if err := k.s.syscall("open "+path, d.openMode, func(t *txn) error { return d.open(t, flags) }); err != nil {
			return -1, err
		}
	}
	return k.install(&file{path: path, flags: flags}), nil
}

// Close closes a descriptor; EBADF if it is not open. Closing a routing
// socket wakes a read pending on it; closing a device runs its d_close.
func (k *Kernel) Close(fd int) error {
	k.mu.Lock()
	f, ok := k.files[fd]
	delete(k.files, fd)
	k.mu.Unlock()
	if !ok {
		return abi.EBADF
	}
	if f.sock != nil && f.sock.route != nil {
		f.sock.route.close()
	}
	if f.sock == nil {
		d, ok := cdevs[f.path]
		if !ok {
			d, ok = dynamicCdev(f.path)
		}
		if ok && d.close != nil {
			return k.s.syscall("close "+f.path, d.openMode, d.close)
		}
	}
	return nil
}

// Ioctl dispatches a request to the device's or the socket's table. A
// request the table lacks is unmodelled.
func (k *Kernel) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	f, err := k.lookup(fd)
	if err != nil {
		return err
	}
	table := socketIoctls
	if f.sock == nil {
		d, ok := cdevs[f.path]
		if !ok {
			d, _ = dynamicCdev(f.path)
		}
		table = d.ioctls
	}
	h, ok := table[req]
	if !ok {
		return k.unmodelled(fmt.Sprintf("ioctl %#x on %s", req, f.name()))
	}
	// The trace line is the handler's to set; a query leaves none. A
	// handler that has to sleep (t.sleep) has saved what it did so far;
	// the call sleeps outside the host's lock until the process it waits
	// for exits or the routing log grows (the close it waits for sends
	// RTM_IFINFO), then runs it again. The watch is set up before the
	// second run, so a wake-up between the two is not lost.
	var w *logWaiter
	defer func() {
		if w != nil {
			w.close()
		}
	}()
	for {
		var sleep int
		err := k.s.syscall(f.name(), h.mode, func(t *txn) error {
			err := h.do(t, f, arg)
			sleep = t.sleep
			return err
		})
		if err != nil || sleep == 0 {
			return err
		}
		if w == nil {
			if w, err = newLogWaiter(k.s.routesPath()); err != nil {
				return err
			}
			continue
		}
		if err := w.wait([]int{sleep}); err != nil {
			return err
		}
	}
}

func (f *file) name() string {
	if f.sock != nil {
		return fmt.Sprintf("socket(%d, %d, %d)", f.sock.domain, f.sock.typ, f.sock.proto)
	}
	return f.path
}

// Sysctl answers a sysctl the model knows; any other name is ENOENT, as
// sysctlbyname(3) answers for a node that does not exist.
func (k *Kernel) Sysctl(name string, args ...int) ([]byte, error) {
	node, ok := sysctls[name]
	if !ok {
		return nil, abi.ENOENT
	}
	var b []byte
	err := k.s.syscall("sysctl "+name, query, func(t *txn) error {
		var err error
		b, err = node(t, args)
		return err
	})
	return b, err
}

// Socket opens the two sockets the model knows (socreate in
// sys/kern/uipc_socket.c): a datagram socket of the local domain, which
// the interface ioctls go through, and a routing socket (rtsock.c). A
// domain the kernel lacks is EAFNOSUPPORT; another type or protocol in
// these domains EPROTONOSUPPORT.
func (k *Kernel) Socket(domain, typ, proto int) (int, error) {
	sock := &socket{domain: domain, typ: typ, proto: proto}
	switch {
	case domain == abi.AF_LOCAL && typ == abi.SOCK_DGRAM && proto == 0:
	case domain == abi.PF_ROUTE && typ == abi.SOCK_RAW && proto == 0:
		r, err := k.s.openRouteSocket()
		if err != nil {
			return -1, fmt.Errorf("socket(PF_ROUTE, SOCK_RAW, 0): %w", err)
		}
		sock.route = r
	case domain != abi.AF_LOCAL && domain != abi.PF_ROUTE:
		return -1, abi.EAFNOSUPPORT
	default:
		return -1, abi.EPROTONOSUPPORT
	}
	return k.install(&file{sock: sock}), nil
}

// Pread reads a device at an offset, through its d_read; a device without
// one is unmodelled.
func (k *Kernel) Pread(fd int, p []byte, off int64) (int, error) {
	f, err := k.lookup(fd)
	if err != nil {
		return 0, err
	}
	d, ok := cdevs[f.path]
	if f.sock != nil || !ok || d.pread == nil {
		return 0, k.unmodelled(fmt.Sprintf("pread %s", f.name()))
	}
	n := 0
	err = k.s.syscall(fmt.Sprintf("pread %s %#x", f.path, off), query, func(t *txn) error {
		var rerr error
		n, rerr = d.pread(t, p, off)
		return rerr
	})
	return n, err
}

// Read reads the next message of a routing socket, blocking until one
// comes; reads of other descriptors are unmodelled.
func (k *Kernel) Read(fd int, p []byte) (int, error) {
	f, err := k.lookup(fd)
	if err != nil {
		return 0, err
	}
	if f.sock == nil || f.sock.route == nil {
		return 0, k.unmodelled(fmt.Sprintf("read %s", f.name()))
	}
	return f.sock.route.read(p)
}
