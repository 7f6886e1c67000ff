"""The paper's figures as protocols: which runs each needs, how records become its table, the figure, and its checks.

Built on the science and the experiments; knows nothing of the book's publishing machinery."""
