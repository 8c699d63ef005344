/* Findings of the C ABI's adversarial review, each a check that failed before
 * its fix. Run by capi/tests/c.rs with a scratch directory. */
#include "../check.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* A new channel ROOT/NAME with a server and a client in `mode` on it. */
static void server_and_client(const char *root, const char *name, uint32_t mode, char *dir, size_t n,
                              sairing_server **s, sairing_client **c) {
    snprintf(dir, n, "%s/%s", root, name);
    EQ(sairing_channel_create(dir, 1 << 16), SAIRING_OK);
    sairing_client_options o = {0};
    o.mode = mode;
    EQ(sairing_server_open(dir, NULL, s), SAIRING_OK);
    EQ(sairing_client_open(dir, &o, c), SAIRING_OK);
}

static void channel(const char *root, const char *name, char *dir, size_t n) {
    snprintf(dir, n, "%s/%s", root, name);
    EQ(sairing_channel_create(dir, 1 << 16), SAIRING_OK);
}

/* Async mode: a get's answer read by a pump before the wait is kept for it. */
static void async_get_answer_is_kept(const char *root) {
    char dir[4096];
    sairing_server *s;
    sairing_client *c;
    server_and_client(root, "async", 1, dir, sizeof dir, &s, &c);
    uint64_t seq = 0;
    sairing_attr a = {S("SAI_SWITCH_ATTR_PORT_NUMBER"), S("0")};
    EQ(sairing_client_send(c, SAIRING_OP_GET, S("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000"), &a, 1, &seq), SAIRING_OK);
    sairing_request q;
    EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    size_t n = 0;
    for (int i = 0; i < 1000 && n == 0; i++) {
        EQ(sairing_client_pump(c, &n), SAIRING_OK);
    }
    EQ(n, 1);
    sairing_response r;
    EQ(sairing_client_wait(c, seq, 500, &r), SAIRING_OK);
    sairing_client_close(c);
    sairing_server_close(s);
}

