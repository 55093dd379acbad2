// The LSTM with peepholes (or without a forget gate) on the CPU, one step at a time
// with no Python in the loop: per step the recurrent matrix product (ATen's addmm)
// and one loop for all the elementwise work of the step, written with ATen's vector
// types (at::vec::Vectorized: exp and tanh from SLEEF, accurate to 1 ulp, with
// IEEE infinities and NaN; no -ffast-math). Built on first use by
// lstm_core.cpu_kernel (torch.utils.cpp_extension); the equations are those of
// lstm_core.numpy_lstm.
//
// Layout: X (T, B, I); W_ih (nG*H, I), W_hh (nG*H, H), b = b_ih + b_hh (nG*H);
// gates in the order (i, f, g, o), or (i, g, o) with nG = 3 (no forget gate, f = 1);
// peephole vectors w_ci, w_cf, w_co (H) are zeros when the layer has none.
//
// Threads. The hidden units are cut into `chunks` blocks of consecutive units;
// the rows of the weights are reordered block by block, (i, f, g, o) of block 0,
// then of block 1, ..., so that one block's gates are contiguous. Each step is one
// parallel region (at::parallel_for) in which a thread computes, for its blocks,
// the recurrent product and then the elementwise work: the forward writes h_t for
// its units, the backward first the gradient at h_t for its units (the product
// with the gate gradients of step t+1), then the gate gradients of step t. One
// fork and join per step, and every thread reads its own rows of W_hh only. The
// number of blocks depends on B and H, never on the thread count, so that one
// and two threads compute the same numbers in the same order.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
#define CPU_CAPABILITY_AVX512
#define CPU_CAPABILITY lstm_core_avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define CPU_CAPABILITY_AVX2
#define CPU_CAPABILITY lstm_core_avx2
#else
#define CPU_CAPABILITY lstm_core_default    // ATen's portable (or NEON) vectors
#endif
// (ATen compiles its vector headers once per instruction set, each in an inline
// namespace named by CPU_CAPABILITY; ours has a name of its own, so that no
// function of this module can be taken for one of libtorch's.)
#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

