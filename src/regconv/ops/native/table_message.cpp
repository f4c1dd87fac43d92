// Fused message sum of a tabulated kernel, forward and backward, for CPUs (OpenMP).
//
// For features f [N, O, C], a table [G, C], interpolation weights w [E, O, Q] and table rows
// cells [E, O, Q] of the edges src[e] = j -> dst[e] = i:
//
//   ker(e, o, :) = sum_q w[e, o, q] table[cells[e, o, q], :]
//   out(i, o, :) = sum_{e: dst_e = i} f(src_e, o, :) * ker(e, o, :)
//
// Nothing of size [E, O, C] in memory. The forward pass walks the edges grouped by destination
// (a CSR order: `order[ptr[i] .. ptr[i+1]]` are the edges into node i), so each thread owns its
// output rows. The backward pass walks them grouped by source, so each thread owns its rows of
// df; the table's gradient is a scatter into the table rows, accumulated in one private copy of
// the table per thread (summed by the caller), either in that same walk or, faster, in a walk of
// its own over the (edge, orientation) pairs sorted by table cell (`table_grad_sorted`). The
// common node counts Q are compiled as constants, so that a pair's kernel value stays in
// registers. Static schedules: the result does not depend on timing, only on the thread count.
//
// Built at run time by regconv.ops.native (plain C ABI through ctypes, no Python headers).

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <omp.h>

namespace {

// ker[0:c] = sum_p w[p] * table[rows[p], 0:c]
template <typename T, typename I>
inline void interpolate(T* __restrict ker, const T* __restrict table, const T* __restrict w,
                        const I* __restrict rows, int64_t q, int64_t c) {
  const T* t0 = table + static_cast<int64_t>(rows[0]) * c;
  const T w0 = w[0];
  int64_t p = 1;
  if (q >= 2) {  // two rows per pass over ker: half the traffic through it
    const T* t1 = table + static_cast<int64_t>(rows[1]) * c;
    const T w1 = w[1];
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) ker[t] = w0 * t0[t] + w1 * t1[t];
    p = 2;
  } else {
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) ker[t] = w0 * t0[t];
  }
  for (; p + 1 < q; p += 2) {
    const T* ta = table + static_cast<int64_t>(rows[p]) * c;
    const T* tb = table + static_cast<int64_t>(rows[p + 1]) * c;
    const T wa = w[p], wb = w[p + 1];
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) ker[t] += wa * ta[t] + wb * tb[t];
  }
  if (p < q) {
    const T* ta = table + static_cast<int64_t>(rows[p]) * c;
    const T wa = w[p];
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) ker[t] += wa * ta[t];
  }
}

// A pair's Q table rows (pointers of type P into a [G, C] table) and their weights.
template <typename P, typename T, typename I, int Q>
struct Rows {
  P row[Q];
  T weight[Q];
  Rows(P table, const T* w, const I* cells, int64_t c) {
    for (int p = 0; p < Q; ++p) {
      row[p] = table + static_cast<int64_t>(cells[p]) * c;
      weight[p] = w[p];
    }
  }
};

// y[0:c] += x[0:c] * sum_p w[p] table[rows[p], 0:c]. With Q fixed the kernel value of each lane
// stays in a register (one pass, q + 1 FMAs per lane); otherwise it goes through ker[0:c].
template <typename T, typename I, int Q>
inline void add_message(T* __restrict y, const T* __restrict x, const T* table, const T* w,
                        const I* cells, int64_t q, int64_t c, T* __restrict ker) {
  if constexpr (Q > 0) {
    const Rows<const T*, T, I, Q> r(table, w, cells, c);
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) {
      T s = r.weight[0] * r.row[0][t];
      for (int p = 1; p < Q; ++p) s += r.weight[p] * r.row[p][t];
      y[t] += x[t] * s;
    }
  } else {
    interpolate(ker, table, w, cells, q, c);
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) y[t] += x[t] * ker[t];
  }
}

// dtab[rows[p], 0:c] += w[p] * g[0:c] * x[0:c] for every p (the table's gradient of a pair).
template <typename T, typename I, int Q>
inline void add_table_grad(T* dtab, const T* __restrict g, const T* __restrict x, const T* w,
                           const I* cells, int64_t q, int64_t c, T* __restrict dk) {
  if constexpr (Q > 0) {
    const Rows<T*, T, I, Q> r(dtab, w, cells, c);
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) {
      const T d = g[t] * x[t];
      for (int p = 0; p < Q; ++p) r.row[p][t] += r.weight[p] * d;
    }
  } else {
#pragma omp simd
    for (int64_t t = 0; t < c; ++t) dk[t] = g[t] * x[t];
    for (int64_t p = 0; p < q; ++p) {
      T* __restrict y = dtab + static_cast<int64_t>(cells[p]) * c;
      const T wp = w[p];
#pragma omp simd
      for (int64_t t = 0; t < c; ++t) y[t] += wp * dk[t];
    }
  }
}

