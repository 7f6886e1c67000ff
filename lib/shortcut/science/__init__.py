"""The science: networks, initialisations, the loss, exact Hessians, Theorems 1 and 2, the pre-ResNet, data.

Nothing here knows about experiments, figures or the book."""
