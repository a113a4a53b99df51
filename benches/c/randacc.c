/* HPCC RandomAccess in C, the reference for workloads/src/randacc.rs: the
 * definitions of HPCC's RandomAccess/core_single_cpu.c and utility.c (table
 * T[i] = i of 2^n words, 4 x 2^n updates T[r & (2^n-1)] ^= r with the 64-bit
 * LFSR r = (r << 1) ^ (r < 0 ? POLY : 0), POLY = 7, 128 interleaved streams
 * started by HPCC_starts), threaded as the Rust kernel: each thread runs a
 * contiguous group of the 128 streams and races on the table as HPCC allows.
 * Verification replays the updates and counts words not back to their index. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

#define POLY 0x0000000000000007ULL
#define PERIOD 1317624576693539401LL
#define NSTREAMS 128

static uint64_t starts(int64_t n) {
    uint64_t m2[64], temp, ran;
    int i, j;
    while (n < 0) n += PERIOD;
    while (n > PERIOD) n -= PERIOD;
    if (n == 0) return 0x1;
    temp = 0x1;
    for (i = 0; i < 64; i++) {
        m2[i] = temp;
        temp = (temp << 1) ^ ((int64_t)temp < 0 ? POLY : 0);
        temp = (temp << 1) ^ ((int64_t)temp < 0 ? POLY : 0);
    }
    for (i = 62; i >= 0; i--)
        if ((n >> i) & 1) break;
    ran = 0x2;
    while (i > 0) {
        temp = 0;
        for (j = 0; j < 64; j++)
            if ((ran >> j) & 1) temp ^= m2[j];
        ran = temp;
        i -= 1;
        if ((n >> i) & 1) ran = (ran << 1) ^ ((int64_t)ran < 0 ? POLY : 0);
    }
    return ran;
}

typedef struct {
    uint64_t *table;
    uint64_t mask;
    const uint64_t *start;
    int nran;
    uint64_t steps;
    pthread_barrier_t *bar;
} worker_t;

static void *worker(void *p) {
    worker_t *w = (worker_t *)p;
    uint64_t ran[NSTREAMS];
    uint64_t *table = w->table;
    const uint64_t mask = w->mask;
    const int nran = w->nran;
    for (int j = 0; j < nran; j++) ran[j] = w->start[j];
    pthread_barrier_wait(w->bar);
    for (uint64_t i = 0; i < w->steps; i++) {
        for (int j = 0; j < nran; j++) {
            ran[j] = (ran[j] << 1) ^ ((int64_t)ran[j] < 0 ? POLY : 0);
            table[ran[j] & mask] ^= ran[j];
        }
    }
    return NULL;
}

/* Build the table, run the updates with `threads` threads (timed), and when
 * `verify` is set replay them and count errors. Returns GUP/s, or a negative
 * value on bad arguments or allocation failure. */
double FN(randacc_run)(int log2, int threads, int verify, double *seconds, uint64_t *errors) {
    if (log2 < 8 || log2 > 40 || threads < 1) return -1;
    if (threads > NSTREAMS) threads = NSTREAMS;
    uint64_t size = 1ULL << log2, mask = size - 1, nupdate = 4 * size;
    uint64_t steps = nupdate / NSTREAMS;
    uint64_t *table = malloc(size * sizeof(uint64_t));
    worker_t *w = calloc((size_t)threads, sizeof(worker_t));
    pthread_t *tid = calloc((size_t)threads, sizeof(pthread_t));
    if (!table || !w || !tid) {
        free(table), free(w), free(tid);
        return -2;
    }
    for (uint64_t i = 0; i < size; i++) table[i] = i;
    uint64_t start[NSTREAMS];
    for (int j = 0; j < NSTREAMS; j++) start[j] = starts((int64_t)(steps * (uint64_t)j));

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        int lo = NSTREAMS * t / threads, hi = NSTREAMS * (t + 1) / threads;
        w[t] = (worker_t){table, mask, start + lo, hi - lo, steps, &bar};
    }
    for (int t = 1; t < threads; t++) pthread_create(&tid[t], NULL, worker, &w[t]);
    /* Thread 0 starts the clock when it leaves the barrier (as in Rust). */
    worker_t w0 = w[0];
    uint64_t ran[NSTREAMS];
    for (int j = 0; j < w0.nran; j++) ran[j] = w0.start[j];
    pthread_barrier_wait(&bar);
    double t0 = isobench_now();
    for (uint64_t i = 0; i < steps; i++) {
        for (int j = 0; j < w0.nran; j++) {
            ran[j] = (ran[j] << 1) ^ ((int64_t)ran[j] < 0 ? POLY : 0);
            table[ran[j] & mask] ^= ran[j];
        }
    }
    for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
    double t = isobench_now() - t0;
    pthread_barrier_destroy(&bar);
    *seconds = t;

    *errors = 0;
    if (verify) {
        for (int j = 0; j < NSTREAMS; j++) ran[j] = start[j];
        for (uint64_t i = 0; i < steps; i++) {
            for (int j = 0; j < NSTREAMS; j++) {
                ran[j] = (ran[j] << 1) ^ ((int64_t)ran[j] < 0 ? POLY : 0);
                table[ran[j] & mask] ^= ran[j];
            }
        }
        for (uint64_t i = 0; i < size; i++) *errors += table[i] != i;
    }
    free(table), free(w), free(tid);
    return (double)nupdate / t / 1e9;
}

/* Single-threaded updates on a caller's table of 2^log2 words (no timing):
 * lets a test compare the C and Rust tables word for word. */
void FN(randacc_updates)(uint64_t *table, int log2) {
    uint64_t size = 1ULL << log2, mask = size - 1, steps = 4 * size / NSTREAMS;
    uint64_t ran[NSTREAMS];
    for (int j = 0; j < NSTREAMS; j++) ran[j] = starts((int64_t)(steps * (uint64_t)j));
    for (uint64_t i = 0; i < steps; i++) {
        for (int j = 0; j < NSTREAMS; j++) {
            ran[j] = (ran[j] << 1) ^ ((int64_t)ran[j] < 0 ? POLY : 0);
            table[ran[j] & mask] ^= ran[j];
        }
    }
}
