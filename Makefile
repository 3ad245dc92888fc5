# fe2: two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Prebuilt petsc/petsc4py and scikit-sparse wheels (built on this machine kind) when the shared folder exists;
# otherwise pip builds PETSc from source (about 20 minutes on two cores).
WHEELS := $(firstword $(wildcard ../shared/wheels $(FE2_WHEELS)))
FIND_LINKS := $(if $(WHEELS),--find-links $(abspath $(WHEELS)),)
BUILD_PETSC := $(if $(WHEELS),0,1)
EXTRAS ?= petsc,cholmod,mesh,dev,parallel,docs,fmm,torch

.PHONY: install demo test test-all verify bench lint docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml .ci/system-deps.sh
	FE2_BUILD_PETSC=$(BUILD_PETSC) bash .ci/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(FIND_LINKS) -e ".[$(EXTRAS)]"
	$(PY) -c "import fe2, skfem, numba, meshio, pyvista, sksparse.cholmod; from petsc4py import PETSc; print('fe2', fe2.__version__, 'petsc', PETSc.Sys.getVersion())"
	touch $@

demo: install
	$(VENV)/bin/fe2 demo --out out/demo

test: install
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider

test-all: install
	$(PY) -m pytest -q -p no:cacheprovider

verify: install
	$(VENV)/bin/fe2 verify --out verification/report

# every benchmark (installs the bench extra: GillesPy2, FiPy), a few hours on two cores;
# figures go to bench/RESULTS.md by hand
bench: install
	$(PY) -m pip install -q $(FIND_LINKS) -e ".[$(EXTRAS),bench]"
	$(PY) bench/macro_solvers.py
	$(PY) bench/rve.py
	$(PY) bench/atomistic.py
	$(PY) bench/hmm.py
	$(PY) bench/fe2_vs_dns.py
	$(PY) bench/fe2_parallel.py
	$(PY) bench/gas.py
	OMP_NUM_THREADS=1 $(PY) bench/fmm.py
	$(PY) bench/fft.py
	$(PY) bench/kinetics.py
	$(PY) bench/timescales.py
	$(PY) bench/fluids.py
	OPENBLAS_NUM_THREADS=1 $(PY) bench/phasefield.py
	$(PY) bench/surrogate.py
	$(PY) bench/uq.py
	$(PY) bench/pinn.py

# the documentation site: API reference from the docstrings, gallery of examples/
docs: install
	rm -rf docs/reference/generated docs/auto_examples docs/_gallery_src
	$(PY) -m sphinx -b html -W --keep-going docs docs/_build/html
	@echo "open docs/_build/html/index.html"

lint: install
	$(VENV)/bin/ruff check fe2 tests examples bench verification meshes

clean:
	rm -rf $(VENV) out .pytest_cache docs/_build
