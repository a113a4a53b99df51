#!/bin/sh
# Usage: check-static-elf.sh BIN [--pie | --no-pie]
# Exit 1 with one line unless BIN is an ELF file without a PT_INTERP program
# header (statically linked; with --pie also position-independent, e_type
# ET_DYN; with --no-pie linked at a fixed address, e_type ET_EXEC). Read
# with od: file(1) and readelf are not on every host, and build-workload.sh
# and build-isorun.sh both need it.
set -eu
BIN=$1
u() { od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' '; }
[ "$(od -An -c -j 1 -N 3 "$BIN" | tr -d ' ')" = "ELF" ] || { echo "error: $BIN is not an ELF file" >&2; exit 1; }
case "${2:-}" in
--pie) [ "$(u "$BIN" 16 2)" = 3 ] || { echo "error: $BIN is not position-independent (e_type is not ET_DYN)" >&2; exit 1; } ;;
--no-pie) [ "$(u "$BIN" 16 2)" = 2 ] || { echo "error: $BIN is position-independent or not an executable (e_type is not ET_EXEC)" >&2; exit 1; } ;;
"") ;;
*) echo "usage: check-static-elf.sh BIN [--pie | --no-pie]" >&2; exit 2 ;;
esac
phoff=$(u "$BIN" 32 8)
phentsize=$(u "$BIN" 54 2)
phnum=$(u "$BIN" 56 2)
i=0
while [ "$i" -lt "$phnum" ]; do
    if [ "$(u "$BIN" $((phoff + i * phentsize)) 4)" = 3 ]; then
        echo "error: $BIN has a PT_INTERP program header: it is not statically linked" >&2
        exit 1
    fi
    i=$((i + 1))
done
