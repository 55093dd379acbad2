"""lstm_core: the small package the LSTM book stands on.

Modules: numpy_lstm (reference RNN/LSTM, hand-written backward), variants (the LSTM
variants of Greff et al. 2017), gru (the GRU of torch.nn.GRU), data (embedded Reber
grammar, sine sets), recipes (the book's generator recipe, fit_generator), train (one
loop for both backends, the two tricks; with model, optim, losses and generate),
gradcheck, io (save/load), check (self-checks for the exercises), odyssey (the tasks
of the chapter on LSTM variants), stats (paired
comparisons over seeds fixed in advance), validate (the argument checks of every
public function).
`import lstm_core` imports NumPy only; PyTorch is opted into with
`from lstm_core import torch_lstm` (and `torch_variants`), and plots with
`from lstm_core import viz` (its palette, colour-blind safe, in palette).
"""
from . import (check, data, gradcheck, gru, io, numpy_lstm, recipes, stats, train,
               validate, variants)

__all__ = ["check", "data", "gradcheck", "gru", "io", "numpy_lstm", "recipes", "stats",
           "train", "validate", "variants"]
