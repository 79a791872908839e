// The per-layer pieces shared by the decode step and the prefill (decode.cpp): the batch's plan,
// RMSNorm, RoPE, attention of one token over its row's cache (blocks of 16 positions found through
// the row's block table; keys transposed within a block), SwiGLU,
// and `forward`, which runs n tokens, each with its own cache row, column and rotary position,
// through every layer. fp32, AVX-512; the GEMMs and the attention loop split over pool.h's threads.
#pragma once
#include <math.h>
#include <string.h>

#include "gemm.h"

struct Layer {
    const float* wqkv;  // panels of (d, M), M = (H + 2 Hkv) D
    const float* bqkv;  // (M,) or null
    const float* wo;    // panels of (H D, d)
    const float* bo;    // (d,) or null
    const float* wgu;   // panels of (d, 2 I): gate columns, then up
    const float* wd;    // panels of (I, d)
    float* kt;          // key blocks (n_blocks, Hkv, D, 16): 16 positions per block
    float* v;           // value blocks (n_blocks, Hkv, 16, D)
};

struct Plan {
    int64_t n_layers, d, H, Hkv, D, I, V, cap, R, nb;  // cap: a multiple of 16; nb: table entries per row
    float eps, scale;
    const float* embed;    // (V, d)
    const float* head;     // panels of (d, V), final norm folded in
    const float* cos;      // (cap, D / 2)
    const float* sin;      // (cap, D / 2)
    const int64_t* table;  // (R, nb): row r's columns 16 b .. 16 b + 15 live in block table[r nb + b]
    float* work;           // work_floats(plan, R) floats: the decode step's scratch
    const Layer* layers;
};

static void rms_norm(const float* x, float* out, int64_t rows, int64_t d, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float* xr = x + r * d;
        __m512 ss = _mm512_setzero_ps();
        for (int64_t i = 0; i < d; i += 16) {
            const __m512 v = _mm512_maskz_loadu_ps(tail_mask(d - i), xr + i);
            ss = _mm512_fmadd_ps(v, v, ss);
        }
        const __m512 s = _mm512_set1_ps(1.0f / sqrtf(hsum(ss) / (float)d + eps));
        for (int64_t i = 0; i < d; i += 16) {
            const __mmask16 m = tail_mask(d - i);
            _mm512_mask_storeu_ps(out + r * d + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), s));
        }
    }
}

// rotate_half RoPE in place on n_heads heads of D at x: x * cos + rotate_half(x) * sin.
static void rope(float* x, int64_t n_heads, int64_t D, const float* c, const float* s) {
    const int64_t half = D / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float* a = x + h * D;
        float* b = a + half;
        for (int64_t i = 0; i < half; i++) {
            const float x1 = a[i], x2 = b[i];
            a[i] = x1 * c[i] - x2 * s[i];
            b[i] = x2 * c[i] + x1 * s[i];
        }
    }
}

// Scores of one query head over L positions of blocked keys, scaled: block b of the row is at
// kb + tbl[b] * stride, (D, 16); NB blocks of 16 positions at once (independent FMA chains).
// Returns the running max.
template <int NB>
static inline __m512 score_blocks(const float* q, const float* kb, int64_t stride, const int64_t* tbl, int64_t D,
                                  int64_t l, int64_t L, __m512 sc, float* out, __m512 mx) {
    __m512 a[NB];
    const float* k[NB];
    for (int b = 0; b < NB; b++) {
        a[b] = _mm512_setzero_ps();
        k[b] = kb + tbl[l / 16 + b] * stride;
    }
    for (int64_t d = 0; d < D; d++) {
        const __m512 qd = _mm512_set1_ps(q[d]);
        for (int b = 0; b < NB; b++) a[b] = _mm512_fmadd_ps(qd, _mm512_loadu_ps(k[b] + d * 16), a[b]);
    }
    for (int b = 0; b < NB; b++) {
        const __mmask16 m = tail_mask(L - l - 16 * b);
        const __m512 y = _mm512_mul_ps(a[b], sc);
        _mm512_mask_storeu_ps(out + l + 16 * b, m, y);
        mx = _mm512_mask_max_ps(mx, m, mx, y);
    }
    return mx;
}

