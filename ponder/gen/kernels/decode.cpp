// A Llama-style model (Llama, Qwen2, Mistral) in a few calls: the prefill of all prompt tokens of a
// batch, one decoding step for R rows, and the token choice with its bookkeeping. Per layer
// (layers.h): RMSNorm, the fused q/k/v matmul (+ bias), RoPE, the cache write, attention over the
// cache, o-proj + residual, RMSNorm, SwiGLU MLP + residual; then the final norm and the output
// head. fp32 throughout, AVX-512 (see gemm.h, vecmath.h), on torch's thread count (pool.h). The
// RMSNorm weights are folded into the next matrix by the caller (ponder/gen/kernels/plan.py). The
// cache is paged: per layer a pool of blocks of 16 positions, keys (n_blocks, Hkv, D, 16) so a
// query scores 16 positions per FMA reading contiguous memory, values (n_blocks, Hkv, 16, D); each
// row has a block table and its own length (no padding: a row's column is its rotary position),
// and rows may share blocks (the copies of one prompt). Needs head_dim % 16 == 0. Left out:
// sliding windows, other activations, biases on the MLP, dtypes other than fp32 (the Python side
// refuses those models).
#include "layers.h"

extern "C" int64_t ponder_work_floats(const Plan* p, int64_t rows) { return work_floats(p, rows); }

// tokens (R,), pos (R,): row r writes column pos[r] (also its rotary position) and attends to its
// columns 0..pos[r]; each pos[r] is advanced by one. logits (R, V). Scratch: p->work, R rows.
extern "C" void ponder_decode_step(const Plan* p, const int64_t* tokens, int64_t* pos, float* logits) {
    const int64_t R = p->R, d = p->d;
    const unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  // flush denormals (tiny softmax weights) to zero: they cost ~100 cycles each
    int64_t* rows = new int64_t[R];
    for (int64_t r = 0; r < R; r++) {
        memcpy(p->work + r * d, p->embed + tokens[r] * d, d * sizeof(float));
        rows[r] = r;
    }
    forward(p, R, rows, pos, pos, p->work);
    head(p, p->work, R, p->work + R * d, logits);
    for (int64_t r = 0; r < R; r++) pos[r] += 1;
    delete[] rows;
    _mm_setcsr(csr);
}

// The prompts of a batch, P of them with N new tokens packed prompt by prompt in column order:
// token t is tokens[t] at cache row rows[t], column (and rotary position) cols[t]; prompt q's
// tokens end before ends[q]. Columns before a prompt's first new token (a reused prefix) must
// already be filled. logits (P, V): each prompt's next-token logits. Prompts go through in groups
// of at most `chunk` tokens (a longer prompt alone), so work needs work_floats(p, max(chunk,
// longest prompt)) floats.
extern "C" void ponder_prefill(const Plan* p, int64_t P, const int64_t* ends, const int64_t* tokens,
                               const int64_t* rows, const int64_t* cols, int64_t chunk, float* work, float* logits) {
    const int64_t d = p->d;
    const unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
    int64_t q0 = 0, a = 0;
    while (q0 < P) {
        int64_t q1 = q0 + 1;
        while (q1 < P && ends[q1] - a <= chunk) q1++;
        const int64_t n = ends[q1 - 1] - a;
        for (int64_t t = 0; t < n; t++) memcpy(work + t * d, p->embed + tokens[a + t] * d, d * sizeof(float));
        forward(p, n, rows + a, cols + a, cols + a, work);
        float* last = work + n * d;  // each prompt's last token, gathered
        for (int64_t q = q0; q < q1; q++) memcpy(last + (q - q0) * d, work + (ends[q] - 1 - a) * d, d * sizeof(float));
        head(p, last, q1 - q0, last + (q1 - q0) * d, logits + q0 * p->V);
        q0 = q1;
        a = ends[q1 - 1];
    }
    _mm_setcsr(csr);
}

// Copy blocks src[i] -> dst[i] (i < n) in every layer: a shared prompt's partly filled last block
// into each row that writes after it (copy on write).
extern "C" void ponder_copy_blocks(const Plan* p, int64_t n, const int64_t* src, const int64_t* dst) {
    const int64_t stride = p->Hkv * p->D * 16;
    for (int64_t i = 0; i < p->n_layers; i++)
        for (int64_t b = 0; b < n; b++) {
            memcpy(p->layers[i].kt + dst[b] * stride, p->layers[i].kt + src[b] * stride, stride * sizeof(float));
            memcpy(p->layers[i].v + dst[b] * stride, p->layers[i].v + src[b] * stride, stride * sizeof(float));
        }
}

// Write n positions' keys and values of layer i into the cache: position t goes to row rows[t],
// column cols[t]; its head j's key is k[(j * ld + t) * D ...] (k, v: (Hkv, ld, D)).
extern "C" void ponder_write_kv(const Plan* p, int64_t i, int64_t n, const int64_t* rows, const int64_t* cols,
                                const float* k, const float* v, int64_t ld) {
    const int64_t Hkv = p->Hkv, D = p->D, stride = Hkv * D * 16;
    const Layer* w = p->layers + i;
    for (int64_t t = 0; t < n; t++) {
        const int64_t block = p->table[rows[t] * p->nb + cols[t] / 16], lane = cols[t] % 16;
        for (int64_t j = 0; j < Hkv; j++) {
            float* kb = w->kt + block * stride + j * D * 16 + lane;
            const float* kt = k + (j * ld + t) * D;
            for (int64_t e = 0; e < D; e++) kb[e * 16] = kt[e];
            memcpy(w->v + block * stride + (j * 16 + lane) * D, v + (j * ld + t) * D, D * sizeof(float));
        }
    }
}