namespace {

template <typename T>
using Vec = at::vec::Vectorized<T>;

// 1 / (1 + exp(-x)), as torch.sigmoid computes it on the CPU: sigmoid(-inf) = 0,
// sigmoid(+inf) = 1, NaN stays NaN.
template <typename T>
inline Vec<T> sigmoid(const Vec<T>& x) {
  return (Vec<T>(T(1)) + x.neg().exp()).reciprocal();
}

// A row of n values at p + j: whole vectors, then one partial vector at the end.
template <typename T>
inline Vec<T> load(const T* p, int64_t j, int64_t m) {
  return m == Vec<T>::size() ? Vec<T>::loadu(p + j) : Vec<T>::loadu(p + j, m);
}

template <typename T>
inline void store(const Vec<T>& v, T* p, int64_t j, int64_t m) {
  if (m == Vec<T>::size()) v.store(p + j); else v.store(p + j, m);
}

// Gates of one sequence, units [j0, j0 + n), step t, in place: a holds the n
// pre-activations of each gate in turn (the block layout above) and is overwritten
// by i, f, g, o; writes c_t, tanh(c_t) and h_t (pointers at unit j0).
template <typename T, bool FG>
void gates_forward(T* a, const T* cp, T* c, T* tc, T* h, const T* w_ci,
                   const T* w_cf, const T* w_co, int64_t n) {
  using V = Vec<T>;
  constexpr int64_t L = V::size();
  T* ai = a;
  T* af = a + n;                          // unused without a forget gate
  T* ag = a + (FG ? 2 : 1) * n;
  T* ao = a + (FG ? 3 : 2) * n;
  const V one(T(1));
  for (int64_t j = 0; j < n; j += L) {
    const int64_t m = std::min(L, n - j);
    const V c_prev = load(cp, j, m);
    const V i = sigmoid(at::vec::fmadd(load(w_ci, j, m), c_prev, load(ai, j, m)));
    const V f = FG ? sigmoid(at::vec::fmadd(load(w_cf, j, m), c_prev, load(af, j, m)))
                   : one;
    const V g = load(ag, j, m).tanh();
    const V cn = at::vec::fmadd(f, c_prev, i * g);
    const V o = sigmoid(at::vec::fmadd(load(w_co, j, m), cn, load(ao, j, m)));
    const V t = cn.tanh();
    store(i, ai, j, m);
    if (FG) store(f, af, j, m);
    store(g, ag, j, m);
    store(o, ao, j, m);
    store(cn, c, j, m);
    store(t, tc, j, m);
    store(o * t, h, j, m);
  }
}

// Gradients of the pre-activations of one sequence, units [j0, j0 + n), step t,
// from dh_t and dc (the gradient arriving at c_t from step t+1; it becomes the
// gradient at c_{t-1}). dw points at this sequence's three peephole-gradient rows
// (stride H), into which the step's terms are added.
template <typename T, bool FG>
void gates_backward(const T* gates, const T* cp, const T* c, const T* tc, const T* dh,
                    T* dc, T* da, const T* w_ci, const T* w_cf, const T* w_co, T* dw,
                    int64_t H, int64_t n) {
  using V = Vec<T>;
  constexpr int64_t L = V::size();
  const int64_t k = FG ? 1 : 0;
  const T *gi = gates, *gf = gates + n, *gg = gates + (1 + k) * n,
          *go = gates + (2 + k) * n;
  T *di = da, *df = da + n, *dg = da + (1 + k) * n, *dO = da + (2 + k) * n;
  T *dw_ci = dw, *dw_cf = dw + H, *dw_co = dw + 2 * H;
  const V one(T(1));
  for (int64_t j = 0; j < n; j += L) {
    const int64_t m = std::min(L, n - j);
    const V i = load(gi, j, m), g = load(gg, j, m), o = load(go, j, m),
            t = load(tc, j, m), dhv = load(dh, j, m), c_prev = load(cp, j, m);
    const V f = FG ? load(gf, j, m) : one;
    const V dao = dhv * t * o * (one - o);
    const V dcv = at::vec::fmadd(dao, load(w_co, j, m),                // the carousel
                                 at::vec::fmadd(dhv * o, one - t * t, load(dc, j, m)));
    const V dcv_i = dcv * i;
    const V dai = dcv_i * g * (one - i);
    store(dai, di, j, m);
    store(dcv_i * (one - g * g), dg, j, m);
    store(dao, dO, j, m);
    V dcn = at::vec::fmadd(dai, load(w_ci, j, m), dcv * f);
    store(at::vec::fmadd(dai, c_prev, load(dw_ci, j, m)), dw_ci, j, m);
    if (FG) {
      const V daf = dcv * c_prev * f * (one - f);
      store(daf, df, j, m);
      dcn = at::vec::fmadd(daf, load(w_cf, j, m), dcn);
      store(at::vec::fmadd(daf, c_prev, load(dw_cf, j, m)), dw_cf, j, m);
    }
    store(dcn, dc, j, m);
    store(at::vec::fmadd(dao, load(c, j, m), load(dw_co, j, m)), dw_co, j, m);
  }
}

// --------------------------------------------------------------- blocks of units

// Below this many multiply-adds per step in the recurrent product (B * nG*H * H),
// one block: a parallel region costs more than it saves.
constexpr int64_t kParallelWork = int64_t(1) << 19;
constexpr int64_t kBlockUnits = 64;   // units per block, about

struct Blocks {
  int64_t n, H, nG;
  int64_t start(int64_t k) const { return k * H / n; }    // first unit of block k
  int64_t width(int64_t k) const { return start(k + 1) - start(k); }
  int64_t row(int64_t k) const { return nG * start(k); }  // first weight row
};

Blocks blocks(int64_t B, int64_t H, int64_t nG, int64_t requested) {
  TORCH_CHECK(requested >= 0, "chunks must be >= 0 (0: chosen from B and H), got ",
              requested);
  int64_t n = requested;
  if (n == 0) {
    n = B * nG * H * H >= kParallelWork ? std::max<int64_t>(1, H / kBlockUnits) : 1;
  }
  return {std::min(n, H), H, nG};
}

// The weight row (of W_ih, W_hh, b) at each row of the block layout.
at::Tensor block_order(const Blocks& bl) {
  auto order = at::empty({bl.nG * bl.H}, at::kLong);
  auto* p = order.data_ptr<int64_t>();
  for (int64_t k = 0; k < bl.n; ++k)
    for (int64_t q = 0; q < bl.nG; ++q)
      for (int64_t u = 0; u < bl.width(k); ++u)
        *p++ = q * bl.H + bl.start(k) + u;
  return order;
}

// f(k) for every block k, in one parallel region when there is more than one.
// The threads of the region take the caller's thread-local state (grad mode,
// inference mode, profiler), which at::parallel_for alone does not pass on.
template <typename F>
void for_blocks(const Blocks& bl, const at::ThreadLocalState& state, const F& f) {
  if (bl.n == 1) {
    f(0);                     // not in a parallel region: addmm may use all threads
    return;
  }
  at::parallel_for(0, bl.n, 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard guard(state);
    for (int64_t k = begin; k < end; ++k) f(k);
  });
}