static float scores(const float* q, const float* kb, int64_t stride, const int64_t* tbl, int64_t D, int64_t L,
                    float scale, float* out) {
    const __m512 sc = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int64_t l = 0;
    for (; l + 64 <= L; l += 64) mx = score_blocks<4>(q, kb, stride, tbl, D, l, L, sc, out, mx);
    switch ((L - l + 15) / 16) {  // 1-4 partly filled blocks left
        case 4: mx = score_blocks<4>(q, kb, stride, tbl, D, l, L, sc, out, mx); break;
        case 3: mx = score_blocks<3>(q, kb, stride, tbl, D, l, L, sc, out, mx); break;
        case 2: mx = score_blocks<2>(q, kb, stride, tbl, D, l, L, sc, out, mx); break;
        case 1: mx = score_blocks<1>(q, kb, stride, tbl, D, l, L, sc, out, mx); break;
        default: break;
    }
    return hmax(mx);
}

// s[0:L) <- exp(s - mx) in place (masked -inf entries become 0); returns 1 / their sum.
static float exp_scores(float* s, int64_t L, float mx) {
    const __m512 m = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t l = 0; l < L; l += 16) {
        const __mmask16 k = tail_mask(L - l);
        const __m512 e = _mm512_maskz_mov_ps(k, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + l), m)));
        _mm512_mask_storeu_ps(s + l, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    return 1.0f / hsum(sum);
}

// out (16 DV,) = inv * sum_l e[l] v[l]: position l's value is row l % 16 of block tbl[l / 16] at
// vb + tbl[l / 16] * stride, (16, 16 DV); four position streams in flight (l % 4).
template <int DV>
static void weighted_values(const float* e, const float* vb, int64_t stride, const int64_t* tbl, int64_t L, float inv,
                            float* out) {
    constexpr int64_t D = 16 * DV;
    __m512 a[4][DV];
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < DV; i++) a[s][i] = _mm512_setzero_ps();
    int64_t l = 0;
    for (; l + 4 <= L; l += 4) {  // four positions never straddle a block
        const float* v = vb + tbl[l / 16] * stride + (l % 16) * D;
        for (int s = 0; s < 4; s++) {
            const __m512 p = _mm512_set1_ps(e[l + s]);
            for (int i = 0; i < DV; i++) a[s][i] = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + s * D + 16 * i), a[s][i]);
        }
    }
    for (; l < L; l++) {
        const float* v = vb + tbl[l / 16] * stride + (l % 16) * D;
        for (int i = 0; i < DV; i++) a[0][i] = _mm512_fmadd_ps(_mm512_set1_ps(e[l]), _mm512_loadu_ps(v + 16 * i), a[0][i]);
    }
    for (int i = 0; i < DV; i++) {
        const __m512 y = _mm512_add_ps(_mm512_add_ps(a[0][i], a[1][i]), _mm512_add_ps(a[2][i], a[3][i]));
        _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(y, _mm512_set1_ps(inv)));
    }
}

static void weighted_values_any(const float* e, const float* vb, int64_t stride, const int64_t* tbl, int64_t D,
                                int64_t L, float inv, float* out) {
    for (int64_t i = 0; i < D; i += 16) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t l = 0; l < L; l++) {
            const float* v = vb + tbl[l / 16] * stride + (l % 16) * D;
            a = _mm512_fmadd_ps(_mm512_set1_ps(e[l]), _mm512_loadu_ps(v + i), a);
        }
        _mm512_storeu_ps(out + i, _mm512_mul_ps(a, _mm512_set1_ps(inv)));
    }
}

static void values(const float* e, const float* vb, int64_t stride, const int64_t* tbl, int64_t D, int64_t L,
                   float inv, float* out) {
    switch (D / 16) {
        case 1: weighted_values<1>(e, vb, stride, tbl, L, inv, out); break;
        case 2: weighted_values<2>(e, vb, stride, tbl, L, inv, out); break;
        case 4: weighted_values<4>(e, vb, stride, tbl, L, inv, out); break;
        case 8: weighted_values<8>(e, vb, stride, tbl, L, inv, out); break;
        default: weighted_values_any(e, vb, stride, tbl, D, L, inv, out); break;
    }
}

