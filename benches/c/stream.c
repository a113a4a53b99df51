/* STREAM Copy/Scale/Add/Triad in C, the reference for the Rust kernel in
 * workloads/src/membw.rs: the same definitions as McCalpin's stream.c v5.10
 * (a=1, b=2, c=0, a=2a; c=a, b=s*c, c=a+b, a=b+s*c with s=3; best time of the
 * passes after the first; bytes counted 2/2/3/3 arrays x 8 bytes; MB = 1e6
 * bytes), with the same threading as the Rust kernel: persistent pthreads, a
 * barrier before and after each kernel, each thread owning one contiguous,
 * cache-line-rounded slice which it touches first. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

#define SCALAR 3.0

struct isobench_c_stream_result {
    double best_s[4];
    double avg_s[4];
    double rates_mbs[4];
    int32_t valid;
    int32_t threads;
};

typedef struct {
    double *a, *b, *c;
    size_t lo, hi;
    int passes;
    pthread_barrier_t *bar;
    double *times; /* thread 0 only: passes x 4 */
} worker_t;

static void *worker(void *p) {
    worker_t *w = (worker_t *)p;
    size_t n = w->hi - w->lo;
    double *restrict a = w->a + w->lo;
    double *restrict b = w->b + w->lo;
    double *restrict c = w->c + w->lo;
    for (size_t j = 0; j < n; j++) {
        a[j] = 1.0;
        b[j] = 2.0;
        c[j] = 0.0;
    }
    for (size_t j = 0; j < n; j++) a[j] = 2.0 * a[j];
    for (int k = 0; k < w->passes; k++) {
        for (int kern = 0; kern < 4; kern++) {
            pthread_barrier_wait(w->bar);
            double t0 = isobench_now();
            switch (kern) {
            case 0:
                for (size_t j = 0; j < n; j++) c[j] = a[j];
                break;
            case 1:
                for (size_t j = 0; j < n; j++) b[j] = SCALAR * c[j];
                break;
            case 2:
                for (size_t j = 0; j < n; j++) c[j] = a[j] + b[j];
                break;
            default:
                for (size_t j = 0; j < n; j++) a[j] = b[j] + SCALAR * c[j];
                break;
            }
            pthread_barrier_wait(w->bar);
            if (w->times) w->times[k * 4 + kern] = isobench_now() - t0;
        }
    }
    return NULL;
}

/* checkSTREAMresults: average relative error below 1e-13 on every array. */
static int check(const double *a, const double *b, const double *c, size_t n, int passes) {
    double aj = 1.0, bj = 2.0, cj = 0.0;
    aj = 2.0 * aj;
    for (int k = 0; k < passes; k++) {
        cj = aj;
        bj = SCALAR * cj;
        cj = aj + bj;
        aj = bj + SCALAR * cj;
    }
    double ea = 0, eb = 0, ec = 0;
    for (size_t j = 0; j < n; j++) {
        ea += fabs(a[j] - aj);
        eb += fabs(b[j] - bj);
        ec += fabs(c[j] - cj);
    }
    const double eps = 1e-13;
    return fabs(ea / n / aj) <= eps && fabs(eb / n / bj) <= eps && fabs(ec / n / cj) <= eps;
}

/* Run STREAM on n doubles per array with `threads` threads; 0 on success. */
int FN(stream_run)(size_t n, int threads, int passes, struct isobench_c_stream_result *out) {
    if (n == 0 || threads < 1 || passes < 1) return -1;
    double *a = malloc(n * sizeof(double));
    double *b = malloc(n * sizeof(double));
    double *c = malloc(n * sizeof(double));
    double *times = calloc((size_t)passes * 4, sizeof(double));
    size_t len = (n + (size_t)threads - 1) / (size_t)threads;
    len = (len + 7) / 8 * 8;
    int used = (int)((n + len - 1) / len);
    worker_t *w = calloc((size_t)used, sizeof(worker_t));
    pthread_t *tid = calloc((size_t)used, sizeof(pthread_t));
    if (!a || !b || !c || !times || !w || !tid) {
        free(a), free(b), free(c), free(times), free(w), free(tid);
        return -2;
    }
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)used);
    for (int t = 0; t < used; t++) {
        size_t lo = (size_t)t * len, hi = lo + len < n ? lo + len : n;
        w[t] = (worker_t){a, b, c, lo, hi, passes, &bar, t == 0 ? times : NULL};
    }
    for (int t = 1; t < used; t++) pthread_create(&tid[t], NULL, worker, &w[t]);
    worker(&w[0]);
    for (int t = 1; t < used; t++) pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&bar);

    static const double bytes[4] = {16.0, 16.0, 24.0, 24.0};
    int first = passes > 1 ? 1 : 0;
    for (int kern = 0; kern < 4; kern++) {
        double best = INFINITY, sum = 0;
        for (int k = first; k < passes; k++) {
            double t = times[k * 4 + kern];
            best = t < best ? t : best;
            sum += t;
        }
        out->best_s[kern] = best;
        out->avg_s[kern] = sum / (passes - first);
        out->rates_mbs[kern] = 1e-6 * bytes[kern] * (double)n / best;
    }
    out->valid = check(a, b, c, n, passes);
    out->threads = used;
    free(a), free(b), free(c), free(times), free(w), free(tid);
    return 0;
}
