# The executable edition of "Demystifying ResNet": `make book` builds the site, `make test` runs the tests.
# Both create the virtual environment .venv on first use, install the exact versions of the lock
# file requirements/lock.txt into it, and reinstall only when the lock or pyproject.toml changes.
# `make lock` regenerates the lock files (uv pip compile); `make test-lowest` runs the fast tests
# with the lowest versions pyproject.toml's ranges allow (requirements/lowest.txt, in .venv-lowest).

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-stamp
PROFILE  ?= default
NAME     ?=
SITE     ?= $(if $(filter default,$(PROFILE)),_build/html,_build/$(PROFILE)/html)
ARGS     ?=
LOCK     := requirements/lock.txt
LOWEST   := requirements/lowest.txt
VENV_LOWEST := .venv-lowest
# `make lock`: uv, pinned, in a throwaway venv; the CPU build of torch comes from TORCH_WHEELS (a folder
# or page with torch-2.13.0+cpu's wheel, e.g. https://download.pytorch.org/whl/cpu/torch/), never PyPI.
UV_VERSION   ?= 0.13.9
TOOLS        ?= .venv-tools
TORCH_WHEELS ?= /opt/wheels
COMPILE  = pyproject.toml --extra book --extra cluster --extra test -c requirements/torch-cpu.txt \
           --python-version 3.11 --python-platform x86_64-manylinux_2_28
# The lock pins torch's CPU build (torch==2.13.0+cpu), which is on PyTorch's CPU wheel index, not on
# PyPI. pip is sent there only when it cannot find that wheel without any index (a wheel folder in pip's
# own configuration, as on a machine with torch on disk), so a machine that cannot reach the index never
# waits on it (scripts/torch_index.py). TORCH_INDEX=<a mirror> for another index; TORCH_INDEX= for none.
TORCH_INDEX  ?= https://download.pytorch.org/whl/cpu
# $(call pip_install_lock,PYTHON,LOCKFILE): install a lock file's exact versions, torch from TORCH_INDEX.
# (pip byte-compiles every module: half of the install's 70 s on 2 cores, but without it a machine with
# PYTHONDONTWRITEBYTECODE set, as this one, compiles every import of every process again: make test
# took 341 s for its first pass instead of 203.)
define pip_install_lock
@args=$$($(1) scripts/torch_index.py $(2) "$(TORCH_INDEX)") || exit 2; \
	echo "$(1) -m pip install $$args -r $(2)"; \
	$(1) -m pip install $$args -r $(2) || { echo "make: pip could not install $(2) (torch's CPU build comes from TORCH_INDEX=$(TORCH_INDEX) when no wheel folder of pip's own has it)" >&2; exit 1; }
endef
# the test processes side by side (pytest-xdist): auto is one per core; JOBS=0 runs the tests in pytest's own process
JOBS     ?= auto
# the second pass of `make test`: the fast tests again with one BLAS / OpenMP thread (other kernels,
# other summation orders: a result that depends on them fails here)
ONE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: book profile-book test test-lowest lock chapter fork keep keep-verdicts check-site check-site-browser screenshot linkcheck venv clean help

help:
	@echo "make book     [PROFILE=default] [ARGS='--force -p chapter.param=value']  execute every chapter, build $(SITE)/index.html"
	@echo "make profile-book [PROFILE=default] [ARGS=--force]                       make book, then where each chapter's time went (benchmarks/README.md)"
	@echo "make test     [ARGS='-k book'] [JOBS=auto]                               the tests with one BLAS thread (incl. a whole-book build at the ci profile), then the fast ones with the default threads; JOBS processes side by side"
	@echo "make test-lowest [ARGS=...]                                              the fast tests with the lowest versions allowed (.venv-lowest)"
	@echo "make lock     [LOCK_ARGS=--upgrade]                                      regenerate requirements/lock.txt and lowest.txt (uv pip compile)"
	@echo "make chapter  NAME=theorems [PROFILE=ci]                                 execute one chapter (and the intro), rebuild the site"
	@echo "make fork     FROM=initial_point TO=my_fork                              copy a chapter (page, profile sections, toc line)"
	@echo "make keep     FIG=mnist/fig7 PROFILE=paper                               keep a figure of a long run in book/figures/"
	@echo "make keep-verdicts PROFILE=fashion [CHAPTERS='mnist dynamics']        keep a held-out replication's verdicts in book/replications/"
	@echo "make check-site [PROFILE=...]                                            check the built site's links, anchors and images"
	@echo "make check-site-browser [PROFILE=...]                                    the same, plus MathJax and images in headless Chromium"
	@echo "make screenshot [PROFILE=...]                                            _build/screenshot.png of the intro page"
	@echo "make linkcheck  [PROFILE=...]                                            the external links of the book that make book PROFILE=... staged (needs the internet)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(LOCK) | $(PY)
	$(call pip_install_lock,$(PY),$(LOCK))
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

