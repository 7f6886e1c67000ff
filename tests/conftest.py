"""Shared fixtures."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread: tiny convs gain nothing from two, and two threads slow down badly when another
    process holds a core (this is a shared 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: Test modules of the book's machinery (builds, profiles, locks, the install, the workflow, the site, the
#: layers, timing): nothing they check runs through BLAS or OpenMP. make test's second pass, the fast tests
#: with the libraries' own thread counts, leaves them out (``-m "not slow and not thread_free"``); every
#: test runs in the first pass. A new test module is in the second pass unless it is named here.
THREAD_FREE = {
    "test_book", "test_build", "test_environment", "test_install", "test_kept", "test_layers", "test_lock",
    "test_reader_links", "test_schema", "test_self_healing", "test_timing", "test_verdict_box", "test_workflow",
    "test_gpu_script",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in THREAD_FREE:
            item.add_marker(pytest.mark.thread_free)
