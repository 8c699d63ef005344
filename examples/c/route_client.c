/* route_client DIR COUNT: programs COUNT IPv4 routes through the channel in
 * DIR, pipelined (no call waits; answers are matched as they come), and
 * checks every answer. Prints "routes N answered N failed 0" and exits 0 when
 * all succeeded. Start echo_server (or syncd) on the same channel. */
#include <sairing.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sairing_str S(const char *s) {
    sairing_str r = {s, strlen(s)};
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CHANNEL_DIR COUNT\n", argv[0]);
        return 2;
    }
    long count = atol(argv[2]);
    sairing_client_options o = {0};
    o.mode = 2; /* pipelined */
    sairing_client *c = NULL;
    int rc = sairing_client_open(argv[1], &o, &c);
    if (rc != SAIRING_OK) {
        fprintf(stderr, "open: %s: %s\n", sairing_strerror(rc), sairing_last_error());
        return 1;
    }
    sairing_attr nh = {S("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID"), S("oid:0x4000000000001")};
    long answered = 0, failed = 0;
    sairing_response r;
    char key[160];
    for (long i = 0; i < count; i++) {
        snprintf(key, sizeof key,
                 "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.%ld.%ld.0/24\",\"switch_id\":\"oid:0x21000000000000\",\"vr\":\"oid:0x3000000000022\"}",
                 (i >> 8) & 255, i & 255);
        rc = sairing_client_call(c, SAIRING_OP_CREATE, S(key), &nh, 1, &r);
        if (rc < 0) {
            fprintf(stderr, "create %s: %s: %s\n", key, sairing_strerror(rc), sairing_last_error());
            sairing_client_close(c);
            return 1;
        }
        /* Take the answers that have come, without waiting. */
        while (sairing_client_next_completion(c, 0, &r) == SAIRING_OK) {
            answered++;
            if (r.status.len != 18 || memcmp(r.status.ptr, "SAI_STATUS_SUCCESS", 18) != 0) failed++;
        }
    }
    while (answered < count) {
        rc = sairing_client_next_completion(c, 10000, &r);
        if (rc != SAIRING_OK) {
            fprintf(stderr, "waiting for answers: %s: %s\n", sairing_strerror(rc), sairing_last_error());
            break;
        }
        answered++;
        if (r.status.len != 18 || memcmp(r.status.ptr, "SAI_STATUS_SUCCESS", 18) != 0) failed++;
    }
    printf("routes %ld answered %ld failed %ld\n", count, answered, failed);
    sairing_client_close(c);
    return answered == count && failed == 0 ? 0 : 1;
}