template <typename T, typename I, int Q>
void forward(const T* f, const T* table, const T* w, const I* cells, const int64_t* src,
             const int64_t* order, const int64_t* ptr, T* out, int64_t n, int64_t o, int64_t c,
             int64_t q, int threads) {
#pragma omp parallel num_threads(threads)
  {
    std::vector<T> ker_buf(c);
    T* __restrict ker = ker_buf.data();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      T* __restrict out_i = out + i * o * c;
      std::memset(out_i, 0, sizeof(T) * o * c);
      for (int64_t k = ptr[i]; k < ptr[i + 1]; ++k) {
        const int64_t e = order[k];
        const T* __restrict f_j = f + src[e] * o * c;
        for (int64_t a = 0; a < o; ++a) {
          const int64_t r = (e * o + a) * q;
          add_message<T, I, Q>(out_i + a * c, f_j + a * c, table, w + r, cells + r, q, c, ker);
        }
      }
    }
  }
}

// df, dtable_private ([threads, G, C]) and dw may each be null (not needed).
template <typename T, typename I, int Q>
void backward(const T* f, const T* table, const T* w, const I* cells, const int64_t* dst,
              const int64_t* order, const int64_t* ptr, const T* dout, T* df, T* dtable_private,
              T* dw, int64_t n, int64_t o, int64_t c, int64_t q, int64_t g, int threads) {
#pragma omp parallel num_threads(threads)
  {
    if (dtable_private != nullptr) {
#pragma omp for schedule(static)
      for (int b = 0; b < threads; ++b)
        std::memset(dtable_private + static_cast<int64_t>(b) * g * c, 0, sizeof(T) * g * c);
    }  // (implicit barrier)
    T* __restrict dtab =
        dtable_private ? dtable_private + static_cast<int64_t>(omp_get_thread_num()) * g * c
                       : nullptr;
    std::vector<T> ker_buf(c), dk_buf(c);
    T* __restrict ker = ker_buf.data();
    T* __restrict dk = dk_buf.data();
#pragma omp for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      T* __restrict df_j = df ? df + j * o * c : nullptr;
      if (df_j) std::memset(df_j, 0, sizeof(T) * o * c);
      for (int64_t k = ptr[j]; k < ptr[j + 1]; ++k) {
        const int64_t e = order[k];
        const T* __restrict g_i = dout + dst[e] * o * c;
        const T* __restrict f_j = f + j * o * c;
        for (int64_t a = 0; a < o; ++a) {
          const int64_t r = (e * o + a) * q;
          const T* __restrict grad = g_i + a * c;
          if (df_j) add_message<T, I, Q>(df_j + a * c, grad, table, w + r, cells + r, q, c, ker);
          if (dtab) add_table_grad<T, I, Q>(dtab, grad, f_j + a * c, w + r, cells + r, q, c, dk);
          if (dw) {
            const T* __restrict x = f_j + a * c;
#pragma omp simd
            for (int64_t t = 0; t < c; ++t) dk[t] = grad[t] * x[t];
            for (int64_t p = 0; p < q; ++p) {
              const T* __restrict tr = table + static_cast<int64_t>(cells[r + p]) * c;
              T s = 0;
#pragma omp simd reduction(+ : s)
              for (int64_t t = 0; t < c; ++t) s += tr[t] * dk[t];
              dw[r + p] = s;
            }
          }
        }
      }
    }
  }
}

