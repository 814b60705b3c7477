#!/bin/sh
# Usage: tools/service-venv.sh NAME PACKAGE...
#
# A private virtualenv for a service the tests run as a real server
# (keystone, later placement, nova...), kept out of .venv because its
# dependencies need not agree with ours: $SERVICES_DIR/NAME (default
# .services/NAME at the top of the repository), with PACKAGE... installed
# by pip.
#
# Idempotent: the stamp file NAME/.installed lists the packages the venv was
# built with, one per line, and is written last.  When it names exactly the
# packages asked for, nothing is done (the stamp is only touched, so make
# sees it up to date).  Otherwise the venv is built from scratch, so a venv
# left half-built by an interrupted run is never used.
#
# PYTHON picks the interpreter (default python3.11, else python3).
set -eu

if [ "$#" -lt 2 ]; then
    echo "usage: $0 NAME PACKAGE..." >&2
    exit 2
fi
name=$1
shift
case $name in
    ''|*/*|.*) echo "$0: invalid service name: '$name'" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
services=${SERVICES_DIR:-$top/.services}
dest=$services/$name
stamp=$dest/.installed
python=${PYTHON:-$(command -v python3.11 || command -v python3)}

wanted=$(printf '%s\n' "$@")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] &&
        [ -x "$dest/bin/python" ]; then
    touch "$stamp"
    exit 0
fi

echo "Building the $name service venv in $dest: $*"
rm -rf "$dest"
mkdir -p "$services"
"$python" -m venv "$dest"
"$dest/bin/python" -m pip install -q "$@"
printf '%s\n' "$wanted" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "$name service venv ready: $dest"
