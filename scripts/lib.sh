# Helpers shared by scripts/setup, scripts/test and LoadTests/bench-peers.
# Source it from the repository root.

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
# The Python Tidepool embeds: Debian's, never a pyenv/conda python3 on PATH.
SYSTEM_PYTHON=/usr/bin/python3

# Swift: use the one on PATH, else the toolchain this machine kind ships in /opt/swift.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt_packages PKG...: apt-get install only the ones that are missing.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        # Installed, not merely known to dpkg (a removed package keeps its config files).
        [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]} (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_venv DIR: a venv made by $SYSTEM_PYTHON with pip in it; rebuilt when
# made by another Python, or when its creation was cut short (`python -m venv`
# installs pip last: Ctrl-C on a first run leaves a venv pip cannot install into).
ensure_venv() {
    local dir=$1 want have=""
    want=$("$SYSTEM_PYTHON" -c 'import sys; print(sys.executable, sys.version)' 2>/dev/null) || {
        echo "error: $SYSTEM_PYTHON not found (apt-get install python3)" >&2; return 1; }
    if [ -x "$dir/bin/python" ] && [ -f "$dir/pyvenv.cfg" ]; then
        # `home` in pyvenv.cfg names the interpreter's directory; the version must match too.
        if grep -qE '^home *= */usr/bin$' "$dir/pyvenv.cfg"; then
            have=$("$dir/bin/python" -c 'import pip, sys; print(sys._base_executable, sys.version)' 2>/dev/null || true)
        fi
    fi
    if [ -n "$have" ] && [ "${have#* }" = "${want#* }" ]; then
        return 0
    fi
    if [ -e "$dir" ]; then
        log "rebuilding $dir (not made by $SYSTEM_PYTHON, or without pip)"
        rm -rf "$dir"
    else
        log "creating $dir"
    fi
    "$SYSTEM_PYTHON" -m venv "$dir"
}

# ensure_pip_install VENV STAMP_INPUT... -- REQUIREMENT...
# pip-installs the requirements unless the hash of the stamp inputs and the
# requirement list is unchanged since the last successful install.
ensure_pip_install() {
    local venv=$1; shift
    local inputs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do inputs+=("$1"); shift; done
    shift || true
    local reqs=() r
    for r in "$@"; do
        # Allow one argument holding several newline-separated requirements.
        while IFS= read -r line; do [ -n "$line" ] && reqs+=("$line"); done <<<"$r"
    done
    local stamp="$venv/.tidepool-stamp" hash
    hash=$( { [ ${#inputs[@]} -gt 0 ] && cat "${inputs[@]}"; printf '%s\n' "${reqs[@]}"; } | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return 0
    fi
    log "installing into $venv: ${reqs[*]}"
    "$venv/bin/python" -m pip install --quiet "${reqs[@]}"
    echo "$hash" >"$stamp"
}

# pyproject_dependencies FILE: the [project] dependencies, one per line.
pyproject_dependencies() {
    "$SYSTEM_PYTHON" - "$1" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f).get("project", {})
print("\n".join(project.get("dependencies", [])))
PY
}

# build_release: swift build -c release (into .build/, the default), with the
# Swift runtime and Foundation linked statically: the host then maps only the
# parts it uses (RSS 23.6 MB instead of 29.6 MB with the shared libraries,
# `LoadTests/bench-goals --only memory`). lld, from the Swift toolchain, links
# it: GNU gold prints glibc's link-time "mktemp is dangerous" warning for
# Foundation's static archive (Foundation never calls it on our paths).
#
# CPython is linked statically too, from Debian's non-PIC libpython3.11.a (the
# build /usr/bin/python3.11 itself uses): an instance then runs a request in
# 10 % fewer instructions than with libpython3.11.so (callgrind on
# scripts/dev/instbench.py: 450k -> 407k per /api/data request). The archive
# is first made one relocatable object, .build/libpython3.11-static.o, which
# Package.swift links when it exists: the static Swift runtime links with
# `--exclude-libs ALL`, which would hide an archive's symbols from extension
# modules such as _json that must bind to this copy of the C API.
RELEASE_BUILD_FLAGS=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld)
STATIC_PYTHON_OBJECT=.build/libpython3.11-static.o
build_release() {
    prepare_static_python
    log "swift build ${RELEASE_BUILD_FLAGS[*]}"
    swift build "${RELEASE_BUILD_FLAGS[@]}"
}
prepare_static_python() {
    local archive lld
    archive=$("$SYSTEM_PYTHON" -c 'import sysconfig as s; print(s.get_config_var("LIBPL") + "/" + s.get_config_var("LIBRARY"))')
    lld="$(dirname "$(readlink -f "$(command -v swift)")")/ld.lld"
    if [ ! -f "$archive" ] || [ ! -x "$lld" ]; then
        log "no $archive or $lld: linking the shared libpython"
        rm -f "$STATIC_PYTHON_OBJECT"
        return
    fi
    [ "$STATIC_PYTHON_OBJECT" -nt "$archive" ] && return
    mkdir -p .build
    "$lld" -r --whole-archive "$archive" -o "$STATIC_PYTHON_OBJECT"
}
