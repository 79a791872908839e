// C (rows, N) [+]= A (rows, K) @ B (K, N) + bias, fp32, AVX-512, column panels over the pool's threads.
// B is packed in panels of 32 columns: panel p holds B[:, 32p : 32p + 32] as K contiguous
// 32-float rows (zeros past N), so the micro-kernel streams it with two aligned-size loads per k.
// The micro-kernel keeps an MR x (NP panels x 32) block of C in registers and sums over k in
// order with FMA; A's elements are broadcast. MR x NP is chosen so 8-24 accumulators hide FMA
// latency: one row (batch 1) walks four panels at once, six rows walk two.
#pragma once
#include "pool.h"
#include "vecmath.h"

template <int MR, int NP>
static inline void gemm_block(const float* A, int64_t lda, const float* B, int64_t K, const float* bias,
                              float* C, int64_t ldc, int64_t n0, int64_t N, bool accumulate) {
    __m512 acc[MR][NP][2];
    for (int r = 0; r < MR; r++)
        for (int p = 0; p < NP; p++) acc[r][p][0] = acc[r][p][1] = _mm512_setzero_ps();
    const int64_t panel = K * 32;
    for (int64_t k = 0; k < K; k++) {
        __m512 w[NP][2];
        for (int p = 0; p < NP; p++) {
            w[p][0] = _mm512_loadu_ps(B + p * panel + k * 32);
            w[p][1] = _mm512_loadu_ps(B + p * panel + k * 32 + 16);
        }
        for (int r = 0; r < MR; r++) {
            const __m512 a = _mm512_set1_ps(A[r * lda + k]);
            for (int p = 0; p < NP; p++) {
                acc[r][p][0] = _mm512_fmadd_ps(a, w[p][0], acc[r][p][0]);
                acc[r][p][1] = _mm512_fmadd_ps(a, w[p][1], acc[r][p][1]);
            }
        }
    }
    for (int p = 0; p < NP; p++)
        for (int h = 0; h < 2; h++) {
            const int64_t col = n0 + p * 32 + h * 16;
            const __mmask16 m = tail_mask(N - col);
            if (!m) continue;
            const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + col) : _mm512_setzero_ps();
            for (int r = 0; r < MR; r++) {
                __m512 y = _mm512_add_ps(acc[r][p][h], b);
                if (accumulate) y = _mm512_add_ps(_mm512_maskz_loadu_ps(m, C + r * ldc + col), y);
                _mm512_mask_storeu_ps(C + r * ldc + col, m, y);
            }
        }
}

// Every row block of up to 6 rows against NP panels starting at p (B already offset to panel p).
template <int NP>
static void gemm_panels(const float* A, int64_t lda, int64_t rows, const float* B, int64_t K, const float* bias,
                        float* C, int64_t ldc, int64_t n0, int64_t N, bool accumulate) {
    int64_t i = 0;
    for (; i + 6 <= rows; i += 6) gemm_block<6, NP>(A + i * lda, lda, B, K, bias, C + i * ldc, ldc, n0, N, accumulate);
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    switch (rows - i) {
        case 5: gemm_block<5, NP>(a, lda, B, K, bias, c, ldc, n0, N, accumulate); break;
        case 4: gemm_block<4, NP>(a, lda, B, K, bias, c, ldc, n0, N, accumulate); break;
        case 3: gemm_block<3, NP>(a, lda, B, K, bias, c, ldc, n0, N, accumulate); break;
        case 2: gemm_block<2, NP>(a, lda, B, K, bias, c, ldc, n0, N, accumulate); break;
        case 1: gemm_block<1, NP>(a, lda, B, K, bias, c, ldc, n0, N, accumulate); break;
        default: break;
    }
}

// Panels [p0, p1) for every row, panels outer (a panel pair stays in L1 while the row blocks pass
// over it); one or two rows (batch 1-2) take four panels at a time so enough independent sums are
// in flight.
static void gemm_range(const float* A, int64_t lda, int64_t rows, const float* B, int64_t K, int64_t N,
                       const float* bias, float* C, int64_t ldc, bool accumulate, int64_t p0, int64_t p1) {
    const int64_t panel = K * 32;
    int64_t p = p0;
    if (rows <= 2)
        for (; p + 4 <= p1; p += 4)
            gemm_panels<4>(A, lda, rows, B + p * panel, K, bias, C, ldc, p * 32, N, accumulate);
    for (; p + 2 <= p1; p += 2)
        gemm_panels<2>(A, lda, rows, B + p * panel, K, bias, C, ldc, p * 32, N, accumulate);
    for (; p < p1; p++) gemm_panels<1>(A, lda, rows, B + p * panel, K, bias, C, ldc, p * 32, N, accumulate);
}

// The whole product, its column panels split over the pool's threads (pool.h): each output element
// is summed over k in the same order whatever the split, so the result does not depend on it.
static void gemm(const float* A, int64_t lda, int64_t rows, const float* B, int64_t K, int64_t N,
                 const float* bias, float* C, int64_t ldc, bool accumulate) {
    const int64_t n_panels = (N + 31) / 32;
    pool::parallel_for(n_panels, 2 * rows * K * N, [&](int64_t p0, int64_t p1, int) {
        gemm_range(A, lda, rows, B, K, N, bias, C, ldc, accumulate, p0, p1);
    });
}