// Write row r's new key/value (already roped) into column col, then attend over its columns 0..L-1
// (through its block table: rows that share a prompt read the same blocks).
static void attention(const Plan* p, const Layer* w, const float* qkv, int64_t r, int64_t col, int64_t L,
                      float* att, float* s) {
    const int64_t H = p->H, Hkv = p->Hkv, D = p->D, G = H / Hkv, stride = Hkv * D * 16;
    const int64_t* tbl = p->table + r * p->nb;
    const float* k_new = qkv + H * D;
    const float* v_new = k_new + Hkv * D;
    const int64_t block = tbl[col / 16], lane = col % 16;
    for (int64_t j = 0; j < Hkv; j++) {
        float* kb = w->kt + block * stride + j * D * 16 + lane;
        for (int64_t d = 0; d < D; d++) kb[d * 16] = k_new[j * D + d];
        memcpy(w->v + block * stride + (j * 16 + lane) * D, v_new + j * D, D * sizeof(float));
    }
    for (int64_t j = 0; j < Hkv; j++)
        for (int64_t g = 0; g < G; g++) {
            const int64_t h = j * G + g;
            const float mx = scores(qkv + h * D, w->kt + j * D * 16, stride, tbl, D, L, p->scale, s);
            values(s, w->v + j * 16 * D, stride, tbl, D, L, exp_scores(s, L, mx), att + h * D);
        }
}

// out (rows, I) = silu(gu[:, :I]) * gu[:, I:], silu(x) = x / (1 + exp(-x)).
static void swiglu(const float* gu, float* out, int64_t rows, int64_t I) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < I; i += 16) {
            const __mmask16 m = tail_mask(I - i);
            const __m512 g = _mm512_maskz_loadu_ps(m, gu + r * 2 * I + i);
            const __m512 u = _mm512_maskz_loadu_ps(m, gu + r * 2 * I + I + i);
            const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, vexp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
            _mm512_mask_storeu_ps(out + r * I + i, m, _mm512_mul_ps(silu, u));
        }
}


// Scratch for n tokens, carved from work (work_floats(p, n) floats): see forward.
static inline int64_t work_floats(const Plan* p, int64_t n) {
    const int64_t M = (p->H + 2 * p->Hkv) * p->D;
    return n * (2 * p->d + M + p->H * p->D + 3 * p->I) + p->cap + 64;
}

// n tokens through every layer: x = work[0 : n d) holds their embeddings on entry and the residual
// stream on exit; token t writes its key/value into cache row rows[t] at column cols[t] (rotary
// position pos[t]) and attends over that row's columns 0..cols[t]. A row's tokens must come in
// increasing column order (each sees the ones before it: causal attention).
static void forward(const Plan* p, int64_t n, const int64_t* rows, const int64_t* cols, const int64_t* pos,
                    float* work) {
    const int64_t d = p->d, D = p->D, I = p->I, HD = p->H * p->D;
    const int64_t M = (p->H + 2 * p->Hkv) * D, half = D / 2;
    float* x = work;
    float* xn = x + n * d;
    float* qkv = xn + n * d;
    float* att = qkv + n * M;
    float* gu = att + n * HD;
    float* h = gu + n * 2 * I;
    float* s = h + n * I;
    for (int64_t i = 0; i < p->n_layers; i++) {
        const Layer* w = p->layers + i;
        rms_norm(x, xn, n, d, p->eps);
        gemm(xn, d, n, w->wqkv, d, M, w->bqkv, qkv, M, false);
        // tokens split over the pool's threads (pool.h), a row's tokens in one part, in order
        const auto cost = [&](int64_t t) { return 4 * HD * (cols[t] + 1) + 64 * M; };
        const auto starts_row = [&](int64_t t) { return rows[t] != rows[t - 1]; };
        pool::parallel_for_cost(n, cost, starts_row, [&](int64_t t0, int64_t t1, int who) {
            float* sc = who == 0 ? s : pool::scratch(p->cap + 64);
            for (int64_t t = t0; t < t1; t++) {
                float* row = qkv + t * M;
                rope(row, p->H + p->Hkv, D, p->cos + pos[t] * half, p->sin + pos[t] * half);
                attention(p, w, row, rows[t], cols[t], cols[t] + 1, att + t * HD, sc);
            }
        });
        gemm(att, HD, n, w->wo, HD, d, w->bo, x, d, true);
        rms_norm(x, xn, n, d, p->eps);
        gemm(xn, d, n, w->wgu, d, 2 * I, nullptr, gu, 2 * I, false);
        swiglu(gu, h, n, I);
        gemm(h, I, n, w->wd, I, d, nullptr, x, d, true);
    }
}

// The final norm and the output head for the n rows of x (n, d): logits (n, V).
static void head(const Plan* p, const float* x, int64_t n, float* xn, float* logits) {
    rms_norm(x, xn, n, p->d, p->eps);
    gemm(xn, p->d, n, p->head, p->d, p->V, nullptr, logits, p->V, false);
}
