"""The parameter schema (book/profiles/schema.yaml, shortcut.book.schema): every value is checked before
any chapter runs; the build exits 2 and configure() raises ValueError with the same message."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import yaml

from shortcut import book
from shortcut.book import build, schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _book_root(monkeypatch):
    monkeypatch.setenv(book.ROOT_ENV, str(ROOT))


def _notebooks() -> list[str]:
    return [Path(p).name for p in book.toc_pages(ROOT) if book.page_source(p, ROOT)[1] == "notebook"]


# ---------------------------------------------------------------------------------------------------
# the schema and the profiles agree
# ---------------------------------------------------------------------------------------------------


def test_the_schema_is_not_a_profile():
    assert (ROOT / "book" / "profiles" / book.profiles.SCHEMA_FILE).is_file()
    assert "schema" not in book.profile_names(ROOT)
    with pytest.raises(ValueError, match="is not a profile"):
        book.load_profile("schema", ROOT)


def test_every_profile_parameter_has_a_schema_entry_and_every_entry_a_profile_value():
    entries = schema.load_schema(ROOT)
    assert set(entries) - {"common"} == set(_notebooks()), "one schema section per chapter of _toc.yml"
    for name in book.profile_names(ROOT):
        data = book.load_profile(name, ROOT)
        assert set(data["common"]) <= set(entries["common"]), f"profile {name!r}: common parameters without an entry"
        for chapter in _notebooks():
            have = set(book.chapter_defaults(data, chapter, ROOT))
            want = set(schema.chapter_entries(entries, chapter))
            assert have - want == set(), f"profile {name!r}, chapter {chapter!r}: no schema entry for {sorted(have - want)}"
            assert want - have == set(), f"profile {name!r}, chapter {chapter!r}: no profile value for {sorted(want - have)}"


def test_every_chapter_parameters_cell_matches_its_schema_section():
    import jupytext

    entries = schema.load_schema(ROOT)
    for chapter in _notebooks():
        nb = jupytext.read(book.page_source(f"book/{chapter}", ROOT)[0])
        cell = next(c for c in nb.cells if c.cell_type == "code")
        names = set(re.findall(r"^([A-Za-z_]\w*)\s*=", cell.source, re.M)) - {"profile", "results_dir"}
        own = set(entries[chapter]) | ({"device"} if "device" in names else set())
        assert names == own, f"{chapter}: parameters cell {sorted(names)} != schema {sorted(own)}"


@pytest.mark.parametrize("profile", ["ci", "default", "paper"])
def test_every_profile_value_is_allowed_and_none_is_ignored(profile):
    data = book.load_profile(profile, ROOT)
    assert schema.check_chapters(data, _notebooks(), {}, ROOT) == []


# ---------------------------------------------------------------------------------------------------
# the probes: python -m shortcut.book.build exits 2, configure() raises the same message
# ---------------------------------------------------------------------------------------------------

PROBES = [
    # (chapter, parameter, value as typed after -p, fragments of the message)
    ("initial_point", "depths", "banana", ["depths='banana'", "a str, not a list", "a non-empty list of distinct items"]),
    ("initial_point", "seeds", "0", ["seeds=0", "below 1", "allowed: an integer >= 1"]),
    ("mnist", "epochs", "0", ["epochs=0", "below 1", "allowed: an integer >= 1"]),
    ("initial_point", "depths", "[]", ["depths=[]", "an empty list"]),
    ("initial_point", "seeds", "1.5", ["seeds=1.5", "not an integer", "allowed: an integer >= 1"]),
    ("initial_point", "device", "gpu", ["device='gpu'", "not a device", "'auto', 'cpu', 'cuda'"]),
    ("dynamics", "depth", "0", ["depth=0", "below 1"]),
    ("initial_point", "depths", "[0, 4]", ["depths=[0, 4]", "its item 0 is below 1"]),
    ("initial_point", "depths", "[2, 3]", ["its item 3 is not a multiple of 2", "2-shortcut"]),
    ("initial_point", "depths", "[2, 2]", ["2 is in it twice"]),
    ("initial_point", "models", "[xavier, resnet]", ["'resnet' is not one of the choices", "'xavier', 'orthogonal' or n-shortcut"]),
    ("dynamics", "models", "[he, 2-shortcut]", ["'he' is not one of the choices"]),
    ("mnist", "relu_depths", "[2, 5]", ["its item 5 is not a multiple of 2"]),
    ("mnist", "lr_max", "0.01", ["lr_max=0.01", "below lr_min=0.1"]),
    ("theorems", "activation", "relu", ["activation='relu'", "one of 'tanh', 'silu'"]),
    ("cifar10", "dataset", "cifar100", ["dataset='cifar100'", "one of 'standin', 'cifar10'"]),
    ("cifar10", "seeds", "0", ["seeds=0", "below 1", "allowed: an integer >= 1"]),
    ("cifar10", "width", "0", ["width=0", "not above 0"]),
    ("mnist", "executor", "slurm", ["executor='slurm'", "one of 'inline', 'process', 'dask'"]),
]


@pytest.mark.parametrize("chapter, param, text, fragments", PROBES, ids=[f"{c}.{p}={t}" for c, p, t, _ in PROBES])
def test_a_bad_value_stops_the_build_before_anything_runs(chapter, param, text, fragments, tmp_path, capsys):
    out = tmp_path / "build"
    assert build.main(["--profile", "ci", "--build-dir", str(out), "-p", f"{chapter}.{param}={text}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortcut.build: error: chapter " + repr(chapter)), err
    for fragment in fragments:
        assert fragment in err
    assert not out.exists()  # no staging, no notebook, no kernel


@pytest.mark.parametrize("chapter, param, text, fragments", PROBES, ids=[f"{c}.{p}={t}" for c, p, t, _ in PROBES])
def test_configure_raises_the_message_the_build_prints(chapter, param, text, fragments, tmp_path, capsys):
    build.main(["--profile", "ci", "--list", "-p", f"{chapter}.{param}={text}"])
    printed = capsys.readouterr().err.strip().removeprefix("shortcut.build: error: ")
    ns = {"profile": "ci", "results_dir": str(tmp_path / "results"), param: book.read_value(text)}
    with pytest.raises(ValueError) as info:
        book.configure(chapter, ns, show=False)
    assert str(info.value) == printed
    assert not (tmp_path / "results").exists()  # checked before anything is made


def test_configure_checks_a_papermill_string_after_reading_it_as_yaml(tmp_path):
    with pytest.raises(ValueError, match=re.escape("depths=[] is not allowed (an empty list)")):
        book.configure("initial_point", {"profile": "ci", "results_dir": str(tmp_path), "depths": "[]"}, show=False)


def test_every_bad_value_is_reported_at_once(capsys):
    assert build.main(["--profile", "ci", "--list", "-p", "initial_point.seeds=0", "-p", "initial_point.eps=-1",
                       "-p", "mnist.epochs=0"]) == 2
    err = capsys.readouterr().err
    assert "seeds=0" in err and "eps=-1" in err and "epochs=0" in err
    assert len(err.strip().splitlines()) == 3


def test_an_unknown_profile_is_named_with_the_profiles_there_are(capsys, tmp_path):
    assert build.main(["--profile", "nosuch", "--list"]) == 2
    assert "'nosuch' is not a profile; valid profiles: ci, default, fashion, paper" in capsys.readouterr().err
    with pytest.raises(ValueError, match="profile='nosuch' is not a profile; valid profiles: ci, default, fashion, paper"):
        book.configure("initial_point", {"profile": "nosuch", "results_dir": str(tmp_path)}, show=False)


def test_only_the_chapters_to_run_are_checked(capsys):
    args = ["--profile", "ci", "--list", "-p", "mnist.epochs=0"]
    assert build.main([*args, "--chapters", "theorems"]) == 0
    assert build.main([*args, "--chapters", "mnist"]) == 2


def test_good_overrides_pass(capsys):
    assert build.main(["--profile", "ci", "--list", "-p", "initial_point.depths=[2, 4, 6]", "-p", "cifar10.seeds=3",
                       "-p", "mnist.lr_max=5", "-p", "dynamics.device=cpu", "-p", "cifar10.n_train=null"]) == 0
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------------------------
# an ignored value is a warning, not an error
# ---------------------------------------------------------------------------------------------------


def test_data_dir_with_the_standin_is_a_warning(capsys, tmp_path):
    assert build.main(["--profile", "ci", "--list", "-p", f"cifar10.data_dir={tmp_path}"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("shortcut.build: warning: chapter 'cifar10': data_dir=")
    assert "is ignored: it is used only when dataset is 'cifar10' (dataset is 'standin')" in err
    with pytest.warns(schema.IgnoredParameterWarning, match="data_dir=.* is ignored"):
        book.configure("cifar10", {"profile": "ci", "results_dir": str(tmp_path), "data_dir": str(tmp_path)}, show=False)


def test_data_dir_with_cifar10_is_no_warning(capsys, tmp_path):
    assert build.main(["--profile", "ci", "--list", "-p", "cifar10.dataset=cifar10", "-p", f"cifar10.data_dir={tmp_path}"]) == 0
    assert capsys.readouterr().err == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        book.configure("cifar10", {"profile": "ci", "results_dir": str(tmp_path), "dataset": "cifar10",
                                   "data_dir": str(tmp_path)}, show=False)


def test_workers_with_the_inline_executor_is_a_warning(capsys):
    assert build.main(["--profile", "ci", "--list", "-p", "initial_point.workers=4"]) == 0
    assert "workers=4 is ignored: it is used only when executor is 'process' or 'dask' (executor is 'inline')" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# the validator on a schema of its own
# ---------------------------------------------------------------------------------------------------

TOY = {
    "common": {"device": {"type": "device"}},
    "toy": {
        "n": {"type": "int", "min": 1, "max": 5},
        "rate": {"type": "float", "above": 0},
        "top": {"type": "float", "above": 0, "at_least": "rate"},
        "flag": {"type": "bool"},
        "name": {"type": "str"},
        "folder": {"type": "path", "nullable": True, "null_means": "the default folder"},
        "ks": {"type": "list", "of": "int", "min": 1, "multiple_of": 2, "empty": True},
        "count": {"one_of": [{"type": "int", "min": 1}, {"type": "list", "of": "int", "min": 0}]},
        "mode": {"type": "str", "choices": ["a", "b"]},
        "extra": {"type": "str", "nullable": True, "ignored_unless": {"mode": ["b"]}},
    },
}
GOOD = {"device": "cpu", "n": 3, "rate": 0.5, "top": 1, "flag": True, "name": "x", "folder": None, "ks": [],
        "count": 2, "mode": "a", "extra": None}


def test_a_good_set_of_values_passes():
    assert schema.check("toy", GOOD, TOY) == []
    assert schema.check("toy", {**GOOD, "count": [0, 1], "folder": "/data", "ks": [2, 4]}, TOY) == []


@pytest.mark.parametrize("param, value, why", [
    ("n", True, "not an integer"),          # a bool is not a count
    ("n", 6, "above 5"),
    ("rate", float("nan"), "not a finite number"),
    ("rate", "fast", "not a number"),
    ("top", 0.25, "below rate=0.5"),
    ("flag", 1, "not true or false"),
    ("name", "  ", "empty"),
    ("name", None, "null is not allowed"),
    ("folder", "", "not a path"),
    ("ks", [2, 3], "its item 3 is not a multiple of 2"),
    ("ks", (2, 2.5), "its item 2.5 is not an integer"),
    ("count", 0, "fits none of the forms"),
    ("count", [1, -1], "fits none of the forms"),
    ("mode", "c", "not one of the choices"),
])
def test_a_bad_value_says_why_and_what_is_allowed(param, value, why):
    with pytest.raises(schema.ParameterError) as info:
        schema.check("toy", {**GOOD, param: value}, TOY)
    message = str(info.value)
    assert message.startswith(f"chapter 'toy': {param}={value!r} is not allowed ({why}); allowed: ")


def test_allowed_says_it_in_words():
    toy = TOY["toy"]
    assert schema._allowed(toy["n"]) == "an integer >= 1, <= 5"
    assert schema._allowed(toy["folder"]) == "a folder path, or null (the default folder)"
    assert schema._allowed(toy["ks"]) == "a list of distinct items, each an integer >= 1, a multiple of 2"
    assert schema._allowed(toy["count"]) == "an integer >= 1 or a non-empty list of distinct items, each an integer >= 0"


def test_an_ignored_value_is_a_warning_unless_its_condition_holds():
    assert schema.check("toy", {**GOOD, "extra": "x"}, TOY) == [
        "chapter 'toy': extra='x' is ignored: it is used only when mode is 'b' (mode is 'a')"]
    assert schema.check("toy", {**GOOD, "extra": "x", "mode": "b"}, TOY) == []


def test_a_parameter_without_an_entry_is_an_error():
    with pytest.raises(schema.ParameterError, match="parameter 'new' has no entry in the parameter schema"):
        schema.check("toy", {**GOOD, "new": 1}, TOY)
    with pytest.raises(ValueError, match="chapter 'other' has no section in the parameter schema"):
        schema.check("other", {}, TOY)


@pytest.mark.parametrize("entry, message", [
    ({"type": "integer"}, "type must be one of"),
    ({"type": "list"}, "a list needs 'of'"),
    ({"type": "int", "minimum": 1}, "unknown rule(s) minimum"),
    ({"type": "int", None: True}, "unknown rule(s) None"),  # `null: true` in YAML is a None key
    ({"one_of": []}, "one_of must be a non-empty list"),
    ("int", "an entry must be a mapping"),
])
def test_a_malformed_schema_is_refused_naming_the_entry(entry, message, tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "book" / "profiles").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / "book" / "profiles" / "schema.yaml").write_text(yaml.safe_dump({"toy": {"n": entry}}))
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        schema.load_schema(root)
    assert "toy.n" in str(info.value)


# ---------------------------------------------------------------------------------------------------
# the size of the work: a depth whose exact Hessian cannot fit is refused before anything runs
# ---------------------------------------------------------------------------------------------------


def test_a_depth_whose_hessian_cannot_fit_is_refused_naming_the_estimate_and_the_memory(monkeypatch):
    monkeypatch.delenv(schema.FORCE_SIZE_ENV, raising=False)
    monkeypatch.setattr(schema, "machine_memory", lambda: 24 * 2**30)
    data = book.load_profile("ci", ROOT)
    # depth 200: P = 20,000, 2·P²·8 B = 6.4 GB fits in 24 GiB; depth 1000: 160 GB does not
    assert schema.hessian_bytes(200, 10) == 2 * 20_000**2 * 8
    schema.check_chapters(data, ["initial_point"], {"initial_point": {"depths": [2, 200]}}, ROOT)
    with pytest.raises(schema.ParameterError) as err:
        schema.check_chapters(data, ["initial_point", "dynamics"],
                              {"initial_point": {"depths": [2, 4, 100000]}, "dynamics": {"depth": 1000}}, ROOT)
    text = str(err.value)
    assert "depths=[2, 4, 100000]" in text and "P = 10,000,000 parameters" in text and "1.42 PiB" in text
    assert "this machine has 24 GiB" in text and "--force-size" in text
    assert "depth=1000" in text and "149 GiB" in text
    monkeypatch.setenv(schema.FORCE_SIZE_ENV, "1")
    schema.check_chapters(data, ["initial_point"], {"initial_point": {"depths": [2, 4, 100000]}}, ROOT)


def test_every_profile_fits_the_machine_it_is_for():
    """The paper's scale on the book's machines (24 GiB): no depth of any profile is refused."""
    for name in book.profile_names(ROOT):
        data = book.load_profile(name, ROOT)
        for chapter in data["chapters"]:
            for key, value in book.chapter_defaults(data, chapter, ROOT).items():
                entry = schema.chapter_entries(schema.load_schema(ROOT), chapter).get(key, {})
                if "hessian_width" in entry:
                    for depth in value if isinstance(value, list) else [value]:
                        assert schema.hessian_bytes(depth, entry["hessian_width"]) < 24 * 2**30, (name, chapter, key)
