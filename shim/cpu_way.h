/* cpu_way.h - which way a fast path reads bytes: its AVX2+BMI2 way where
 * the build has one and the CPU has both, else its plain way. Decided once,
 * at the first call; tests and fuzzing may choose. Shared by the response
 * scanner (scan_fast.c) and the request scanner (req_http_fast.c). Pure:
 * no syscalls.
 */
#ifndef LINGER_CPU_WAY_H
#define LINGER_CPU_WAY_H

/* True when the CPU has AVX2 and BMI2 (never off x86-64). */
static inline int cpu_has_avx2_bmi2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
    return 0;
#endif
}

/* The way *way holds (-1: not decided yet), deciding it at the first call:
 * 1 when the build has the AVX2 way (has_avx2_way) and the CPU has AVX2
 * and BMI2, else 0. */
static inline int cpu_way(int *way, int has_avx2_way)
{
    int w = __atomic_load_n(way, __ATOMIC_RELAXED);
    if (__builtin_expect(w < 0, 0)) {
        w = has_avx2_way && cpu_has_avx2_bmi2();
        __atomic_store_n(way, w, __ATOMIC_RELAXED);
    }
    return w;
}

/* Sets *way to want (0: the plain way, 1: AVX2, where the build and the
 * CPU have it) when want >= 0; returns the way in use. */
static inline int cpu_way_choose(int *way, int has_avx2_way, int want)
{
    int w = cpu_way(way, has_avx2_way);
    if (want >= 0) {
        w = want && has_avx2_way && cpu_has_avx2_bmi2();
        __atomic_store_n(way, w, __ATOMIC_RELAXED);
    }
    return w;
}

#endif
