"""Optimisers for NumPy parameter dicts, with the update rules of torch.optim.

SGD (with optional momentum), Adagrad (Duchi, Hazan & Singer 2011) and Adam
(Kingma & Ba 2015). `step(params, grads)` updates the arrays of `params` in place;
`grads` must have keys of `params`, arrays of the same shapes, finite values.
"""
import numpy as np

from . import validate as V


class _Optimizer:
    def _check(self, params, grads):
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(f"params and grads must be dicts of arrays, got "
                            f"{V.describe(params)} and {V.describe(grads)}")
        unknown = sorted(set(grads) - set(params), key=str)
        if unknown:
            raise ValueError(f"grads has keys that params does not: {unknown} "
                             f"(params has {sorted(params)})")
        for k, g in grads.items():
            p = V.array(f"params[{k!r}]", params[k], nonempty=False)
            V.array(f"grads[{k!r}]", g, shape=p.shape, nonempty=False)


class SGD(_Optimizer):
    def __init__(self, lr=0.1, momentum=0.0):
        self.lr = V.number("lr", lr, low=0, low_open=True)
        self.momentum = V.number("momentum", momentum, low=0, high=1, high_open=True)
        self.v = {}

    def step(self, params, grads):
        self._check(params, grads)
        for k, g in grads.items():
            if self.momentum:
                g = self.v[k] = self.momentum * self.v.get(k, 0) + g
            params[k] -= self.lr * g


class Adagrad(_Optimizer):
    def __init__(self, lr=0.01, eps=1e-10):
        self.lr = V.number("lr", lr, low=0, low_open=True)
        self.eps = V.number("eps", eps, low=0, low_open=True)
        self.s = {}

    def step(self, params, grads):
        self._check(params, grads)
        for k, g in grads.items():
            self.s[k] = self.s.get(k, 0) + g * g
            params[k] -= self.lr * g / (np.sqrt(self.s[k]) + self.eps)


class Adam(_Optimizer):
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr = V.number("lr", lr, low=0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got "
                            f"{V.describe(betas)}")
        self.betas = tuple(V.number(f"betas[{k}]", b, low=0, high=1, high_open=True)
                           for k, b in enumerate(betas))
        self.eps = V.number("eps", eps, low=0, low_open=True)
        self.t, self.m, self.v = 0, {}, {}

    def step(self, params, grads):
        self._check(params, grads)
        b1, b2 = self.betas
        self.t += 1
        for k, g in grads.items():
            self.m[k] = b1 * self.m.get(k, 0) + (1 - b1) * g
            self.v[k] = b2 * self.v.get(k, 0) + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}