/* A client that only sends connects (and so rings a sleeping server). */
static void a_send_only_client_rings(const char *root) {
    char dir[4096];
    sairing_server *s;
    sairing_client *c;
    server_and_client(root, "sendonly", 2, dir, sizeof dir, &s, &c);
    int woken = 0;
    for (int round = 0; round < 3; round++) {
        bool sleep = false;
        EQ(sairing_server_prepare_to_wait(s, &sleep), SAIRING_OK);
        EQ(sairing_client_send(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x26"), NULL, 0, NULL), SAIRING_OK);
        struct pollfd p = {sairing_server_fd(s), POLLIN, 0};
        if (poll(&p, 1, 5000) == 1) woken++;
        EQ(sairing_server_after_wake(s), SAIRING_OK);
        sairing_request q;
        while (sairing_server_recv(s, 0, &q) == SAIRING_OK)
            sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0);
    }
    /* The first round may be the connection itself; the later ones are rings. */
    CHECK(woken == 3);
    sairing_client_close(c);
    sairing_server_close(s);
}

/* Turning auto-release off twice keeps what was read releasable. */
static void release_marks_survive_a_repeated_setting(const char *root) {
    char dir[4096];
    sairing_server *s;
    sairing_client *c;
    server_and_client(root, "marks", 2, dir, sizeof dir, &s, &c);
    EQ(sairing_server_set_auto_release(s, false), SAIRING_OK);
    const char *keys[] = {"SAI_OBJECT_TYPE_VLAN:oid:0x261", "SAI_OBJECT_TYPE_VLAN:oid:0x262", "SAI_OBJECT_TYPE_VLAN:oid:0x263"};
    for (int i = 0; i < 3; i++) EQ(sairing_client_send(c, SAIRING_OP_REMOVE, S(keys[i]), NULL, 0, NULL), SAIRING_OK);
    sairing_request q;
    uint64_t second = 0;
    for (int i = 0; i < 3; i++) {
        EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
        if (i == 1) second = q.record_seq;
        EQ(sairing_server_set_auto_release(s, false), SAIRING_OK); /* the same setting again */
        EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    }
    EQ(sairing_server_release_through(s, second), SAIRING_OK);
    sairing_server_close(s);
    EQ(sairing_server_open(dir, NULL, &s), SAIRING_OK);
    EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
    CHECK(same(q.key, keys[2])); /* the first two were released */
    sairing_client_close(c);
    sairing_server_close(s);
}

/* A bulk op with a non-bulk body (and the reverse) is refused, not sent. */
static void ops_must_match_their_body(const char *root) {
    char dir[4096];
    channel(root, "shape", dir, sizeof dir);
    sairing_client *c;
    EQ(sairing_client_open(dir, NULL, &c), SAIRING_OK);
    uint64_t seq = 0;
    EQ(sairing_client_send(c, SAIRING_OP_BULK_CREATE, S("SAI_OBJECT_TYPE_ROUTE_ENTRY"), NULL, 0, &seq), SAIRING_ERR_INVALID);
    EQ(sairing_client_send_bulk(c, SAIRING_OP_SET, S("SAI_OBJECT_TYPE_PORT"), NULL, 0, &seq), SAIRING_ERR_INVALID);
    sairing_response r;
    EQ(sairing_client_call(c, SAIRING_OP_BULK_SET, S("x"), NULL, 0, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_call_bulk(c, SAIRING_OP_GET, S("x"), NULL, 0, &r), SAIRING_ERR_INVALID);
    size_t n = 99;
    EQ(sairing_client_pump(c, &n), SAIRING_OK); /* nothing was sent */
    sairing_client_close(c);
}

/* A call that times out still says which request it sent (it will run). */
static void a_timed_out_call_gives_its_seq(const char *root) {
    char dir[4096];
    channel(root, "timeout", dir, sizeof dir);
    sairing_client *c;
    sairing_client_options o = {0};
    o.timeout_ms = 20;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    sairing_response r;
    memset(&r, 0xab, sizeof r);
    EQ(sairing_client_call(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x26"), NULL, 0, &r), SAIRING_ERR_TIMEOUT);
    EQ(r.seq, 1);
    sairing_client_close(c);
}

/* Answers in request order: answering a later request first is refused. */
static void answers_go_in_request_order(const char *root) {
    char dir[4096];
    sairing_server *s;
    sairing_client *c;
    server_and_client(root, "order", 2, dir, sizeof dir, &s, &c);
    uint64_t a = 0, b = 0;
    EQ(sairing_client_send(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x261"), NULL, 0, &a), SAIRING_OK);
    EQ(sairing_client_send(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x262"), NULL, 0, &b), SAIRING_OK);
    sairing_request qa, qb;
    EQ(sairing_server_recv(s, -1, &qa), SAIRING_OK);
    EQ(sairing_server_recv(s, -1, &qb), SAIRING_OK);
    EQ(sairing_server_respond(s, &qb.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_ERR_INVALID);
    sairing_ticket forged = qa.ticket;
    forged.seq = 1000000;
    EQ(sairing_server_respond(s, &forged, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_ERR_INVALID);
    EQ(sairing_server_respond(s, &qa.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_server_respond(s, &qb.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    sairing_response r;
    EQ(sairing_client_wait(c, a, 5000, &r), SAIRING_OK);
    EQ(sairing_client_wait(c, b, 5000, &r), SAIRING_OK);
    sairing_client_close(c);
    sairing_server_close(s);
}

/* A regular file named as a channel is "no such channel", like a missing one;
 * next_notification takes a negative timeout as the client's own. */
static void a_file_is_not_a_channel(const char *root) {
    char path[4096];
    snprintf(path, sizeof path, "%s/plainfile", root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    sairing_client *c = NULL;
    EQ(sairing_client_open(path, NULL, &c), SAIRING_ERR_NOT_FOUND);
    char dir[4096];
    channel(root, "notes", dir, sizeof dir);
    sairing_client_options o = {0};
    o.timeout_ms = 20;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    sairing_notification n;
    EQ(sairing_client_next_notification(c, -1, &n), SAIRING_EMPTY); /* 20 ms, not for ever */
    sairing_client_close(c);
}

/* A failing call while the thread exits (a pthread key destructor) returns
 * its code instead of aborting the process. */
static pthread_key_t key;
static int in_destructor = 1;
static void on_thread_exit(void *v) {
    (void)v;
    in_destructor = sairing_client_send(NULL, SAIRING_OP_SET, S("k"), NULL, 0, NULL);
    (void)sairing_last_error();
}
static void *thread_body(void *v) {
    (void)v;
    pthread_setspecific(key, (void *)1);
    (void)sairing_client_send(NULL, SAIRING_OP_SET, S("k"), NULL, 0, NULL);
    return NULL;
}
static void failing_while_the_thread_exits(void) {
    pthread_key_create(&key, on_thread_exit);
    pthread_t t;
    pthread_create(&t, NULL, thread_body, NULL);
    pthread_join(t, NULL);
    EQ(in_destructor, SAIRING_ERR_INVALID);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    async_get_answer_is_kept(argv[1]);
    a_send_only_client_rings(argv[1]);
    release_marks_survive_a_repeated_setting(argv[1]);
    ops_must_match_their_body(argv[1]);
    a_timed_out_call_gives_its_seq(argv[1]);
    answers_go_in_request_order(argv[1]);
    a_file_is_not_a_channel(argv[1]);
    failing_while_the_thread_exits();
    return finish();
}
