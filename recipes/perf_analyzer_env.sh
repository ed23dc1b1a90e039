#!/usr/bin/env bash
# Set up a runnable copy of NVIDIA Triton's `perf_analyzer` on a plain Debian 12
# x86_64 box (no GPU, no CUDA toolkit), using only PyPI and Debian packages.
#
# Why: perf_analyzer is not packaged on its own; it ships as a prebuilt binary
# inside the tritonclient 2.41.0 wheel. The project uses a newer tritonclient
# elsewhere, so instead of installing that old wheel into a virtualenv we only
# download it and pull the binary out. The binary links against libb64 (Debian:
# libb64-0d) and libcudart.so.12 (PyPI: nvidia-cuda-runtime-cu12); the CUDA
# runtime only needs to be loadable, not usable, for a client-side tool.
#
# Usage: recipes/perf_analyzer_env.sh [DEST]   (default: .perf_analyzer)
# Result: DEST/perf_analyzer, a wrapper that sets LD_LIBRARY_PATH and runs the
# real binary (DEST/bin/perf_analyzer). Re-running is cheap: it skips whatever
# is already in place.
set -euo pipefail

TRITON_VER=2.41.0       # Triton 23.12, built against CUDA 12.3
CUDART_VER=12.3.101     # matching nvidia-cuda-runtime-cu12
PY=${PYTHON:-python3}
DEST=${1:-.perf_analyzer}
mkdir -p "$DEST/bin" "$DEST/lib"
DEST=$(cd "$DEST" && pwd)
STAMP="$DEST/.installed"
WANT="tritonclient==$TRITON_VER nvidia-cuda-runtime-cu12==$CUDART_VER"

if ! dpkg -s libb64-0d >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libb64-0d
fi

# extract WHEEL MEMBER OUT: copy one file out of a wheel (a zip) and make it executable.
extract() {
  "$PY" -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as s, open(sys.argv[3], "wb") as d:
    shutil.copyfileobj(s, d)' "$1" "$2" "$3"
  chmod 755 "$3"
}

if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ] || [ ! -x "$DEST/bin/perf_analyzer" ] \
   || [ ! -f "$DEST/lib/libcudart.so.12" ]; then
  TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
  "$PY" -m pip download -q --no-deps -d "$TMP" \
    "tritonclient==$TRITON_VER" "nvidia-cuda-runtime-cu12==$CUDART_VER"
  extract "$TMP"/tritonclient-"$TRITON_VER"-*.whl \
    "tritonclient-$TRITON_VER.data/data/bin/perf_analyzer" "$DEST/bin/perf_analyzer"
  extract "$TMP"/nvidia_cuda_runtime_cu12-"$CUDART_VER"-*.whl \
    nvidia/cuda_runtime/lib/libcudart.so.12 "$DEST/lib/libcudart.so.12"
  echo "$WANT" > "$STAMP"
fi

cat > "$DEST/perf_analyzer" <<'EOF'
#!/usr/bin/env bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/bin/perf_analyzer" "$@"
EOF
chmod 755 "$DEST/perf_analyzer"
echo "$DEST/perf_analyzer"
