"""Running experiments: full-batch GD and the CIFAR SGD loop, run records, resumable sweeps, devices.

Built on :mod:`shortcut.science`; knows nothing of figures or the book."""
