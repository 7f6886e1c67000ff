# The executable edition of "Demystifying ResNet": `make book` builds the site, `make test` runs the tests.
# Both create the virtual environment .venv on first use and reinstall into it only when
# pyproject.toml changes.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-stamp
PROFILE  ?= default
NAME     ?=
SITE     ?= $(if $(filter default,$(PROFILE)),_build/html,_build/$(PROFILE)/html)
ARGS     ?=

.PHONY: book test chapter fork keep check-site check-site-browser screenshot venv clean help

help:
	@echo "make book     [PROFILE=default] [ARGS='--force -p chapter.param=value']  execute every chapter, build $(SITE)/index.html"
	@echo "make test     [ARGS='-k book']                                           the tests (incl. a whole-book build at the ci profile)"
	@echo "make chapter  NAME=theorems [PROFILE=ci]                                 execute one chapter (and the intro), rebuild the site"
	@echo "make fork     FROM=initial_point TO=my_fork                              copy a chapter (page, profile sections, toc line)"
	@echo "make keep     FIG=mnist/fig7 PROFILE=paper                               keep a figure of a long run in book/figures/"
	@echo "make check-site [PROFILE=...]                                            check the built site's links, anchors and images"
	@echo "make check-site-browser [PROFILE=...]                                    the same, plus MathJax and images in headless Chromium"
	@echo "make screenshot [PROFILE=...]                                            _build/screenshot.png of the intro page"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e ".[book,cluster,test]"
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(PY) -m shortcut.book.build --profile $(PROFILE) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

chapter: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make chapter NAME=<chapter> [PROFILE=ci]"; exit 2; }
	$(PY) -m shortcut.book.build --profile $(PROFILE) --chapters $(NAME) $(ARGS)

fork: $(STAMP)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make fork FROM=<chapter> TO=<new chapter>"; exit 2; }
	$(PY) -m shortcut.book.fork $(FROM) $(TO)

keep: $(STAMP)
	@test -n "$(FIG)" || { echo "usage: make keep FIG=<chapter>/<figure> PROFILE=<profile the chapter ran at>"; exit 2; }
	$(PY) -m shortcut.book.kept --profile $(PROFILE) $(FIG)

check-site: $(STAMP)
	$(PY) scripts/check_site.py $(SITE)

check-site-browser: $(STAMP)
	$(PY) scripts/check_site.py $(SITE) --browser

screenshot: $(STAMP)
	$(PY) scripts/check_site.py $(SITE) --screenshot _build/screenshot.png

clean:
	rm -rf _build
