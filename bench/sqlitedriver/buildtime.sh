#!/usr/bin/env bash
# Measures `go build` of a tiny main per SQLite driver
# (testdata/buildmain/<driver>/main.go): cold (empty build cache; modules
# already downloaded, the standard library compiled too) as wall time and
# as CPU time (user+sys of go and its children: steadier than wall time on
# a shared machine), relink (same cache, -X flag changed: what an
# edit-compile loop pays at least), binary size, and whether the binary
# works. Needs /usr/bin/time (Debian package "time").
#
# Usage: bash bench/sqlitedriver/buildtime.sh [rounds]   (default 1)
# Needs about 2-4 minutes per round on 2 cores. Run it on a quiet machine:
# it reports the load average next to each number.
set -euo pipefail
cd "$(dirname "$0")/../.."   # module root
rounds=${1:-1}
pkg=./bench/sqlitedriver/testdata/buildmain
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gobin=$(dirname "$(readlink -f "$(command -v go)")")

now() { date +%s.%N; }

# case: name driver env...
measure() {
	local name=$1 drv=$2; shift 2
	local cache="$tmp/cache-$name" bin="$tmp/bin-$name"
	rm -rf "$cache"
	local load t0 t1 t2 cold cpu relink size out
	load=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(now)
	/usr/bin/time -o "$tmp/cpu" -f '%U %S' env "$@" GOCACHE="$cache" go build -o "$bin" "$pkg/$drv"
	t1=$(now)
	cpu=$(awk '{print $1 + $2}' "$tmp/cpu")
	env "$@" GOCACHE="$cache" go build -ldflags=-X=main.build=relink -o "$bin" "$pkg/$drv"
	t2=$(now)
	cold=$(echo "$t1 - $t0" | bc)
	relink=$(echo "$t2 - $t1" | bc)
	size=$(( $(stat -c %s "$bin") / 1024 / 1024 ))
	if out=$("$bin" 2>&1); then :; else out="FAILS: $out"; fi
	printf '%-20s cold %6.1fs wall %6.1fs cpu  relink %5.2fs  %3d MiB  load %5s  %s\n' \
		"$name" "$cold" "$cpu" "$relink" "$size" "$load" "$(echo "$out" | head -c 100)"
	rm -rf "$cache"
}

go version
for r in $(seq "$rounds"); do
	echo "round $r"
	measure none-cgo1            none    CGO_ENABLED=1
	measure modernc-cgo0         modernc CGO_ENABLED=0
	measure modernc-cgo1         modernc CGO_ENABLED=1
	measure ncruces-cgo0         ncruces CGO_ENABLED=0
	measure mattn-cgo1           mattn   CGO_ENABLED=1
	measure mattn-cgo0           mattn   CGO_ENABLED=0
	# No C compiler on PATH and CGO_ENABLED unset: the go command turns cgo
	# off by itself, and mattn silently builds its stub.
	measure mattn-no-cc-on-path  mattn   -u CGO_ENABLED -u CC PATH="$gobin"
done
