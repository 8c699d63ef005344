#define _GNU_SOURCE
/* cbench: a sairing channel measured from C, for chanbench's C rows. chanbench
 * runs it (scripts/chanbench-c.sh builds it and passes --c-bench) in the same
 * run as its Rust rows and measures it the same way:
 *
 *   cbench serve DIR SPIN_US
 *       a C server on CPU 1 (when there are two) that answers every request:
 *       the C API answers in request order, so sets are answered too, and
 *       the row to set it beside is chanbench's sairing-spin-answered (a Rust
 *       server that answers sets, a client that takes the answers). Prints
 *       "ready".
 *   cbench client DIR SPIN_US SAMPLES MESSAGES KEY NAME VALUE
 *       SAMPLES round trips (a get of KEY with one attribute, waited for)
 *       after SAMPLES/10 unrecorded, then MESSAGES one-way sets in batches of
 *       128 (sairing_client_send_batch) and one waited flush. Prints
 *       "rtt_ns" and one latency a line, then "one_way_per_s R".
 *
 * SPIN_US is the clients' and servers' spin before sleeping (UINT64_MAX:
 * busy-poll). chanbench pins itself, and so this client, to CPU 0. */
#include <sairing.h>

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sairing_str S(const char *s) {
    sairing_str r = {s, strlen(s)};
    return r;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "cbench: %s: %s\n", what, sairing_last_error());
    return 1;
}

static int serve(const char *dir, uint64_t spin_us) {
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(1, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    sairing_server_options o = {0};
    o.spin_us = spin_us;
    o.timeout_ms = 60000;
    sairing_server *s = NULL;
    if (sairing_server_open(dir, &o, &s) != SAIRING_OK) return fail("server_open");
    printf("ready\n");
    fflush(stdout);
    sairing_str ok = S("SAI_STATUS_SUCCESS");
    for (;;) {
        sairing_request q;
        int rc = sairing_server_recv(s, -1, &q);
        if (rc == SAIRING_OK) {
            rc = sairing_server_respond(s, &q.ticket, ok, NULL, 0, NULL, 0);
            if (rc != SAIRING_OK) return fail("respond");
        } else if (rc != SAIRING_ERR_DECODE && rc != SAIRING_EMPTY) {
            return fail("recv");
        }
    }
}

static int client(const char *dir, uint64_t spin_us, long samples, long messages, const char *key, const char *name,
                  const char *value) {
    sairing_client_options o = {0};
    o.spin_us = spin_us;
    o.timeout_ms = 60000;
    o.mode = 2; /* pipelined: nothing waits unless asked */
    sairing_client *c = NULL;
    if (sairing_client_open(dir, &o, &c) != SAIRING_OK) return fail("client_open");
    /* Connected before measuring (after_wake services the handshake). */
    for (int i = 0; i < 5000 && sairing_client_connected(c) != 1; i++) {
        sairing_client_after_wake(c);
        usleep(1000);
    }
    if (sairing_client_connected(c) != 1) return fail("never connected");
    sairing_attr a = {S(name), S(value)};
    uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)samples);
    if (!lat) return 1;
    sairing_response r;
    long warm = samples / 10;
    for (long i = 0; i < samples + warm; i++) {
        uint64_t seq = 0, t = now_ns();
        if (sairing_client_send(c, SAIRING_OP_GET, S(key), &a, 1, &seq) != SAIRING_OK ||
            sairing_client_wait(c, seq, -1, &r) != SAIRING_OK)
            return fail("round trip");
        if (i >= warm) lat[i - warm] = now_ns() - t;
    }
    sairing_call batch[128];
    for (int i = 0; i < 128; i++) {
        batch[i].op = SAIRING_OP_SET;
        batch[i].key = S(key);
        batch[i].attrs = &a;
        batch[i].attr_count = 1;
    }
    uint64_t t = now_ns(), seq = 0;
    for (long left = messages; left > 0;) {
        size_t n = left < 128 ? (size_t)left : 128, sent = 0;
        if (sairing_client_send_batch(c, batch, n, NULL, &sent) != SAIRING_OK) return fail("one way");
        left -= (long)sent;
        /* Answers (from a server that answers sets) are taken as they come,
         * so they never pile up; none come from one that does not. */
        while (sairing_client_next_completion(c, 0, &r) == SAIRING_OK) {
        }
    }
    if (sairing_client_send(c, SAIRING_OP_FLUSH, S("flush"), NULL, 0, &seq) != SAIRING_OK ||
        sairing_client_wait(c, seq, -1, &r) != SAIRING_OK)
        return fail("flush");
    double secs = (double)(now_ns() - t) / 1e9;
    printf("rtt_ns\n");
    for (long i = 0; i < samples; i++) printf("%llu\n", (unsigned long long)lat[i]);
    printf("one_way_per_s %.0f\n", (double)messages / secs);
    free(lat);
    sairing_client_close(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 9 && strcmp(argv[1], "client") == 0)
        return client(argv[2], strtoull(argv[3], NULL, 10), atol(argv[4]), atol(argv[5]), argv[6], argv[7], argv[8]);
    fprintf(stderr, "usage: cbench serve DIR SPIN_US | cbench client DIR SPIN_US SAMPLES MESSAGES KEY NAME VALUE\n");
    return 2;
}