// The table's gradient alone, dtab[cells[r, p]] += w[r, p] * dout[dst, a] * f[src, a] over the
// pairs r = e * o + a, walked in `pairs` order: sorted by their first table row (see
// `cell_order`); in a tabulation the first row (a cell's lowest node) fixes all Q rows, so pairs
// come in runs with the same Q rows (`same`; any rows are summed correctly, in runs of one).
// Over a run, the Q rows' sums of a block of lanes stay in registers and are added to the table
// once per run, instead of Q read-modify-writes of C values per pair. Each thread takes a
// contiguous share of the sorted pairs and its own copy of the table gradient ([threads, G, C]).
template <typename T, typename I, int Q>
void table_grad_sorted(const T* f, const T* w, const I* cells, const int64_t* src,
                       const int64_t* dst, const int64_t* pairs, const uint8_t* same,
                       const T* dout,
                       T* dtable_private, int64_t num_pairs, int64_t o, int64_t c, int64_t g,
                       int threads) {
  constexpr int kLanes = 64 / sizeof(T);  // one 64-byte vector
  constexpr int kBlock = 2 * kLanes;      // lanes per register block
  constexpr int kRun = 64;                // pairs per sub-run (their offsets kept on the stack)
  typedef T vec __attribute__((vector_size(64)));
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int b = 0; b < threads; ++b)
      std::memset(dtable_private + static_cast<int64_t>(b) * g * c, 0, sizeof(T) * g * c);
    const int t_id = omp_get_thread_num();
    const int t_num = omp_get_num_threads();
    T* dtab = dtable_private + static_cast<int64_t>(t_id) * g * c;
    const int64_t begin = num_pairs * t_id / t_num, end = num_pairs * (t_id + 1) / t_num;
    const int64_t main = c - c % kBlock;
    int64_t g_off[kRun], x_off[kRun];
    T wt[kRun][Q];
    for (int64_t k = begin; k < end;) {
      const I* first = cells + pairs[k] * Q;
      int64_t len = 0;  // the sub-run: up to kRun pairs with the same Q rows
      for (; len < kRun && k + len < end; ++len) {
        if (len > 0 && !same[k + len]) break;
        const int64_t r = pairs[k + len];
        const int64_t e = r / o, a = r - e * o;
        g_off[len] = (dst[e] * o + a) * c;
        x_off[len] = (src[e] * o + a) * c;
        for (int64_t b = 0; b < c; b += kLanes) {  // scattered rows: ask for them early
          __builtin_prefetch(dout + g_off[len] + b, 0, 1);
          __builtin_prefetch(f + x_off[len] + b, 0, 1);
        }
        for (int p = 0; p < Q; ++p) wt[len][p] = w[r * Q + p];
      }
      T* rows[Q];
      for (int p = 0; p < Q; ++p) rows[p] = dtab + static_cast<int64_t>(first[p]) * c;
      for (int64_t t0 = 0; t0 < main; t0 += kBlock) {
        vec acc0[Q], acc1[Q];
        for (int p = 0; p < Q; ++p) acc0[p] = acc1[p] = vec{};
        for (int64_t m = 0; m < len; ++m) {
          const T* gp = dout + g_off[m] + t0;
          const T* xp = f + x_off[m] + t0;
          vec g0, g1, x0, x1;
          std::memcpy(&g0, gp, sizeof(vec));
          std::memcpy(&g1, gp + kLanes, sizeof(vec));
          std::memcpy(&x0, xp, sizeof(vec));
          std::memcpy(&x1, xp + kLanes, sizeof(vec));
          const vec d0 = g0 * x0, d1 = g1 * x1;
          for (int p = 0; p < Q; ++p) {
            acc0[p] += wt[m][p] * d0;
            acc1[p] += wt[m][p] * d1;
          }
        }
        for (int p = 0; p < Q; ++p) {
          vec y0, y1;
          std::memcpy(&y0, rows[p] + t0, sizeof(vec));
          std::memcpy(&y1, rows[p] + t0 + kLanes, sizeof(vec));
          y0 += acc0[p];
          y1 += acc1[p];
          std::memcpy(rows[p] + t0, &y0, sizeof(vec));
          std::memcpy(rows[p] + t0 + kLanes, &y1, sizeof(vec));
        }
      }
      for (int64_t m = 0; m < len && main < c; ++m) {  // the lanes past the last full block
        const T* gp = dout + g_off[m];
        const T* xp = f + x_off[m];
        for (int p = 0; p < Q; ++p)
          for (int64_t t = main; t < c; ++t) rows[p][t] += wt[m][p] * gp[t] * xp[t];
      }
      k += len;
    }
  }
}

// pairs[0:P]: the pairs r sorted by their first table row cells[r * q] (stable counting sort;
// count[0:G + 1] is scratch); same[k]: whether pairs[k] has all the q rows of pairs[k - 1].
template <typename I>
void cell_order(const I* cells, int64_t num_pairs, int64_t q, int64_t g, int64_t* count,
                int64_t* pairs, uint8_t* same, int threads) {
  std::memset(count, 0, sizeof(int64_t) * (g + 1));
  for (int64_t r = 0; r < num_pairs; ++r) ++count[static_cast<int64_t>(cells[r * q]) + 1];
  for (int64_t k = 0; k < g; ++k) count[k + 1] += count[k];
  for (int64_t r = 0; r < num_pairs; ++r) pairs[count[static_cast<int64_t>(cells[r * q])]++] = r;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < num_pairs; ++k) {
    // the sorted walk reads scattered rows of cells: ask for them a few pairs ahead
    if (k + 16 < num_pairs) __builtin_prefetch(cells + pairs[k + 16] * q, 0, 0);
    bool equal = k > 0;
    for (int64_t p = 0; p < q && equal; ++p)
      equal = cells[pairs[k] * q + p] == cells[pairs[k - 1] * q + p];
    same[k] = equal;
  }
}

