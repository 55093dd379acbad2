// The LSTM with peepholes (or without a forget gate) on the CPU, one step at a time
// with no Python in the loop: per step one matrix product (ATen's addmm) and one
// fused loop for all the elementwise work of the step, which the compiler
// vectorises (-O3 -ffast-math -march=native; exp and tanh from glibc's vector
// math library). Built on first use by lstm_core.torch_lstm (torch.utils.cpp_
// extension); the equations are those of lstm_core.numpy_lstm.
//
// Layout: X (T, B, I); W_ih (nG*H, I), W_hh (nG*H, H), b = b_ih + b_hh (nG*H);
// gates in the order (i, f, g, o), or (i, g, o) with nG = 3 (no forget gate, f = 1);
// peephole vectors w_ci, w_cf, w_co (H) are zeros when the layer has none.
#include <torch/extension.h>

#include <cmath>
#include <vector>

namespace {

template <typename T>
inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

// Gates of step t, in place: A_t (B, nG*H) holds the pre-activations and is
// overwritten by i, f, g, o; writes c_t, tanh(c_t) and h_t.
template <typename T, bool FG>
void step_forward(T* a, const T* c_prev, T* c, T* tc, T* h, const T* w_ci,
                  const T* w_cf, const T* w_co, int64_t B, int64_t H) {
  constexpr int nG = FG ? 4 : 3;
  for (int64_t b = 0; b < B; ++b) {
    T* ai = a + b * nG * H;
    T* af = ai + H;                       // unused without a forget gate
    T* ag = ai + (nG - 2) * H;
    T* ao = ai + (nG - 1) * H;
    const T* cp = c_prev + b * H;
    T* cb = c + b * H;
    T* tb = tc + b * H;
    T* hb = h + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T i = sigmoid(ai[j] + w_ci[j] * cp[j]);
      T f = FG ? sigmoid(af[j] + w_cf[j] * cp[j]) : T(1);
      T g = std::tanh(ag[j]);
      T cn = f * cp[j] + i * g;
      T o = sigmoid(ao[j] + w_co[j] * cn);
      T t = std::tanh(cn);
      ai[j] = i;
      if (FG) af[j] = f;
      ag[j] = g;
      ao[j] = o;
      cb[j] = cn;
      tb[j] = t;
      hb[j] = o * t;
    }
  }
}

// Gradients of the pre-activations of step t from dh_t and dc (the gradient
// arriving at c_t from step t+1); dc becomes the gradient at c_{t-1}. The
// peephole gradients are summed over the batch into dw_*.
template <typename T, bool FG>
void step_backward(const T* gates, const T* c_prev, const T* c, const T* tc,
                   const T* dh, T* dc, T* da, const T* w_ci, const T* w_cf,
                   const T* w_co, T* dw_ci, T* dw_cf, T* dw_co, int64_t B, int64_t H) {
  constexpr int nG = FG ? 4 : 3;
  for (int64_t b = 0; b < B; ++b) {
    const T* gi = gates + b * nG * H;
    const T* gf = gi + H;
    const T* gg = gi + (nG - 2) * H;
    const T* go = gi + (nG - 1) * H;
    T* di = da + b * nG * H;
    T* df = di + H;
    T* dg = di + (nG - 2) * H;
    T* dO = di + (nG - 1) * H;
    const T* cp = c_prev + b * H;
    const T* cb = c + b * H;
    const T* tb = tc + b * H;
    const T* dhb = dh + b * H;
    T* dcb = dc + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T i = gi[j], g = gg[j], o = go[j], t = tb[j];
      T f = FG ? gf[j] : T(1);
      T dao = dhb[j] * t * o * (T(1) - o);
      T dcv = dcb[j] + dhb[j] * o * (T(1) - t * t) + dao * w_co[j];   // the carousel
      T dai = dcv * g * i * (T(1) - i);
      T daf = FG ? dcv * cp[j] * f * (T(1) - f) : T(0);
      di[j] = dai;
      if (FG) df[j] = daf;
      dg[j] = dcv * i * (T(1) - g * g);
      dO[j] = dao;
      dcb[j] = dcv * f + dai * w_ci[j] + daf * w_cf[j];
      dw_ci[j] += dai * cp[j];
      dw_cf[j] += daf * cp[j];
      dw_co[j] += dao * cb[j];
    }
  }
}

