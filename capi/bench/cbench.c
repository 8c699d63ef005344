#define _POSIX_C_SOURCE 200809L
/* cbench: a sairing channel measured from C, to set beside chanbench's Rust
 * rows, run alternately with chanbench on the same machine:
 *   scripts/install.sh --prefix /tmp/cb
 *   gcc -std=c11 -O2 -I/tmp/cb/include capi/bench/cbench.c -o cbench \
 *       /tmp/cb/lib/libsairing.a -lpthread -ldl -lm
 *   chanpeer create /tmp/ch --capacity 67108864
 *   taskset -c 1 ./cbench serve /tmp/ch &  taskset -c 0 ./cbench client /tmp/ch 50000 2000000
 *   chanbench --samples 50000 --messages 2000000   (its sairing-spin row)
 * Not yet like for like: chanbench's server does not answer sets and its
 * client sends in batches of 128 (one wake check each); here every set is
 * sent and answered on its own.
 *   cbench serve DIR          a C server, busy-polling, answering everything
 *   cbench client DIR N M     N round trips (a 128-byte-class set, waited
 *                             for), then M one-way sets and one waited flush;
 *                             prints "c-spin p50_us P one_way_mps R"
 * Both sides busy-poll (spin_us = UINT64_MAX), as chanbench's sairing-spin. */
#include <sairing.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sairing_str S(const char *s) {
    sairing_str r = {s, strlen(s)};
    return r;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int serve(const char *dir) {
    sairing_server_options o = {0};
    o.spin_us = UINT64_MAX;
    sairing_server *s = NULL;
    int rc = sairing_server_open(dir, &o, &s);
    if (rc != SAIRING_OK) {
        fprintf(stderr, "serve: %s\n", sairing_last_error());
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        sairing_request q;
        rc = sairing_server_recv(s, -1, &q);
        if (rc == SAIRING_OK) {
            rc = sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0);
            if (rc != SAIRING_OK) break;
        } else if (rc != SAIRING_ERR_DECODE && rc != SAIRING_EMPTY) {
            break;
        }
    }
    fprintf(stderr, "serve: %s\n", sairing_last_error());
    sairing_server_close(s);
    return 1;
}

static int client(const char *dir, long n, long m) {
    sairing_client_options o = {0};
    o.spin_us = UINT64_MAX;
    o.mode = 2; /* pipelined: nothing waits unless asked */
    sairing_client *c = NULL;
    if (sairing_client_open(dir, &o, &c) != SAIRING_OK) {
        fprintf(stderr, "client: %s\n", sairing_last_error());
        return 1;
    }
    /* chanbench's message: a set with one attribute, about 128 bytes. */
    const char *key = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001";
    sairing_attr a = {S("SAI_PORT_ATTR_MTU"), S("9100-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")};
    uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)n);
    sairing_response r;
    long warm = n / 10;
    for (long i = 0; i < n + warm; i++) {
        uint64_t seq = 0, t = now_ns();
        if (sairing_client_send(c, SAIRING_OP_SET, S(key), &a, 1, &seq) != SAIRING_OK ||
            sairing_client_wait(c, seq, -1, &r) != SAIRING_OK) {
            fprintf(stderr, "round trip: %s\n", sairing_last_error());
            return 1;
        }
        if (i >= warm) lat[i - warm] = now_ns() - t;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    uint64_t t = now_ns(), seq = 0;
    for (long i = 0; i < m; i++) {
        int rc;
        while ((rc = sairing_client_send(c, SAIRING_OP_SET, S(key), &a, 1, &seq)) == SAIRING_ERR_FULL) {
        }
        if (rc != SAIRING_OK) {
            fprintf(stderr, "one way: %s\n", sairing_last_error());
            return 1;
        }
        /* Answers are taken now and then so the response ring never fills. */
        if ((i & 4095) == 4095) {
            while (sairing_client_next_completion(c, 0, &r) == SAIRING_OK) {
            }
        }
    }
    if (sairing_client_wait_all(c, -1) != SAIRING_OK) return 1;
    double secs = (double)(now_ns() - t) / 1e9;
    printf("c-spin p50_us %.2f one_way_mps %.2f\n", (double)lat[n / 2] / 1000.0, (double)m / secs / 1e6);
    free(lat);
    sairing_client_close(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
    if (argc == 5 && strcmp(argv[1], "client") == 0) return client(argv[2], atol(argv[3]), atol(argv[4]));
    fprintf(stderr, "usage: cbench serve DIR | cbench client DIR ROUND_TRIPS ONE_WAY\n");
    return 2;
}