// Calls run(std::integral_constant<int, Q>{}) with Q = q for the compiled node counts, 2, 4
// (linear, 1-D / 2-D), 3, 9 (quadratic), 4, 16 (cubic), else with Q = 0 (the generic loops);
// returns whether q was one of them.
template <typename Run>
bool with_fixed_q(int64_t q, Run&& run) {
  switch (q) {
    case 2: run(std::integral_constant<int, 2>{}); return true;
    case 3: run(std::integral_constant<int, 3>{}); return true;
    case 4: run(std::integral_constant<int, 4>{}); return true;
    case 9: run(std::integral_constant<int, 9>{}); return true;
    case 16: run(std::integral_constant<int, 16>{}); return true;
    default: run(std::integral_constant<int, 0>{}); return false;
  }
}

}  // namespace

#define REGCONV_TABLE_ENTRY(SUFFIX, T, I)                                                       \
  extern "C" void regconv_table_forward_##SUFFIX(                                               \
      const T* f, const T* table, const T* w, const I* cells, const int64_t* src,               \
      const int64_t* order, const int64_t* ptr, T* out, int64_t n, int64_t o, int64_t c,        \
      int64_t q, int threads) {                                                                 \
    with_fixed_q(q, [&](auto fixed) {                                                           \
      forward<T, I, decltype(fixed)::value>(f, table, w, cells, src, order, ptr, out, n, o, c,  \
                                            q, threads);                                        \
    });                                                                                         \
  }                                                                                             \
  extern "C" void regconv_table_backward_##SUFFIX(                                              \
      const T* f, const T* table, const T* w, const I* cells, const int64_t* dst,               \
      const int64_t* order, const int64_t* ptr, const T* dout, T* df, T* dtable_private, T* dw, \
      int64_t n, int64_t o, int64_t c, int64_t q, int64_t g, int threads) {                     \
    with_fixed_q(q, [&](auto fixed) {                                                           \
      backward<T, I, decltype(fixed)::value>(f, table, w, cells, dst, order, ptr, dout, df,     \
                                             dtable_private, dw, n, o, c, q, g, threads);       \
    });                                                                                         \
  }

#define REGCONV_SORTED_ENTRY(SUFFIX, T, I)                                                      \
  extern "C" bool regconv_table_grad_sorted_##SUFFIX(                                           \
      const T* f, const T* w, const I* cells, const int64_t* src, const int64_t* dst,           \
      const int64_t* pairs, const uint8_t* same, const T* dout, T* dtable_private,              \
      int64_t num_pairs, int64_t o, int64_t c, int64_t q, int64_t g, int threads) {             \
    return with_fixed_q(q, [&](auto fixed) {                                                    \
      if constexpr (decltype(fixed)::value > 0)                                                 \
        table_grad_sorted<T, I, decltype(fixed)::value>(f, w, cells, src, dst, pairs, same,     \
                                                        dout, dtable_private, num_pairs, o, c,  \
                                                        g, threads);                            \
    });                                                                                         \
  }

extern "C" void regconv_cell_order_i32(const int32_t* cells, int64_t num_pairs, int64_t q,
                                       int64_t g, int64_t* count, int64_t* pairs,
                                       uint8_t* same, int threads) {
  cell_order(cells, num_pairs, q, g, count, pairs, same, threads);
}
extern "C" void regconv_cell_order_i64(const int64_t* cells, int64_t num_pairs, int64_t q,
                                       int64_t g, int64_t* count, int64_t* pairs,
                                       uint8_t* same, int threads) {
  cell_order(cells, num_pairs, q, g, count, pairs, same, threads);
}

REGCONV_SORTED_ENTRY(f32_i32, float, int32_t)
REGCONV_SORTED_ENTRY(f32_i64, float, int64_t)
REGCONV_SORTED_ENTRY(f64_i32, double, int32_t)
REGCONV_SORTED_ENTRY(f64_i64, double, int64_t)

REGCONV_TABLE_ENTRY(f32_i32, float, int32_t)
REGCONV_TABLE_ENTRY(f32_i64, float, int64_t)
REGCONV_TABLE_ENTRY(f64_i32, double, int32_t)
REGCONV_TABLE_ENTRY(f64_i64, double, int64_t)
