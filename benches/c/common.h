/* Shared by the C reference kernels: symbol prefixing (each file is compiled
 * twice, with -O3 and with -O3 -march=native, into distinct symbols) and the
 * clock the Rust kernels use too (std::time::Instant = CLOCK_MONOTONIC). */
#ifndef ISOBENCH_C_COMMON_H
#define ISOBENCH_C_COMMON_H

#include <time.h>

#ifndef PREFIX
#define PREFIX o3
#endif
#define ISOBENCH_CAT3(a, b, c) a##_##b##_##c
#define ISOBENCH_XCAT3(a, b, c) ISOBENCH_CAT3(a, b, c)
/* FN(stream_run) -> isobench_c_o3_stream_run / isobench_c_native_stream_run */
#define FN(name) ISOBENCH_XCAT3(isobench_c, PREFIX, name)

static inline double isobench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