// C (rows, N) [+]= A (rows, K) @ B + bias, B packed as in gemm.h: exposed for tests and benchmarks.
extern "C" void ponder_gemm(const float* A, int64_t lda, int64_t rows, const float* B, int64_t K, int64_t N,
                            const float* bias, float* C, int64_t ldc, int64_t accumulate) {
    gemm(A, lda, rows, B, K, N, bias, C, ldc, accumulate != 0);
}

// Row key `key`'s uniform in [0, 1) at decoding step `step` (gen/rng.py, bit for bit): the
// (step + 1)-th number of the splitmix64 stream that starts at the key, its top 24 bits / 2^24.
static inline float uniform(uint64_t key, int64_t step) {
    uint64_t z = key + 0x9E3779B97F4A7C15ULL * (uint64_t)(step + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

// out (R, count): each key's uniforms at steps first .. first + count - 1 (exposed for tests).
extern "C" void ponder_uniforms(const int64_t* keys, int64_t R, int64_t first, int64_t count, float* out) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t s = 0; s < count; s++) out[r * count + s] = uniform((uint64_t)keys[r], first + s);
}

// One token per row of logits (R, V) and its model logprob (temperature 1): greedy (first argmax)
// when keys is null, else inverse-CDF sampling at `temperature` with the row's uniform at `step`
// (the first token whose cumulative mass exceeds u * total, as gen/sampling.py does). Row r's key
// is keys[rows[r]] (keys by original row, rows the live rows' original rows), or keys[r] when rows
// is null.
extern "C" void ponder_sample(const float* logits, int64_t R, int64_t V, const int64_t* keys, const int64_t* rows,
                              int64_t step, float temperature, int64_t* tokens, float* logprobs) {
    float* e = new float[V + 16];
    for (int64_t r = 0; r < R; r++) {
        const float* x = logits + r * V;
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (x[i] > x[best]) best = i;
        const float mx = x[best];
        __m512 sum = _mm512_setzero_ps();
        for (int64_t i = 0; i < V; i += 16) {
            const __mmask16 m = tail_mask(V - i);
            const __m512 y = _mm512_maskz_loadu_ps(m, x + i);
            sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, vexp(_mm512_sub_ps(y, _mm512_set1_ps(mx)))));
        }
        const float lse = logf(hsum(sum));
        int64_t t = best;
        if (keys != nullptr) {
            const float top = temperature == 1.0f ? mx : mx / temperature;
            for (int64_t i = 0; i < V; i += 16) {
                const __mmask16 m = tail_mask(V - i);
                __m512 y = _mm512_maskz_loadu_ps(m, x + i);
                if (temperature != 1.0f) y = _mm512_div_ps(y, _mm512_set1_ps(temperature));
                _mm512_mask_storeu_ps(e + i, m, vexp(_mm512_sub_ps(y, _mm512_set1_ps(top))));
            }
            for (int64_t i = 1; i < V; i++) e[i] += e[i - 1];
            const float target = uniform((uint64_t)keys[rows != nullptr ? rows[r] : r], step) * e[V - 1];
            t = V - 1;
            for (int64_t i = 0; i < V; i++)
                if (e[i] > target) {
                    t = i;
                    break;
                }
        }
        tokens[r] = t;
        logprobs[r] = x[t] - mx - lse;
    }
    delete[] e;
}

// ponder_sample for R live rows at step t (keys by original row), then the loop's bookkeeping
// (gen/loop.py) in the same call:
// rows[j] is live row j's original row; its token goes to chosen[j] and to all_tokens[rows[j] *
// ld + t], its logprob to all_logprobs (same place), and ended[rows[j]] |= eos[token]. With
// can_end (V,) (tokens that can complete a stop string), the live rows whose token can and whose
// row has not ended are listed in cand, their count in *n_cand. Returns how many rows have not ended.
extern "C" int64_t ponder_choose_record(const float* logits, int64_t R, int64_t V, const int64_t* keys, float temperature,
                                        const int64_t* rows, int64_t* chosen, int64_t* all_tokens,
                                        float* all_logprobs, int64_t ld, int64_t t, const uint8_t* eos,
                                        uint8_t* ended, const uint8_t* can_end, int64_t* cand, int64_t* n_cand) {
    float* lp = new float[R];
    ponder_sample(logits, R, V, keys, rows, t, temperature, chosen, lp);
    int64_t live = 0, n = 0;
    for (int64_t j = 0; j < R; j++) {
        const int64_t r = rows[j], tok = chosen[j];
        all_tokens[r * ld + t] = tok;
        all_logprobs[r * ld + t] = lp[j];
        ended[r] |= eos[tok];
        live += !ended[r];
        if (can_end != nullptr && can_end[tok] && !ended[r]) cand[n++] = j;
    }
    if (n_cand != nullptr) *n_cand = n;
    delete[] lp;
    return live;
}
