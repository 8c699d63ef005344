/* echo_server DIR COUNT: serves COUNT requests on the channel in DIR (made if
 * missing), answering
 * each with SAI_STATUS_SUCCESS (a get gets its attributes back), sleeping in
 * poll(2) on the library's descriptors when idle. Prints "served N". */
#include <sairing.h>

#include <poll.h>
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
    long count = atol(argv[2]), served = 0;
    sairing_server *s = NULL;
    /* The channel outlives both sides: create it unless it is there. */
    int rc = sairing_channel_create(argv[1], 0);
    if (rc != SAIRING_OK && rc != SAIRING_ERR_BUSY) {
        fprintf(stderr, "create: %s: %s\n", sairing_strerror(rc), sairing_last_error());
        return 1;
    }
    rc = sairing_server_open(argv[1], NULL, &s);
    if (rc != SAIRING_OK) {
        fprintf(stderr, "open: %s: %s\n", sairing_strerror(rc), sairing_last_error());
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (served < count) {
        sairing_request q;
        rc = sairing_server_recv(s, 0, &q);
        if (rc == SAIRING_OK) {
            const sairing_attr *attrs = q.op == SAIRING_OP_GET ? q.attrs : NULL;
            size_t n = q.op == SAIRING_OP_GET ? q.attr_count : 0;
            rc = sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), attrs, n, NULL, 0);
            if (rc != SAIRING_OK) break;
            served++;
            continue;
        }
        if (rc == SAIRING_ERR_DECODE) continue; /* skipped, answered with a failure */
        if (rc != SAIRING_EMPTY) break;
        /* Idle: sleep on the doorbell and the sockets. */
        bool wait = false;
        if (sairing_server_prepare_to_wait(s, &wait) != SAIRING_OK) break;
        if (wait) {
            struct pollfd p[9];
            int fds[8];
            size_t nfds = 0;
            sairing_server_socket_fds(s, fds, 8, &nfds);
            if (nfds > 8) nfds = 8;
            p[0].fd = sairing_server_fd(s);
            p[0].events = POLLIN;
            for (size_t i = 0; i < nfds; i++) {
                p[i + 1].fd = fds[i];
                p[i + 1].events = POLLIN;
            }
            poll(p, nfds + 1, 1000);
        }
        if (sairing_server_after_wake(s) != SAIRING_OK) break;
    }
    if (served < count) fprintf(stderr, "stopped: %s: %s\n", sairing_strerror(rc), sairing_last_error());
    printf("served %ld\n", served);
    sairing_server_close(s);
    return served == count ? 0 : 1;
}