// Optional timing (for benchmarks/profile_kernel.py): seconds added per slot;
// the product and elementwise slots sum over threads.
struct Timer {
  double* slots = nullptr;
  std::vector<std::vector<double>> per_thread;
  explicit Timer(const std::optional<at::Tensor>& t, int64_t n) {
    if (t && t->defined()) {
      TORCH_CHECK(t->scalar_type() == at::kDouble && t->is_contiguous() &&
                  t->numel() >= n, "timing must be a contiguous float64 tensor of "
                  "at least ", n, " elements");
      slots = t->data_ptr<double>();
      per_thread.assign(at::get_num_threads(), std::vector<double>(n, 0.0));
    }
  }
  static double now() {
    return std::chrono::duration<double>(
        std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  double start() const { return slots ? now() : 0.0; }
  void add(int64_t slot, double since) {       // from the thread that measured it
    if (slots) per_thread[at::get_thread_num()][slot] += now() - since;
  }
  ~Timer() {
    for (const auto& p : per_thread)
      for (size_t s = 0; s < p.size(); ++s) slots[s] += p[s];
  }
};

// -------------------------------------------------------------------- checks

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

int64_t gate_count(const at::Tensor& W_hh) {
  TORCH_CHECK(W_hh.dim() == 2 && W_hh.size(1) > 0, "W_hh must be (nG*H, H)");
  const int64_t H = W_hh.size(1), nG = W_hh.size(0) / H;
  TORCH_CHECK((nG == 3 || nG == 4) && W_hh.size(0) == nG * H,
              "W_hh must have 3H or 4H rows, got ", W_hh.sizes());
  return nG;
}

}  // namespace

// Returns (Hs, C, gates, tanh_C); gates (T, B, nG*H) holds i, f, g, o in the block
// layout of `chunks` (pass the same value to backward). timing, if given, gets
// [input product, recurrent products, elementwise, time loop] in seconds added.
std::vector<at::Tensor> forward(const at::Tensor& X, const at::Tensor& h0,
                                const at::Tensor& c0, const at::Tensor& W_ih,
                                const at::Tensor& W_hh, const at::Tensor& b,
                                const at::Tensor& w_ci, const at::Tensor& w_cf,
                                const at::Tensor& w_co, int64_t chunks,
                                const std::optional<at::Tensor>& timing) {
  check_floating(X);
  const int64_t nG = gate_count(W_hh);
  const int64_t T = X.size(0), B = X.size(1), I = X.size(2), H = W_hh.size(1);
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
  const Blocks bl = blocks(B, H, nG, chunks);
  Timer timer(timing, 4);
  auto Wx = W_ih, Wh = W_hh, bb = b;
  if (bl.n > 1) {
    auto order = block_order(bl);
    Wx = W_ih.index_select(0, order);
    Wh = W_hh.index_select(0, order);
    bb = b.index_select(0, order);
  }
  double t0 = timer.start();
  auto gates = at::addmm(bb, X.reshape({T * B, I}), Wx.t()).view({T, B, nG * H});
  timer.add(0, t0);
  auto Hs = at::empty({T, B, H}, X.options());
  auto C = at::empty_like(Hs);
  auto tanh_C = at::empty_like(Hs);
  auto h0c = h0.contiguous(), c0c = c0.contiguous();
  std::vector<at::Tensor> W_block;                  // block k's rows, transposed
  for (int64_t k = 0; k < bl.n; ++k)
    W_block.push_back(Wh.narrow(0, bl.row(k), nG * bl.width(k)).t());
  const at::ThreadLocalState state;
  const double loop = timer.start();
  AT_DISPATCH_FLOATING_TYPES(dt, "peephole_forward", [&] {
    auto run = nG == 4 ? gates_forward<scalar_t, true> : gates_forward<scalar_t, false>;
    const scalar_t *pci = w_ci.data_ptr<scalar_t>(), *pcf = w_cf.data_ptr<scalar_t>(),
                   *pco = w_co.data_ptr<scalar_t>();
    for (int64_t t = 0; t < T; ++t) {
      const auto h_prev = t ? Hs[t - 1] : h0c;
      const auto a_t = gates[t];
      const scalar_t* c_prev = t ? C[t - 1].data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      scalar_t* a = a_t.data_ptr<scalar_t>();
      scalar_t* c = C[t].data_ptr<scalar_t>();
      scalar_t* tc = tanh_C[t].data_ptr<scalar_t>();
      scalar_t* h = Hs[t].data_ptr<scalar_t>();
      for_blocks(bl, state, [&](int64_t k) {
        const int64_t j0 = bl.start(k), n = bl.width(k), r = bl.row(k);
        double s = timer.start();
        a_t.narrow(1, r, nG * n).addmm_(h_prev, W_block[k]);
        timer.add(1, s);
        s = timer.start();
        for (int64_t bi = 0; bi < B; ++bi)
          run(a + bi * nG * H + r, c_prev + bi * H + j0, c + bi * H + j0,
              tc + bi * H + j0, h + bi * H + j0, pci + j0, pcf + j0, pco + j0, n);
        timer.add(2, s);
      });
    }
  });
  timer.add(3, loop);
  return {Hs, C, gates, tanh_C};
}

// Returns (dX or an undefined tensor, dh0, dc0, dW_ih, dW_hh, db, dw_ci, dw_cf,
// dw_co). timing, if given, gets [4 unused, recurrent products, elementwise, time
// loop, weight gradients] in seconds added (slots 4 to 7).
std::vector<at::Tensor> backward(const at::Tensor& dH, const at::Tensor& dh_T,
                                 const at::Tensor& dc_T, const at::Tensor& X,
                                 const at::Tensor& h0, const at::Tensor& c0,
                                 const at::Tensor& W_ih, const at::Tensor& W_hh,
                                 const at::Tensor& w_ci, const at::Tensor& w_cf,
                                 const at::Tensor& w_co, const at::Tensor& gates,
                                 const at::Tensor& Hs, const at::Tensor& C,
                                 const at::Tensor& tanh_C, bool need_dX,
                                 int64_t chunks,
                                 const std::optional<at::Tensor>& timing) {
  check_floating(X);
  const int64_t nG = gate_count(W_hh);
  const int64_t T = X.size(0), B = X.size(1), I = X.size(2), H = W_hh.size(1);
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
  const Blocks bl = blocks(B, H, nG, chunks);
  Timer timer(timing, 8);
  at::Tensor order, Wx = W_ih, Wh = W_hh;
  if (bl.n > 1) {
    order = block_order(bl);
    Wx = W_ih.index_select(0, order);
    Wh = W_hh.index_select(0, order);
  }
  auto dHc = dH.contiguous();
  auto dA = at::empty({T, B, nG * H}, X.options());
  auto dh = (dh_T + dHc[T - 1]).contiguous();
  auto dc = dc_T.clone().contiguous();
  auto dw_rows = at::zeros({B, 3, H}, X.options());     // per sequence: summed last
  auto c0c = c0.contiguous();
  std::vector<at::Tensor> W_cols, dh_cols;               // block k's units
  for (int64_t k = 0; k < bl.n; ++k) {
    W_cols.push_back(Wh.narrow(1, bl.start(k), bl.width(k)));
    dh_cols.push_back(dh.narrow(1, bl.start(k), bl.width(k)));
  }
  const at::ThreadLocalState state;
  const double loop = timer.start();
  AT_DISPATCH_FLOATING_TYPES(dt, "peephole_backward", [&] {
    auto run = nG == 4 ? gates_backward<scalar_t, true>
                       : gates_backward<scalar_t, false>;
    const scalar_t *pci = w_ci.data_ptr<scalar_t>(), *pcf = w_cf.data_ptr<scalar_t>(),
                   *pco = w_co.data_ptr<scalar_t>();
    scalar_t* pdh = dh.data_ptr<scalar_t>();
    scalar_t* pdc = dc.data_ptr<scalar_t>();
    scalar_t* pdw = dw_rows.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* c_prev = t ? C[t - 1].data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      const scalar_t* g = gates[t].data_ptr<scalar_t>();
      const scalar_t* c = C[t].data_ptr<scalar_t>();
      const scalar_t* tc = tanh_C[t].data_ptr<scalar_t>();
      scalar_t* da = dA[t].data_ptr<scalar_t>();
      const auto dH_t = dHc[t];
      const auto dA_next = t + 1 < T ? dA[t + 1] : at::Tensor();
      for_blocks(bl, state, [&](int64_t k) {
        const int64_t j0 = bl.start(k), n = bl.width(k), r = bl.row(k);
        if (t + 1 < T) {                // dh_t = dH_t + dA_{t+1} W_hh, its units
          const double s = timer.start();
          at::addmm_out(dh_cols[k], dH_t.narrow(1, j0, n), dA_next, W_cols[k]);
          timer.add(4, s);
        }
        const double s = timer.start();
        for (int64_t bi = 0; bi < B; ++bi)
          run(g + bi * nG * H + r, c_prev + bi * H + j0, c + bi * H + j0,
              tc + bi * H + j0, pdh + bi * H + j0, pdc + bi * H + j0,
              da + bi * nG * H + r, pci + j0, pcf + j0, pco + j0,
              pdw + bi * 3 * H + j0, H, n);
        timer.add(5, s);
      });
    }
  });
  const double s = timer.start();
  at::mm_out(dh, dA[0], Wh);                             // the gradient at h0
  timer.add(4, s);
  timer.add(6, loop);
  const double w = timer.start();
  // Peephole gradients: the per-sequence rows summed in a fixed order.
  auto dw = at::zeros({3, H}, X.options());
  AT_DISPATCH_FLOATING_TYPES(dt, "peephole_dw", [&] {
    const scalar_t* src = dw_rows.data_ptr<scalar_t>();
    scalar_t* out = dw.data_ptr<scalar_t>();
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t j = 0; j < 3 * H; ++j) out[j] += src[bi * 3 * H + j];
  });
  // Weight gradients: one product with [x_t, h_{t-1}] for all steps.
  auto XH = at::empty({T, B, I + H}, X.options());
  XH.narrow(2, 0, I).copy_(X);
  XH[0].narrow(1, I, H).copy_(h0);
  XH.narrow(0, 1, T - 1).narrow(2, I, H).copy_(Hs.narrow(0, 0, T - 1));  // T = 1: empty
  auto dA2 = dA.view({T * B, nG * H});
  auto dW = dA2.t().mm(XH.view({T * B, I + H}));
  auto db = dA2.sum(0);
  auto dX = need_dX ? dA2.mm(Wx).view({T, B, I}) : at::Tensor();
  if (bl.n > 1) {                                        // back to the weights' order
    auto back = at::empty_like(order);
    back.index_copy_(0, order, at::arange(nG * H, order.options()));
    dW = dW.index_select(0, back);
    db = db.index_select(0, back);
  }
  timer.add(7, w);
  return {dX, dh, dc, dW.narrow(1, 0, I), dW.narrow(1, I, H), db,
          dw[0], dw[1], dw[2]};
}