// Every tensor the loops read through raw pointers: CPU, dense, contiguous where
// read as such, one floating dtype, and the shapes the loops assume. Python checks
// the same first (torch_lstm.LSTM.forward); this guards any other caller.
void check(const at::Tensor& t, const char* name, at::IntArrayRef shape,
           at::ScalarType dtype) {
  TORCH_CHECK(t.defined(), name, " is undefined");
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU, got ", t.device());
  TORCH_CHECK(t.layout() == at::kStrided, name, " must be a dense tensor");
  TORCH_CHECK(t.scalar_type() == dtype, name, " must be ", dtype, ", got ",
              t.scalar_type());
  TORCH_CHECK(t.sizes() == shape, name, " must have shape ", shape, ", got ",
              t.sizes());
}

void check_floating(const at::Tensor& X) {
  TORCH_CHECK(X.scalar_type() == at::kFloat || X.scalar_type() == at::kDouble,
              "X must be float32 or float64, got ", X.scalar_type());
  TORCH_CHECK(X.dim() == 3 && X.numel() > 0, "X must be a non-empty (T, B, I) tensor");
}

}  // namespace

// Returns (Hs, C, gates, tanh_C); gates (T, B, nG*H) holds i, f, g, o.
std::vector<at::Tensor> forward(const at::Tensor& X, const at::Tensor& h0,
                                const at::Tensor& c0, const at::Tensor& W_ih,
                                const at::Tensor& W_hh, const at::Tensor& b,
                                const at::Tensor& w_ci, const at::Tensor& w_cf,
                                const at::Tensor& w_co) {
  check_floating(X);
  TORCH_CHECK(W_hh.dim() == 2 && W_hh.size(1) > 0, "W_hh must be (nG*H, H)");
  const int64_t T = X.size(0), B = X.size(1), I = X.size(2), H = W_hh.size(1);
  const int64_t nG = W_hh.size(0) / H;
  TORCH_CHECK((nG == 3 || nG == 4) && W_hh.size(0) == nG * H,
              "W_hh must have 3H or 4H rows, got ", W_hh.sizes());
  const auto dt = X.scalar_type();
  check(X, "X", {T, B, I}, dt);
  check(h0, "h0", {B, H}, dt);
  check(c0, "c0", {B, H}, dt);
  check(W_ih, "W_ih", {nG * H, I}, dt);
  check(W_hh, "W_hh", {nG * H, H}, dt);
  check(b, "b", {nG * H}, dt);
  check(w_ci, "w_ci", {H}, dt);
  check(w_cf, "w_cf", {H}, dt);
  check(w_co, "w_co", {H}, dt);
  TORCH_CHECK(w_ci.is_contiguous() && w_cf.is_contiguous() && w_co.is_contiguous(),
              "the peephole vectors must be contiguous");
  auto gates = at::addmm(b, X.reshape({T * B, I}), W_ih.t()).view({T, B, nG * H});
  auto Hs = at::empty({T, B, H}, X.options());
  auto C = at::empty_like(Hs);
  auto tanh_C = at::empty_like(Hs);
  auto W_hhT = W_hh.t();
  auto h = h0.contiguous();
  auto c0c = c0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "peephole_forward", [&] {
    auto run = nG == 4 ? step_forward<scalar_t, true> : step_forward<scalar_t, false>;
    for (int64_t t = 0; t < T; ++t) {
      auto a = gates[t];
      a.addmm_(h, W_hhT);
      const scalar_t* c_prev = t ? C[t - 1].data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      run(a.data_ptr<scalar_t>(), c_prev, C[t].data_ptr<scalar_t>(),
          tanh_C[t].data_ptr<scalar_t>(), Hs[t].data_ptr<scalar_t>(),
          w_ci.data_ptr<scalar_t>(), w_cf.data_ptr<scalar_t>(),
          w_co.data_ptr<scalar_t>(), B, H);
      h = Hs[t];
    }
  });
  return {Hs, C, gates, tanh_C};
}

