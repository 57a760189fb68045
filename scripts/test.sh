#!/bin/sh
# Runs every check of the project; exits non-zero when anything fails.
set -eu
cd "$(dirname "$0")/.."
PUREGO=-gcflags=github.com/ebitengine/purego/internal/fakecgo=-std

step() { printf '\n== %s\n' "$*"; }

step tools
sh scripts/tools.sh

step gofmt
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted: $unformatted"
	exit 1
fi

step go vet linux
go vet ./...
for arch in amd64 arm64; do
	step go vet freebsd/$arch
	GOOS=freebsd GOARCH=$arch CGO_ENABLED=0 go vet $PUREGO ./...
done

# staticcheck cannot pass purego's -gcflags, so under GOOS=freebsd it
# reports purego's internal/fakecgo as failing to compile; that report is
# dropped, everything else fails the step. staticcheck.conf says which
# checks run.
STATICCHECK="$(go env GOPATH)/bin/staticcheck"
step staticcheck linux
"$STATICCHECK" ./...
for arch in amd64 arm64; do
	step staticcheck freebsd/$arch
	found=$(GOOS=freebsd GOARCH=$arch CGO_ENABLED=0 "$STATICCHECK" ./... 2>&1 | grep -v '/internal/fakecgo' || true)
	if [ -n "$found" ]; then
		echo "$found"
		exit 1
	fi
done

step cross-build freebsd
make -s freebsd
step "the release build (nosim) leaves the simulated host out"
if GOOS=freebsd CGO_ENABLED=0 go list -tags nosim -deps ./cmd/wifibox | grep -qx github.com/wifibox/wifibox/sim; then
	echo "cmd/wifibox built with -tags nosim still links package sim"
	exit 1
fi
if strings build/freebsd-amd64/wifibox | grep -q -e __sim-bhyve -e WIFIBOX_SIMULATE; then
	echo "the release binary still knows __sim-bhyve or WIFIBOX_SIMULATE"
	exit 1
fi
step "freebsd/amd64 binary: libc.so.7 and libthr.so.3, never libpthread.so or libvmmapi at load time"
needed=$(readelf -d build/freebsd-amd64/wifibox | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "needs: $needed"
case " $needed " in *" libc.so.7 "*) ;; *) echo "missing libc.so.7"; exit 1;; esac
case " $needed " in *" libthr.so.3 "*) ;; *) echo "missing libthr.so.3"; exit 1;; esac
case "$needed" in *libpthread*|*libvmmapi*) echo "must not need libpthread or libvmmapi"; exit 1;; esac

step "Makefile as FreeBSD's make reads it"
bmake -n all freebsd test demo bench conformance conformance-freebsd >/dev/null

step "FreeBSD integration: manual page, shell code, rc.d script, install under both makes"
sh scripts/check-install.sh

step go test
go test -count=1 ./...

# The race detector over the packages whose tests run in-process (the
# state machines, the seam and its model's conformance, the relay): not
# over cmd/wifibox, sim and console, whose tests spend their time in the
# wifibox, bhyve and guest processes they start, where -race would only
# slow them.
step "go test -race (in-process packages)"
go test -race -count=1 ./abi ./bhyve ./config ./conformance ./doctor ./failure \
	./ifnet ./internal/... ./kmod ./launch ./legacy ./lifecycle ./logging \
	./logview ./manager ./ppt ./procs ./relay ./rtsock ./vmmapi