// The gate activations of the loops above, elementwise on a contiguous tensor
// (for the tests: NaN and infinities as torch.sigmoid and torch.tanh).
std::vector<at::Tensor> activations(const at::Tensor& x) {
  check_floating(x.dim() == 3 ? x : x.reshape({1, 1, -1}));
  auto xc = x.contiguous();
  auto s = at::empty_like(xc), t = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "peephole_activations", [&] {
    using V = Vec<scalar_t>;
    const scalar_t* p = xc.data_ptr<scalar_t>();
    scalar_t *ps = s.data_ptr<scalar_t>(), *pt = t.data_ptr<scalar_t>();
    const int64_t n = xc.numel();
    for (int64_t j = 0; j < n; j += V::size()) {
      const int64_t m = std::min<int64_t>(V::size(), n - j);
      const V v = load(p, j, m);
      store(sigmoid(v), ps, j, m);
      store(v.tanh(), pt, j, m);
    }
  });
  return {s, t};
}

// What this build is: the instruction set of its vectors, their width, and
// whether at::parallel_for can run threads here (built with OpenMP).
std::vector<std::string> info() {
  std::string cap =
#if defined(CPU_CAPABILITY_AVX512)
      "avx512";
#elif defined(CPU_CAPABILITY_AVX2)
      "avx2";
#else
      "default";
#endif
#ifdef _OPENMP
  const std::string threads = "openmp";
#else
  const std::string threads = "none";
#endif
  return {cap, std::to_string(Vec<float>::size()), threads};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "peephole LSTM forward (CPU)", py::arg("X"),
        py::arg("h0"), py::arg("c0"), py::arg("W_ih"), py::arg("W_hh"), py::arg("b"),
        py::arg("w_ci"), py::arg("w_cf"), py::arg("w_co"), py::arg("chunks") = 0,
        py::arg("timing") = py::none());
  m.def("backward", &backward, "peephole LSTM backward (CPU)", py::arg("dH"),
        py::arg("dh_T"), py::arg("dc_T"), py::arg("X"), py::arg("h0"), py::arg("c0"),
        py::arg("W_ih"), py::arg("W_hh"), py::arg("w_ci"), py::arg("w_cf"),
        py::arg("w_co"), py::arg("gates"), py::arg("Hs"), py::arg("C"),
        py::arg("tanh_C"), py::arg("need_dX"), py::arg("chunks") = 0,
        py::arg("timing") = py::none());
  m.def("activations", &activations, "the kernel's (sigmoid(x), tanh(x))");
  m.def("info", &info, "(vector instruction set, float32 lanes, threading)");
}
