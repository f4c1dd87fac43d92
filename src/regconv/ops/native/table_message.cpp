// Fused message sum of a tabulated kernel, forward and backward, for CPUs (OpenMP).
//
// For features f [N, O, C], a table [G, C], interpolation weights w [E, O, Q] and table rows
// cells [E, O, Q] of the edges src[e] = j -> dst[e] = i:
//
//   ker(e, o, :) = sum_q w[e, o, q] table[cells[e, o, q], :]
//   out(i, o, :) = sum_{e: dst_e = i} f(src_e, o, :) * ker(e, o, :)
//
// One pass over the edges per direction, nothing of size [E, O, C] in memory. The forward pass
// walks the edges grouped by destination (a CSR order: `order[ptr[i] .. ptr[i+1]]` are the edges
// into node i), so each thread owns its output rows. The backward pass walks them grouped by
// source, so each thread owns its rows of df; the table's gradient is a scatter into the table
// rows, accumulated in one private copy of the table per thread (summed by the caller).
// Static schedules: the result does not depend on timing, only on the number of threads.
//
// Built at run time by regconv.ops.native (plain C ABI through ctypes, no Python headers).

#include <cstdint>
#include <cstring>
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

template <typename T, typename I>
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
          interpolate(ker, table, w + r, cells + r, q, c);
          T* __restrict y = out_i + a * c;
          const T* __restrict x = f_j + a * c;
#pragma omp simd
          for (int64_t t = 0; t < c; ++t) y[t] += x[t] * ker[t];
        }
      }
    }
  }
}

// df, dtable_private ([threads, G, C]) and dw may each be null (not needed).
template <typename T, typename I>
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
          if (df_j) {
            interpolate(ker, table, w + r, cells + r, q, c);
            T* __restrict y = df_j + a * c;
#pragma omp simd
            for (int64_t t = 0; t < c; ++t) y[t] += grad[t] * ker[t];
          }
          if (dtab || dw) {
            const T* __restrict x = f_j + a * c;
#pragma omp simd
            for (int64_t t = 0; t < c; ++t) dk[t] = grad[t] * x[t];
            for (int64_t p = 0; p < q; ++p) {
              const int64_t row = static_cast<int64_t>(cells[r + p]) * c;
              if (dtab) {
                T* __restrict y = dtab + row;
                const T wp = w[r + p];
#pragma omp simd
                for (int64_t t = 0; t < c; ++t) y[t] += wp * dk[t];
              }
              if (dw) {
                const T* __restrict tr = table + row;
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
}

}  // namespace

#define REGCONV_TABLE_ENTRY(SUFFIX, T, I)                                                       \
  extern "C" void regconv_table_forward_##SUFFIX(                                               \
      const T* f, const T* table, const T* w, const I* cells, const int64_t* src,               \
      const int64_t* order, const int64_t* ptr, T* out, int64_t n, int64_t o, int64_t c,        \
      int64_t q, int threads) {                                                                 \
    forward<T, I>(f, table, w, cells, src, order, ptr, out, n, o, c, q, threads);               \
  }                                                                                             \
  extern "C" void regconv_table_backward_##SUFFIX(                                              \
      const T* f, const T* table, const T* w, const I* cells, const int64_t* dst,               \
      const int64_t* order, const int64_t* ptr, const T* dout, T* df, T* dtable_private, T* dw, \
      int64_t n, int64_t o, int64_t c, int64_t q, int64_t g, int threads) {                     \
    backward<T, I>(f, table, w, cells, dst, order, ptr, dout, df, dtable_private, dw, n, o, c,  \
                   q, g, threads);                                                              \
  }

REGCONV_TABLE_ENTRY(f32_i32, float, int32_t)
REGCONV_TABLE_ENTRY(f32_i64, float, int64_t)
REGCONV_TABLE_ENTRY(f64_i32, double, int32_t)
REGCONV_TABLE_ENTRY(f64_i64, double, int64_t)