$(VENV_LOWEST)/bin/python:
	$(PYTHON) -m venv $(VENV_LOWEST)

$(VENV_LOWEST)/.installed-stamp: pyproject.toml $(LOWEST) | $(VENV_LOWEST)/bin/python
	$(call pip_install_lock,$(VENV_LOWEST)/bin/python,$(LOWEST))
	$(VENV_LOWEST)/bin/python -m pip install --no-deps -e .
	touch $@

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install uv==$(UV_VERSION)

lock: $(TOOLS)/bin/uv
	$(TOOLS)/bin/uv pip compile $(COMPILE) --find-links $(TORCH_WHEELS) $(LOCK_ARGS) -o $(LOCK) \
	    --custom-compile-command "make lock  (uv $(UV_VERSION): uv pip compile $(COMPILE) --find-links TORCH_WHEELS -o $(LOCK))"
	$(TOOLS)/bin/uv pip compile $(COMPILE) --find-links $(TORCH_WHEELS) $(LOCK_ARGS) -o $(LOWEST) --resolution lowest-direct \
	    --custom-compile-command "make lock  (uv $(UV_VERSION): uv pip compile $(COMPILE) --find-links TORCH_WHEELS -o $(LOWEST) --resolution lowest-direct)"

venv: $(STAMP)

book: $(STAMP)
	$(PY) -m shortcut.book.build --profile $(PROFILE) $(ARGS)

# where the time goes: each executed chapter's start-up, set-up, GD, Hessians, eigendecompositions, CIFAR
# steps and the rest, and the site build (a cold build: ARGS=--force, or a fresh results folder)
profile-book: $(STAMP)
	$(PY) -m shortcut.book.build --profile $(PROFILE) --profile-time $(ARGS)

# Pass 1, every test with one BLAS / OpenMP thread per process; pass 2, the fast ones again with the
# libraries' own thread counts (other kernels, other summation orders). One thread in the pass with the
# most processes: test processes side by side whose BLAS threads outnumber the cores spin waiting on
# each other (on 2 cores, 325 s for pass 1 with the default threads, 183 s with one).
test: $(STAMP)
	@echo "==> every test, $(JOBS) processes side by side, one BLAS / OpenMP thread each ($(ONE_THREAD))"
	$(ONE_THREAD) $(PY) -m pytest -n $(JOBS) $(ARGS)
	@echo "==> the fast tests again, with the libraries' own thread counts (the machinery's, thread_free, left out)"
	$(PY) -m pytest -m "not slow and not thread_free" -n $(JOBS) $(ARGS) || test $$? -eq 5

test-lowest: $(VENV_LOWEST)/.installed-stamp
	$(VENV_LOWEST)/bin/python -m pytest -m "not slow" -n $(JOBS) $(ARGS) || test $$? -eq 5

chapter: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make chapter NAME=<chapter> [PROFILE=ci]"; exit 2; }
	$(PY) -m shortcut.book.build --profile $(PROFILE) --chapters $(NAME) $(ARGS)

fork: $(STAMP)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make fork FROM=<chapter> TO=<new chapter>"; exit 2; }
	$(PY) -m shortcut.book.fork $(FROM) $(TO)

keep-verdicts: $(STAMP)
	$(PY) -m shortcut.book.kept --profile $(PROFILE) --verdicts $(CHAPTERS)

keep: $(STAMP)
	@test -n "$(FIG)" || { echo "usage: make keep FIG=<chapter>/<figure> PROFILE=<profile the chapter ran at>"; exit 2; }
	$(PY) -m shortcut.book.kept --profile $(PROFILE) $(FIG)

check-site: $(STAMP)
	$(PY) scripts/check_site.py $(SITE)

check-site-browser: $(STAMP)
	$(PY) scripts/check_site.py $(SITE) --browser

screenshot: $(STAMP)
	$(PY) scripts/check_site.py $(SITE) --screenshot _build/screenshot.png

# Sphinx's linkcheck of the staged book of a build that has run (`make book PROFILE=...` first): every
# external link must answer; the report goes to _build/<profile>/linkcheck/_build/html/output.txt.
linkcheck: $(STAMP)
	@test -f _build/$(PROFILE)/site-src/_toc.yml || { echo "make linkcheck: no staged book at _build/$(PROFILE)/site-src; run make book PROFILE=$(PROFILE) first" >&2; exit 2; }
	$(VENV)/bin/jupyter-book build _build/$(PROFILE)/site-src --builder linkcheck --path-output _build/$(PROFILE)/linkcheck

clean:
	rm -rf _build
