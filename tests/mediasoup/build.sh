#!/usr/bin/env bash
# Builds mediasoup's worker offline, for the SFU benchmark's side-by-side runs:
#   tests/mediasoup/build.sh <out_dir>     (e.g. target/mediasoup)
# prints the worker's path on stdout (progress goes to stderr); a second run is a no-op.
#
# mediasoup's own install downloads a prebuilt worker or meson subprojects (openssl, libuv,
# libsrtp2, usrsctp, abseil, nlohmann_json, catch2) from hosts this machine cannot reach. So
# this takes the npm tarball of mediasoup $VERSION (which ships the worker's C++ sources and
# libwebrtc), patches worker/meson.build to use Debian's system libraries instead, drops the
# test and fuzzer targets, builds only `mediasoup-worker` (release), and installs the JS
# package with MEDIASOUP_WORKER_BIN set so its postinstall does not try to build the worker.
# Then server.mjs runs with MEDIASOUP_WORKER_BIN=<out_dir>/bin/mediasoup-worker and
# MEDIASOUP_MODULES=<out_dir>/node_modules.
set -euo pipefail

VERSION=3.9.17
SDP_TRANSFORM=2.15.0
WS=8.18.3
APT_PACKAGES=(g++ make pkg-config python3 meson ninja-build
  libssl-dev nlohmann-json3-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev)

out=$(realpath -m "${1:?usage: build.sh <out_dir>}")
worker="$out/bin/mediasoup-worker"
src="$out/src/mediasoup-$VERSION"
build="$out/build-$VERSION"
log() { echo "mediasoup build: $*" >&2; }

installed() {
  [[ -x $worker ]] &&
    [[ $(node -p "require('$out/node_modules/mediasoup/package.json').version" 2>/dev/null) == "$VERSION" ]] &&
    [[ -f $out/node_modules/sdp-transform/package.json && -f $out/node_modules/ws/package.json ]]
}
if installed; then
  echo "$worker"
  exit 0
fi

# System packages, only those missing.
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
command -v node >/dev/null && command -v npm >/dev/null || {
  log "node and npm are needed"
  exit 1
}

mkdir -p "$out/src" "$out/bin"
tarball="$out/src/mediasoup-$VERSION.tgz"
if [[ ! -f $tarball ]]; then
  log "fetching mediasoup@$VERSION"
  (cd "$out/src" && npm pack --silent "mediasoup@$VERSION" >&2)
fi

# The source, patched; re-extracted whenever the patch did not finish.
if [[ ! -f $src/.patched ]]; then
  rm -rf "$src" "$build"
  mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  log "patching worker/meson.build for Debian's libraries"
  python3 - "$src/worker" <<'PY'
import re, sys, pathlib

worker = pathlib.Path(sys.argv[1])
# Debian's abseil (20220623) needs C++14; its absl::optional etc. stay abseil's own types.
system_deps = """
# Patched by tests/mediasoup/build.sh: Debian's system libraries instead of subprojects.
openssl_dep = dependency('openssl', version: '>= 3.0')
nlohmann_json_dep = dependency('nlohmann_json')
libuv_dep = dependency('libuv')
libsrtp2_pc = dependency('libsrtp2')
# mediasoup includes <srtp.h>; Debian installs it under include/srtp2.
libsrtp2_dep = declare_dependency(
  dependencies: libsrtp2_pc,
  compile_args: ['-I' + libsrtp2_pc.get_variable(pkgconfig: 'includedir') / 'srtp2'],
)
usrsctp_dep = dependency('usrsctp')
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'), dependency('absl_flat_hash_set'),
  dependency('absl_btree'), dependency('absl_inlined_vector'),
])
absl_strings_dep = dependency('absl_strings')
absl_types_dep = declare_dependency(dependencies: [dependency('absl_optional'), dependency('absl_memory')])
"""

def drop_subprojects(text):
    return re.sub(r"^\w+_proj = subproject\(\n.*?^\)\n", "", text, flags=re.S | re.M)

def use_variables(text):
    return re.sub(r"\w+_proj\.get_variable\('(\w+)'\)", r"\1", text)

main = worker / "meson.build"
text = main.read_text()
text = text.replace("'cpp_std=c++11'", "'cpp_std=c++14'")
text = drop_subprojects(text)
# The Windows-only getopt subproject goes with its block.
text = re.sub(r"^if host_machine.system\(\) == 'windows'\n  wingetopt_proj.*?^endif\n", "", text, flags=re.S | re.M)
text = text.replace("libwebrtc_include_directories = ", system_deps + "\nlibwebrtc_include_directories = ", 1)
# libmediasoup-worker (not built) linked the subprojects' static libraries whole.
text = re.sub(r"^link_whole = \[\n.*?^\]\n", "link_whole = [\n  libwebrtc,\n]\n", text, flags=re.S | re.M)
text = use_variables(text)
# The test (catch2) and fuzzer targets go.
text = text[: text.index("mediasoup_worker_test = executable(")]
assert "subproject(" not in text and "_proj" not in text, "meson.build still refers to subprojects"
main.write_text(text)

webrtc = worker / "deps" / "libwebrtc" / "meson.build"
text = use_variables(drop_subprojects(webrtc.read_text()))
assert "subproject(" not in text and "_proj" not in text, "libwebrtc's meson.build still refers to subprojects"
webrtc.write_text(text)
PY
  touch "$src/.patched"
fi

if [[ ! -x $worker ]]; then
  if [[ ! -f $build/build.ninja ]]; then
    rm -rf "$build"
    meson setup "$build" "$src/worker" --buildtype=release -Db_ndebug=true -Db_pie=true -Db_staticpic=true --wrap-mode=nodownload >&2
  fi
  log "building mediasoup-worker (takes a while on 2 cores)"
  ninja -C "$build" -j "$(nproc)" mediasoup-worker >&2
  cp "$build/mediasoup-worker" "$worker.tmp"
  mv "$worker.tmp" "$worker"
fi

# The JS package (its postinstall skips the worker build when MEDIASOUP_WORKER_BIN is set)
# and the signalling server's two modules.
log "installing the mediasoup package, sdp-transform and ws"
[[ -f $out/package.json ]] || echo '{"name":"mediasoup-bench","private":true}' >"$out/package.json"
MEDIASOUP_WORKER_BIN="$worker" npm install --prefix "$out" --no-audit --no-fund --loglevel=error \
  "$tarball" "sdp-transform@$SDP_TRANSFORM" "ws@$WS" >&2

installed || {
  log "the install did not complete"
  exit 1
}
echo "$worker"
