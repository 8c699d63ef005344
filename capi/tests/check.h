/* What the C and C++ tests share: CHECK/EQ that count failures (and print the
 * library's last error), and sairing_str helpers. */
#ifndef SAIRING_TEST_CHECK_H
#define SAIRING_TEST_CHECK_H

#include "sairing.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, \
                    sairing_last_error());                                                       \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

#define EQ(a, b) CHECK((a) == (b))

static inline sairing_str S(const char *s) {
    sairing_str r = {s, strlen(s)};
    return r;
}

static inline int same(sairing_str a, const char *b) {
    return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0;
}

/* The exit status: 0 when every check passed. */
static inline int finish(void) {
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}

#endif
