"""PyTorch programs, each a function of the library it runs on: ``main(torch)`` is the program
with ``import torch`` taken out, so ``main(chainrule)`` and ``main(torch)`` run the same text.
Each returns the numbers it ends with; programs whose numbers don't depend on a random
generator list them in ``SAME_NUMBERS``, to be compared between the libraries where PyTorch is
installed."""
