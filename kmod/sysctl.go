package kmod

import (
	"encoding/binary"
	"fmt"
)

// kernelFileID is the id of the kernel itself among the linker's files: the
// first file, holding the modules built into the kernel.
const kernelFileID = 1

// decodeInt decodes an integer sysctl's value: int and u_int have 4 bytes,
// long and u_long 8. A u_int at or above 2^31 would read as negative; the
// sysctls wifibox reads are far below that.
func decodeInt(b []byte) (int64, error) {
	switch len(b) {
	case 4:
		return int64(int32(binary.NativeEndian.Uint32(b))), nil
	case 8:
		return int64(binary.NativeEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("%d bytes is no integer", len(b))
}
