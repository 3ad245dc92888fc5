#!/usr/bin/env bash
# Install the Debian packages fe2 needs when they are missing:
#   libopenblas0, liblapack3  BLAS/LAPACK used at run time by libpetsc (petsc4py)
#   libcholmod3               SuiteSparse's CHOLMOD, used at run time by scikit-sparse
#   libfftw3-dev              FFTW, to build mpi4py-fft (distributed FFT voxel cells)
#   libopenblas-dev, libsuitesparse-dev only when PETSc and scikit-sparse must be built
#                             from source (no prebuilt wheels)
# Needs root (as on CI and the development machines); prints what it does.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libopenblas0 liblapack3 libcholmod3 libfftw3-dev; do have "$p" || need+=("$p"); done
if [ "${FE2_BUILD_PETSC:-0}" = 1 ]; then
  for p in libopenblas-dev libsuitesparse-dev; do have "$p" || need+=("$p"); done
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: all present"
  exit 0
fi
echo "system-deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
