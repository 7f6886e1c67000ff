"""shortcut: the shared library of the executable edition of *Demystifying ResNet*.

One module per concept: ``models`` (n-shortcut, plain and Theorem 1 networks, functional),
``init`` (Xavier, orthogonal, zero, MSRA), ``data`` (MNIST / Fashion-MNIST / CIFAR-10 loaders and the
paper's whitening), ``hessian`` (exact Hessians and spectrum summaries), ``theory`` (Theorem 2's closed
form at the zero point), ``train`` (full-batch GD, many models at once), ``records`` and ``sweep``
(atomic run records, resumable sweeps).
"""

__version__ = "0.1.0"
