"""The truncated gradient of the original LSTM (Hochreiter & Schmidhuber 1997).

The 1997 LSTM was trained with a gradient that is cut inside every step. Section 4
("Learning") of "Long Short-Term Memory", Neural Computation 9(8), 1997:

    "errors arriving at "memory cell net inputs" (for cell c_j, this includes
    net_cj, net_inj, net_outj) do not get propagated back further in time
    (although they do serve to change the incoming weights). Only within memory
    cells, errors are propagated back through previous internal states s_cj."

and Appendix A.1 replaces by zero the derivatives of every gate's and the cell
input's net input with respect to the previous activations: d net_inj(t) /
d y^u(t-1) = d net_outj(t) / d y^u(t-1) = d net_cj(t) / d y^u(t-1) = 0 for all u,
so that "there are no loops across which an error that left some memory cell
through its input or input gate can reenter the cell through its output or output
gate. This in turn ensures constant error flow through the memory cell's CEC."

In the book's notation (`numpy_lstm`): the pre-activations a_t = W_ih x_t +
W_hh h_{t-1} + b of i, f, g, o still receive their error and still change W_ih,
W_hh and b, but that error goes no further: nothing reaches h_{t-1} through W_hh.
Error reaches h_{t-1} only from the loss at step t - 1 (through the readout), and
goes back in time only along the carousel c_t = f_t c_{t-1} + i_t g_t. Without a
forget gate, dc_{t-1} = dc_t then: the constant error carousel, exactly. The 1997
model had no peepholes; Gers, Schraudolph & Schmidhuber (2002), who added them,
propagate no error back through them, and so does truncate="1997": the peephole
terms w_ci * c_{t-1}, w_cf * c_{t-1}, w_co * c_t are constants for the backward
pass too (their weights still learn). The same cut with a forget gate is the
training rule of Gers, Schmidhuber & Cummins (2000).

Equivalently, the truncated gradient is the exact gradient of a surrogate whose
forward pass is the LSTM's but where h_{t-1} in W_hh h_{t-1} (and c in the
peephole terms) is treated as a constant (a stop-gradient). `surrogate_forward`
is that surrogate in PyTorch (autograd with `.detach()`), the reference the tests
compare `numpy_lstm.lstm_backward(..., truncate="1997")` with.

    grads, dX, dh0, dc0 = numpy_lstm.lstm_backward(dH, cache, truncate="1997")
    model = train.SequenceModel(7, 16, 7, rng=rng, truncate="1997")  # then fit

Not to be confused with k-step truncated BPTT of a long stream (`lstm_core.tbptt`),
which cuts the gradient every k steps, not inside every step.
"""
from .numpy_lstm import lstm_layout


def surrogate_forward(X, params, h0=None, c0=None):
    """The LSTM forward in PyTorch with h_{t-1} in the recurrent product and c in
    the peephole terms detached: autograd through it gives the 1997 truncated
    gradient. X (T, B, I) and params: torch tensors with numpy_lstm's names and
    layout; returns (H (T, B, H), (h_T, c_T))."""
    import torch

    hidden, forget_gate, peepholes = lstm_layout(
        {k: v.detach().numpy() for k, v in params.items()})
    T, B = X.shape[:2]
    h = torch.zeros(B, hidden, dtype=X.dtype) if h0 is None else h0
    c = torch.zeros(B, hidden, dtype=X.dtype) if c0 is None else c0
    p, outs = params, []
    n_gates = 4 if forget_gate else 3
    for t in range(T):
        a = X[t] @ p["W_ih"].T + p["b_ih"] + p["b_hh"] + h.detach() @ p["W_hh"].T
        blocks = list(torch.split(a, hidden, dim=1))
        if peepholes:
            blocks[0] = blocks[0] + p["w_ci"] * c.detach()
            if forget_gate:
                blocks[1] = blocks[1] + p["w_cf"] * c.detach()
        i = torch.sigmoid(blocks[0])
        f = torch.sigmoid(blocks[1]) if n_gates == 4 else 1.0
        g = torch.tanh(blocks[-2])
        c = f * c + i * g
        a_o = blocks[-1] + p["w_co"] * c.detach() if peepholes else blocks[-1]
        h = torch.sigmoid(a_o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs), (h, c)

