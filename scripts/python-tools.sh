#!/usr/bin/env bash
# Installs the PyPI command-line tools of scripts/python-tools.txt (pinned) into the venv
# /opt/mmkt-tools and links their commands into /usr/local/bin (as root). Run by
# scripts/bootstrap.sh, and alone by the CI jobs that need only these tools.
#
# The venv is made with Debian's /usr/bin/python3, never a python3 found first on PATH (pyenv,
# conda). pip runs only when the list or the python changed, so a re-run takes milliseconds.
set -euo pipefail

log() { printf '[python-tools] %s\n' "$*" >&2; }

TOOLS_VENV=/opt/mmkt-tools
TOOLS_LIST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/python-tools.txt"
LINK_DIR=/usr/local/bin

if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
  log "installing Debian's python3 and python3-venv"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends python3 python3-venv
fi

stamp="$TOOLS_VENV/.mmkt-tools.sha256"
wanted="$(sha256sum "$TOOLS_LIST" | cut -d' ' -f1) $(/usr/bin/python3 -V 2>&1)"
# The venv is made anew when the list or the python changed, when another python made it, or
# when it is broken, so it holds exactly the listed tools (pip's cache keeps that quick).
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] \
  || ! grep -qs '^home = /usr/bin$' "$TOOLS_VENV/pyvenv.cfg" \
  || ! "$TOOLS_VENV/bin/python" -c '' 2>/dev/null; then
  log "installing $TOOLS_LIST into a new $TOOLS_VENV (/usr/bin/python3)"
  /usr/bin/python3 -m venv --clear "$TOOLS_VENV"
  "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --prefer-binary \
    -r "$TOOLS_LIST"
  printf '%s\n' "$wanted" >"$stamp"
fi

# Every command that a listed distribution puts in the venv's bin/ (entry points and shipped
# binaries alike); its dependencies' commands (pytest, pygmentize, ...) stay in the venv.
commands="$("$TOOLS_VENV/bin/python" - "$TOOLS_VENV/bin" "$TOOLS_LIST" <<'PY'
import importlib.metadata as md, os, re, sys
canon = lambda name: re.sub(r"[-_.]+", "-", name).lower()
bindir = os.path.realpath(sys.argv[1])
listed = set()
for line in open(sys.argv[2]):
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#")[0])
    if name:
        listed.add(canon(name.group(1)))
for dist in md.distributions():
    if canon(dist.metadata["Name"]) not in listed:
        continue
    for f in dist.files or []:
        path = os.path.realpath(dist.locate_file(f))
        if os.path.dirname(path) == bindir and os.access(path, os.X_OK):
            print(os.path.basename(path))
PY
)"
for cmd in $commands; do
  link="$LINK_DIR/$cmd"
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    log "not linking $cmd: $link is a file of its own (remove it to use the pinned one)"
    continue
  fi
  ln -sfn "$TOOLS_VENV/bin/$cmd" "$link"
done
# Links to commands that are gone (a tool dropped from the list) are removed.
for link in "$LINK_DIR"/*; do
  case "$(readlink "$link" 2>/dev/null)" in
    "$TOOLS_VENV"/bin/*) [ -e "$link" ] || rm -f "$link" ;;
  esac
done
log "ready: $(echo "$commands" | tr '\n' ' ')"
