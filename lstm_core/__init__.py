"""lstm_core: the small package the LSTM book stands on.

Modules: numpy_lstm (reference RNN/LSTM, hand-written backward), data (embedded Reber
grammar, sine sets), train (optimisers, losses, the two tricks, one loop), gradcheck,
io (save/load). `import lstm_core` imports NumPy only; PyTorch is opted into with
`from lstm_core import torch_lstm`, and plots with `from lstm_core import viz`.
"""
from . import check, data, gradcheck, io, numpy_lstm, train

__all__ = ["check", "data", "gradcheck", "io", "numpy_lstm", "train"]
