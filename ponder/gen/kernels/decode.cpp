// One decoding step of a Llama-style model (Llama, Qwen2, Mistral) for R rows, in one call:
// embedding, then per layer RMSNorm, the fused q/k/v matmul (+ bias), RoPE, the cache write,
// attention over the cache, o-proj + residual, RMSNorm, SwiGLU MLP + residual; then the final
// norm and the output head. fp32 throughout, one thread, AVX-512 (see gemm.h, vecmath.h).
// The RMSNorm weights are folded into the next matrix by the caller (ponder/gen/kernels/plan.py).
// Caches: keys transposed (R * Hkv, D, cap) so a query scores 16 positions per FMA, values
// (R * Hkv, cap, D). Needs head_dim % 16 == 0. Left out: sliding windows, other activations,
// biases on the MLP, dtypes other than fp32 (the Python side refuses those models).
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
    float* kt;          // (R * Hkv, D, cap)
    float* v;           // (R * Hkv, cap, D)
};

struct Plan {
    int64_t n_layers, d, H, Hkv, D, I, V, cap, R;
    float eps, scale;
    const float* embed;  // (V, d)
    const float* head;   // panels of (d, V), final norm folded in
    const float* cos;    // (cap, D / 2)
    const float* sin;    // (cap, D / 2)
    const float* bias;   // (R, cap): 0 for real columns, -inf for padding
    float* work;         // ponder_work_floats(plan) floats
    const Layer* layers;
};

extern "C" int64_t ponder_work_floats(const Plan* p) {
    const int64_t M = (p->H + 2 * p->Hkv) * p->D;
    return p->R * (2 * p->d + M + p->H * p->D + 3 * p->I) + p->cap + 64;
}

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

// Scores of one query head over L positions of transposed keys kt (D, cap), scaled, plus bias.
static void scores(const float* q, const float* kt, int64_t D, int64_t cap, int64_t L, float scale,
                   const float* bias, float* out) {
    const __m512 sc = _mm512_set1_ps(scale);
    int64_t l = 0;
    for (; l + 64 <= L; l += 64) {  // four chunks at once: independent FMA chains
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t d = 0; d < D; d++) {
            const __m512 qd = _mm512_set1_ps(q[d]);
            const float* k = kt + d * cap + l;
            a0 = _mm512_fmadd_ps(qd, _mm512_loadu_ps(k), a0);
            a1 = _mm512_fmadd_ps(qd, _mm512_loadu_ps(k + 16), a1);
            a2 = _mm512_fmadd_ps(qd, _mm512_loadu_ps(k + 32), a2);
            a3 = _mm512_fmadd_ps(qd, _mm512_loadu_ps(k + 48), a3);
        }
        _mm512_storeu_ps(out + l, _mm512_fmadd_ps(a0, sc, _mm512_loadu_ps(bias + l)));
        _mm512_storeu_ps(out + l + 16, _mm512_fmadd_ps(a1, sc, _mm512_loadu_ps(bias + l + 16)));
        _mm512_storeu_ps(out + l + 32, _mm512_fmadd_ps(a2, sc, _mm512_loadu_ps(bias + l + 32)));
        _mm512_storeu_ps(out + l + 48, _mm512_fmadd_ps(a3, sc, _mm512_loadu_ps(bias + l + 48)));
    }
    for (; l < L; l += 16) {
        const __mmask16 m = tail_mask(L - l);
        __m512 a = _mm512_setzero_ps();
        for (int64_t d = 0; d < D; d++) a = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), _mm512_maskz_loadu_ps(m, kt + d * cap + l), a);
        _mm512_mask_storeu_ps(out + l, m, _mm512_fmadd_ps(a, sc, _mm512_maskz_loadu_ps(m, bias + l)));
    }
}

// Softmax over s[0:L) in place (max-subtracted); masked (-inf) entries become 0.
static void softmax(float* s, int64_t L) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t l = 0; l < L; l += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail_mask(L - l), s + l));
    const __m512 m = _mm512_set1_ps(hmax(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t l = 0; l < L; l += 16) {
        const __mmask16 k = tail_mask(L - l);
        const __m512 e = _mm512_maskz_mov_ps(k, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + l), m)));
        _mm512_mask_storeu_ps(s + l, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / hsum(sum));
    for (int64_t l = 0; l < L; l += 16) {
        const __mmask16 k = tail_mask(L - l);
        _mm512_mask_storeu_ps(s + l, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + l), inv));
    }
}