// Returns (dX or an undefined tensor, dh0, dc0, dW_ih, dW_hh, db, dw_ci, dw_cf, dw_co).
std::vector<at::Tensor> backward(const at::Tensor& dH, const at::Tensor& dh_T,
                                 const at::Tensor& dc_T, const at::Tensor& X,
                                 const at::Tensor& h0, const at::Tensor& c0,
                                 const at::Tensor& W_ih, const at::Tensor& W_hh,
                                 const at::Tensor& w_ci, const at::Tensor& w_cf,
                                 const at::Tensor& w_co, const at::Tensor& gates,
                                 const at::Tensor& Hs, const at::Tensor& C,
                                 const at::Tensor& tanh_C, bool need_dX) {
  check_floating(X);
  TORCH_CHECK(W_hh.dim() == 2 && W_hh.size(1) > 0, "W_hh must be (nG*H, H)");
  const int64_t T = X.size(0), B = X.size(1), I = X.size(2), H = W_hh.size(1);
  const int64_t nG = W_hh.size(0) / H;
  TORCH_CHECK((nG == 3 || nG == 4) && W_hh.size(0) == nG * H,
              "W_hh must have 3H or 4H rows, got ", W_hh.sizes());
  const auto dt = X.scalar_type();
  check(dH, "dH", {T, B, H}, dt);
  check(dh_T, "dh_T", {B, H}, dt);
  check(dc_T, "dc_T", {B, H}, dt);
  check(h0, "h0", {B, H}, dt);
  check(c0, "c0", {B, H}, dt);
  check(W_ih, "W_ih", {nG * H, I}, dt);
  check(W_hh, "W_hh", {nG * H, H}, dt);
  check(w_ci, "w_ci", {H}, dt);
  check(w_cf, "w_cf", {H}, dt);
  check(w_co, "w_co", {H}, dt);
  check(gates, "gates", {T, B, nG * H}, dt);
  check(Hs, "Hs", {T, B, H}, dt);
  check(C, "C", {T, B, H}, dt);
  check(tanh_C, "tanh_C", {T, B, H}, dt);
  TORCH_CHECK(gates.is_contiguous() && C.is_contiguous() && tanh_C.is_contiguous() &&
              w_ci.is_contiguous() && w_cf.is_contiguous() && w_co.is_contiguous(),
              "the saved buffers must be contiguous");
  auto dHc = dH.contiguous();
  auto dA = at::empty({T, B, nG * H}, X.options());
  auto dh = (dh_T + dHc[T - 1]).contiguous();
  auto dc = dc_T.clone().contiguous();
  auto dw_ci = at::zeros({H}, X.options());
  auto dw_cf = at::zeros({H}, X.options());
  auto dw_co = at::zeros({H}, X.options());
  auto c0c = c0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "peephole_backward", [&] {
    auto run = nG == 4 ? step_backward<scalar_t, true> : step_backward<scalar_t, false>;
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* c_prev = t ? C[t - 1].data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      auto da = dA[t];
      run(gates[t].data_ptr<scalar_t>(), c_prev, C[t].data_ptr<scalar_t>(),
          tanh_C[t].data_ptr<scalar_t>(), dh.data_ptr<scalar_t>(),
          dc.data_ptr<scalar_t>(), da.data_ptr<scalar_t>(),
          w_ci.data_ptr<scalar_t>(), w_cf.data_ptr<scalar_t>(),
          w_co.data_ptr<scalar_t>(), dw_ci.data_ptr<scalar_t>(),
          dw_cf.data_ptr<scalar_t>(), dw_co.data_ptr<scalar_t>(), B, H);
      if (t) {
        at::addmm_out(dh, dHc[t - 1], da, W_hh);
      } else {
        at::mm_out(dh, da, W_hh);
      }
    }
  });
  // Weight gradients: one product with [x_t, h_{t-1}] for all steps.
  auto XH = at::empty({T, B, I + H}, X.options());
  XH.narrow(2, 0, I).copy_(X);
  XH[0].narrow(1, I, H).copy_(h0);
  XH.narrow(0, 1, T - 1).narrow(2, I, H).copy_(Hs.narrow(0, 0, T - 1));  // T = 1: empty
  auto dA2 = dA.view({T * B, nG * H});
  auto dW = dA2.t().mm(XH.view({T * B, I + H}));
  auto dX = need_dX ? dA2.mm(W_ih).view({T, B, I}) : at::Tensor();
  return {dX, dh, dc, dW.narrow(1, 0, I), dW.narrow(1, I, H), dA2.sum(0),
          dw_ci, dw_cf, dw_co};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "peephole LSTM forward (CPU)");
  m.def("backward", &backward, "peephole LSTM backward (CPU)");
}
