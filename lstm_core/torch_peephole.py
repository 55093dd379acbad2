"""The peephole path of `lstm_core.torch_lstm.LSTM`: two autograd Functions.

Both compute, for a whole sequence, the LSTM with peepholes (or without a forget
gate) of `lstm_core.numpy_lstm`, with a hand-written backward:
- `_PeepholeLSTM`, pure PyTorch (any device; the CUDA path and the CPU fallback);
- `_FusedPeepholeLSTM`, its two time loops in C++ (`peephole_cpu.cpp`, CPU only,
  built by `lstm_core.cpu_kernel`).
Arguments: X (T, B, I), h0, c0 (B, H), W_ih (nG*H, I), W_hh (nG*H, H), b_ih, b_hh
(nG*H,), w_ci, w_cf, w_co (H,) or None; checked by `torch_lstm.LSTM.forward`
before they arrive here (the C++ kernel checks them again).
"""
import torch

from . import cpu_kernel as _cpu_kernel


# Blocks of hidden units of the C++ kernel (peephole_cpu.cpp): 0 lets it choose
# from B and H; 1 is one block (no parallel region; the products use torch's
# threads, the elementwise loop one). For benchmarks/profile_kernel.py.
CHUNKS = 0


def cpu_kernel():
    """The compiled CPU kernel for the peephole path, or None (`lstm_core.cpu_kernel`)."""
    return _cpu_kernel.load()