// out (D,) = sum_l p[l] v[l], v (cap, D) with D % 16 == 0; two position streams in flight.
static void weighted_values(const float* p, const float* v, int64_t D, int64_t L, float* out) {
    for (int64_t i = 0; i < D; i += 16) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int64_t l = 0;
        for (; l + 2 <= L; l += 2) {
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(p[l]), _mm512_loadu_ps(v + l * D + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(p[l + 1]), _mm512_loadu_ps(v + (l + 1) * D + i), a1);
        }
        if (l < L) a0 = _mm512_fmadd_ps(_mm512_set1_ps(p[l]), _mm512_loadu_ps(v + l * D + i), a0);
        _mm512_storeu_ps(out + i, _mm512_add_ps(a0, a1));
    }
}

// Write row r's new key/value (already roped) into column col, then attend over L columns.
static void attention(const Plan* p, const Layer* w, const float* qkv, int64_t r, int64_t col, int64_t L,
                      float* att, float* s) {
    const int64_t H = p->H, Hkv = p->Hkv, D = p->D, cap = p->cap, G = H / Hkv;
    const float* k_new = qkv + H * D;
    const float* v_new = k_new + Hkv * D;
    for (int64_t j = 0; j < Hkv; j++) {
        float* kt = w->kt + (r * Hkv + j) * D * cap;
        float* v = w->v + (r * Hkv + j) * cap * D;
        for (int64_t d = 0; d < D; d++) kt[d * cap + col] = k_new[j * D + d];
        memcpy(v + col * D, v_new + j * D, D * sizeof(float));
        for (int64_t g = 0; g < G; g++) {
            const int64_t h = j * G + g;
            scores(qkv + h * D, kt, D, cap, L, p->scale, p->bias + r * cap, s);
            softmax(s, L);
            weighted_values(s, v, D, L, att + h * D);
        }
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

// tokens (R,), pos (R,) rotary positions (each advanced by one), col: the cache column written
// now (every row attends to columns 0..col), logits (R, V).
extern "C" void ponder_decode_step(const Plan* p, const int64_t* tokens, int64_t* pos, int64_t col, float* logits) {
    const int64_t R = p->R, d = p->d, D = p->D, I = p->I, HD = p->H * p->D;
    const int64_t M = (p->H + 2 * p->Hkv) * D, half = D / 2;
    float* x = p->work;
    float* xn = x + R * d;
    float* qkv = xn + R * d;
    float* att = qkv + R * M;
    float* gu = att + R * HD;
    float* h = gu + R * 2 * I;
    float* s = h + R * I;
    for (int64_t r = 0; r < R; r++) memcpy(x + r * d, p->embed + tokens[r] * d, d * sizeof(float));
    for (int64_t i = 0; i < p->n_layers; i++) {
        const Layer* w = p->layers + i;
        rms_norm(x, xn, R, d, p->eps);
        gemm(xn, d, R, w->wqkv, d, M, w->bqkv, qkv, M, false);
        for (int64_t r = 0; r < R; r++) {
            float* row = qkv + r * M;
            rope(row, p->H + p->Hkv, D, p->cos + pos[r] * half, p->sin + pos[r] * half);
            attention(p, w, row, r, col, col + 1, att + r * HD, s);
        }
        gemm(att, HD, R, w->wo, HD, d, w->bo, x, d, true);
        rms_norm(x, xn, R, d, p->eps);
        gemm(xn, d, R, w->wgu, d, 2 * I, nullptr, gu, 2 * I, false);
        swiglu(gu, h, R, I);
        gemm(h, I, R, w->wd, I, d, nullptr, x, d, true);
    }
    rms_norm(x, xn, R, d, p->eps);
    gemm(xn, d, R, p->head, d, p->V, nullptr, logits, p->V, false);
    for (int64_t r = 0; r < R; r++) pos[r] += 1;
}
