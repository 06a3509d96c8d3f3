/* C `long double` arithmetic for ferrodis (see src/util/ldouble.rs).
 *
 * Redis computes INCRBYFLOAT and HINCRBYFLOAT in the platform's `long double` (80-bit x87
 * extended precision on x86-64, IEEE binary128 on AArch64) and prints the result with
 * "%.17Lf". Rust has no such type, so the few operations we need live here and are reached
 * through FFI. Values cross the boundary as 16 opaque bytes holding the `long double`'s object
 * representation; Rust never interprets them.
 *
 * Every function is total: no input makes it read or write outside the buffers it is given.
 */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest input accepted and the largest output produced. */
#define FERRODIS_LD_MAX_CHARS (5 * 1024)

/* The Rust side reserves 16 bytes per value. */
typedef char ferrodis_ld_fits_in_16_bytes[(sizeof(long double) <= 16) ? 1 : -1];

static long double load(const unsigned char *p) {
    long double v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store(unsigned char *p, long double v) {
    memset(p, 0, 16);
    memcpy(p, &v, sizeof v);
}

/* Parses `s` (`len` bytes) like Redis's string2ld: strtold must consume every byte (so an
 * embedded NUL is an error), no leading space, no NaN, and overflow or total underflow is an
 * error. Returns 1 on success and stores the value in `out`, 0 otherwise. */
int ferrodis_ld_parse(const char *s, size_t len, unsigned char *out) {
    char buf[FERRODIS_LD_MAX_CHARS];
    char *end;
    long double v;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return 0;
    store(out, v);
    return 1;
}

/* Converts a 64-bit integer exactly (an int-encoded string object's value). */
void ferrodis_ld_from_i64(long long v, unsigned char *out) {
    store(out, (long double)v);
}

/* Converts a double exactly. */
void ferrodis_ld_from_f64(double v, unsigned char *out) {
    store(out, (long double)v);
}

/* Rounds to the nearest double. */
double ferrodis_ld_to_f64(const unsigned char *a) {
    return (double)load(a);
}

/* out = a + b, rounded as the C compiler's long double addition rounds. */
void ferrodis_ld_add(const unsigned char *a, const unsigned char *b, unsigned char *out) {
    store(out, load(a) + load(b));
}

/* A blocking timeout in seconds to milliseconds, exactly as Redis 7.0's
 * getTimeoutFromObjectOrReply computes it: (long long)ceill(t * 1000.0L). The conversion of
 * an out-of-range value is what x86 gives (LLONG_MIN), so "inf" and "1e20" come out
 * negative there too. */
long long ferrodis_ld_timeout_ms(const unsigned char *a) {
    long double ms = ceill(load(a) * 1000.0L);
    if (!(ms >= -9223372036854775808.0L && ms < 9223372036854775808.0L))
        return (-9223372036854775807LL - 1);
    return (long long)ms;
}

/* 1 when the value is neither NaN nor an infinity. */
int ferrodis_ld_is_finite(const unsigned char *a) {
    long double v = load(a);
    return !(isnan(v) || isinf(v));
}

/* Formats like Redis's ld2string: mode 0 is LD_STR_AUTO ("%.17Lg"), 1 is LD_STR_HUMAN ("%.17Lf"
 * with trailing zeroes after the point removed and "-0" printed as "0"), 2 is LD_STR_HEX ("%La").
 * Infinities print as "inf"/"-inf" and NaN as "nan" whatever the mode. Writes at most `len` bytes
 * (no terminator is promised) and returns the length, or 0 when `len` is too small or the mode is
 * unknown, as ld2string does. */
size_t ferrodis_ld_format(const unsigned char *a, int mode, char *out, size_t len) {
    char buf[FERRODIS_LD_MAX_CHARS];
    long double v = load(a);
    int n;
    size_t l;

    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        l = strlen(s);
        if (len < l) return 0;
        memcpy(out, s, l);
        return l;
    }
    if (isnan(v)) {
        if (len < 3) return 0;
        memcpy(out, "nan", 3);
        return 3;
    }
    switch (mode) {
    case 0: n = snprintf(buf, sizeof(buf), "%.17Lg", v); break;
    case 1: n = snprintf(buf, sizeof(buf), "%.17Lf", v); break;
    case 2: n = snprintf(buf, sizeof(buf), "%La", v); break;
    default: return 0;
    }
    if (n < 0 || (size_t)n + 1 > sizeof(buf)) return 0;
    l = (size_t)n;
    if (mode == 1) {
        if (memchr(buf, '.', l) != NULL) {
            while (l > 0 && buf[l - 1] == '0') l--;
            if (l > 0 && buf[l - 1] == '.') l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') {
            buf[0] = '0';
            l = 1;
        }
    }
    if (l > len) return 0;
    memcpy(out, buf, l);
    return l;
}