class _FusedPeepholeLSTM(torch.autograd.Function):
    """`_PeepholeLSTM` with its two loops in C++ (`peephole_cpu.cpp`), CPU only."""

    @staticmethod
    def forward(ctx, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        zero = X.new_zeros(W_hh.shape[1])
        w = [zero if v is None else v.contiguous() for v in (w_ci, w_cf, w_co)]
        ctx.chunks = CHUNKS                     # the gates' layout depends on it
        Hs, C, gates, tanh_C = cpu_kernel().forward(
            X, h0, c0, W_ih, W_hh, b_ih + b_hh, *w, chunks=ctx.chunks)
        ctx.save_for_backward(X, h0, c0, W_ih, W_hh, *w, gates, Hs, C, tanh_C)
        ctx.has = (w_ci is not None, w_cf is not None, w_co is not None)
        return Hs, Hs[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dH, dh_T, dc_T):
        dX, dh0, dc0, dW_ih, dW_hh, db, *dw = cpu_kernel().backward(
            dH, dh_T, dc_T, *ctx.saved_tensors, ctx.needs_input_grad[0],
            chunks=ctx.chunks)
        dw = [g if has else None for g, has in zip(dw, ctx.has)]
        return dX, dh0, dc0, dW_ih, dW_hh, db, db.clone(), *dw   # dX None if not needed


class _PeepholeLSTM(torch.autograd.Function):
    """X (T, B, I) -> H (T, B, H), h_T, c_T, with a hand-written backward.

    Per step the forward runs 9 small in-place operations and the backward 5; every
    factor of the backward that does not depend on the incoming gradient (gate
    derivatives, peephole terms) is computed for all steps at once before its loop.
    Python's cost per operation is what limits this on a CPU, so the views each step
    needs are made in one call per buffer (`unbind`) before the loops, and g uses
    tanh(a) = 2 sigmoid(2a) - 1: with the g rows of the weights doubled, one sigmoid
    call covers i, f and g (one call instead of two; whether torch's tanh of a small
    block costs more than its sigmoid depends on the CPU and the thread count).
    """

    @staticmethod
    def forward(ctx, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        T, B, I = X.shape
        hid = W_hh.shape[1]
        nG, peepholes = W_hh.shape[0] // hid, w_ci is not None
        scale = X.new_ones(nG, hid)
        scale[-2] = 2                                          # the g rows
        scale = scale.view(-1, 1)
        A = torch.addmm((b_ih + b_hh) * scale[:, 0], X.reshape(T * B, I),
                        (W_ih * scale).t()).view(T, B, nG, hid)
        W_hhT = (W_hh * scale).t()
        Hs, C, tanh_C = (X.new_empty(T, B, hid) for _ in range(3))
        # Views per step, all made up front; A is overwritten by the gates:
        # i, f and sigmoid(2 a_g) =: s_g before c_t, o after it.
        a_ = A.view(T, B, -1).unbind(0)
        sig_ = A[:, :, :-1].unbind(0)
        peep_ = A[:, :, :-2].unbind(0)                         # i (and f) see c_{t-1}
        i_, s_g_, o_ = (A[:, :, k].unbind(0) for k in (0, -2, -1))
        f_ = A[:, :, 1].unbind(0) if nG == 4 else None
        C_, H_, tanh_C_ = C.unbind(0), Hs.unbind(0), tanh_C.unbind(0)
        if peepholes:
            w_cif = torch.stack([w_ci, w_cf]) if nG == 4 else w_ci[None]
            c_prev_ = [c0[:, None], *C[:-1, :, None].unbind(0)]
        h, c = h0, c0
        for t in range(T):
            a_[t].addmm_(h, W_hhT)
            if peepholes:
                peep_[t].addcmul_(w_cif, c_prev_[t])
            sig_[t].sigmoid_()
            i = i_[t]
            c = torch.mul(f_[t], c, out=C_[t]) if nG == 4 else C_[t].copy_(c)
            c.addcmul_(i, s_g_[t], value=2).sub_(i)            # + i * g
            o = o_[t]
            if peepholes:
                o.addcmul_(w_co, c)
            h = torch.mul(o.sigmoid_(), torch.tanh(c, out=tanh_C_[t]), out=H_[t])
        ctx.save_for_backward(X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, A, Hs, C,
                              tanh_C)
        return Hs, Hs[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dH, dh_T, dc_T):
        X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, A, Hs, C, tanh_C = ctx.saved_tensors
        T, B, nG, hid = A.shape
        I = X.shape[2]
        peepholes = w_ci is not None
        C_prev = torch.cat([c0[None], C[:-1]])                 # (T, B, H)
        i, o = A[:, :, 0], A[:, :, -1]
        g = A[:, :, -2] * 2 - 1
        # Factors for all steps at once. With da the gradients of the pre-activations:
        #   da_o = dh * R,   dc += dh * K,   da_[i, f, g] = dc * P,   dc_prev = dc * Q
        R = tanh_C * o * (1 - o)
        K = torch.addcmul(o, o, tanh_C * tanh_C, value=-1)    # o (1 - tanh(c)^2)
        P = torch.empty_like(A[:, :, :-1])                     # (T, B, nG-1, H)
        torch.mul(g, i - i * i, out=P[:, :, 0])
        torch.addcmul(i, i, g * g, value=-1, out=P[:, :, -1])
        if nG == 4:
            f = A[:, :, 1]
            torch.mul(C_prev, f - f * f, out=P[:, :, 1])
            Q = f.clone()
        else:
            Q = torch.ones_like(C)
        if peepholes:
            K.addcmul_(R, w_co)
            Q.addcmul_(P[:, :, 0], w_ci)
            if nG == 4:
                Q.addcmul_(P[:, :, 1], w_cf)
        dA = torch.empty_like(A)
        da_o_, da_ifg_ = dA[:, :, -1].unbind(0), dA[:, :, :-1].unbind(0)
        da_ = dA.view(T, B, -1).unbind(0)
        R_, K_, P_, Q_, dH_ = R.unbind(0), K.unbind(0), P.unbind(0), Q.unbind(0), \
            dH.unbind(0)
        dh, dc = dh_T + dH[-1], dc_T.clone()
        dc3 = dc[:, None]
        for t in range(T - 1, -1, -1):
            torch.mul(dh, R_[t], out=da_o_[t])
            dc.addcmul_(dh, K_[t])                             # the error carousel
            torch.mul(P_[t], dc3, out=da_ifg_[t])
            dc.mul_(Q_[t])
            dh = torch.addmm(dH_[t - 1], da_[t], W_hh) if t else da_[0] @ W_hh
        # Weight gradients: one product with [x_t, h_{t-1}] for all steps.
        XH = X.new_empty(T, B, I + hid)
        XH[:, :, :I] = X
        XH[0, :, I:] = h0
        XH[1:, :, I:] = Hs[:-1]
        dA2 = dA.view(T * B, -1)
        dW = dA2.t() @ XH.view(T * B, -1)
        db = dA2.sum(0)
        dX = (dA2 @ W_ih).view_as(X) if ctx.needs_input_grad[0] else None
        dw = [None, None, None]
        if peepholes:
            dw[0] = (dA[:, :, 0] * C_prev).sum((0, 1))
            dw[1] = (dA[:, :, 1] * C_prev).sum((0, 1)) if nG == 4 else None
            dw[2] = (dA[:, :, -1] * C).sum((0, 1))
        return dX, dh, dc, dW[:, :I], dW[:, I:], db, db.clone(), *dw
