// Depthwise mixing over the fibre, forward and the kernel's gradient, for CPUs (OpenMP).
//
// For features g [N, P, C] and a per-channel kernel k [O, P, C]:
//
//   out(n, o, :) = sum_p k(o, p, :) * g(n, p, :)  (+ bias(:))
//
// computed point by point, channels innermost: the layout of the features, so no transposed
// copies (a batched matrix product over channels would need channel-first copies). The
// gradient with respect to g is the same mixing with k's first two axes swapped; the gradient
// with respect to k sums over points, in one private [O, P, C] accumulator per thread (summed
// by the caller). Static schedules: results depend only on the number of threads.
//
// Built at run time by regconv.ops.native (plain C ABI through ctypes, no Python headers).

#include <cstdint>
#include <cstring>

#include <omp.h>

namespace {

template <typename T>
void mix(const T* g, const T* k, const T* bias, T* out, int64_t n, int64_t o, int64_t p,
         int64_t c, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    const T* __restrict g_i = g + i * p * c;
    for (int64_t a = 0; a < o; ++a) {
      T* __restrict y = out + (i * o + a) * c;
      if (bias != nullptr) {
        std::memcpy(y, bias, sizeof(T) * c);
      } else {
        std::memset(y, 0, sizeof(T) * c);
      }
      const T* __restrict k_a = k + a * p * c;
      int64_t b = 0;
      for (; b + 1 < p; b += 2) {  // two fibre points per pass over y
        const T* __restrict k0 = k_a + b * c;
        const T* __restrict k1 = k0 + c;
        const T* __restrict x0 = g_i + b * c;
        const T* __restrict x1 = x0 + c;
#pragma omp simd
        for (int64_t t = 0; t < c; ++t) y[t] += k0[t] * x0[t] + k1[t] * x1[t];
      }
      if (b < p) {
        const T* __restrict k0 = k_a + b * c;
        const T* __restrict x0 = g_i + b * c;
#pragma omp simd
        for (int64_t t = 0; t < c; ++t) y[t] += k0[t] * x0[t];
      }
    }
  }
}

// dk_private [threads, O, P, C]: dk(o, p, :) = sum_n dout(n, o, :) * g(n, p, :)
template <typename T>
void kernel_grad(const T* g, const T* dout, T* dk_private, int64_t n, int64_t o, int64_t p,
                 int64_t c, int threads) {
  const int64_t size = o * p * c;
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int b = 0; b < threads; ++b) std::memset(dk_private + b * size, 0, sizeof(T) * size);
    T* __restrict dk = dk_private + static_cast<int64_t>(omp_get_thread_num()) * size;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict g_i = g + i * p * c;
      for (int64_t a = 0; a < o; ++a) {
        const T* __restrict d = dout + (i * o + a) * c;
        T* __restrict dk_a = dk + a * p * c;
        for (int64_t b = 0; b < p; ++b) {
          T* __restrict y = dk_a + b * c;
          const T* __restrict x = g_i + b * c;
#pragma omp simd
          for (int64_t t = 0; t < c; ++t) y[t] += d[t] * x[t];
        }
      }
    }
  }
}

}  // namespace

#define REGCONV_FIBRE_ENTRY(SUFFIX, T)                                                          \
  extern "C" void regconv_fibre_mix_##SUFFIX(const T* g, const T* k, const T* bias, T* out,    \
                                             int64_t n, int64_t o, int64_t p, int64_t c,       \
                                             int threads) {                                    \
    mix<T>(g, k, bias, out, n, o, p, c, threads);                                              \
  }                                                                                             \
  extern "C" void regconv_fibre_kernel_grad_##SUFFIX(const T* g, const T* dout, T* dk_private, \
                                                     int64_t n, int64_t o, int64_t p,          \
                                                     int64_t c, int threads) {                 \
    kernel_grad<T>(g, dout, dk_private, n, o, p, c, threads);                                  \
  }

REGCONV_FIBRE_ENTRY(f32, float)
REGCONV_FIBRE_ENTRY(f64, double)
