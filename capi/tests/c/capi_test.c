/* The C API from C, under -fsanitize=address,undefined: every entry point's
 * error paths (NULL handles and pointers, bad arguments, a closed peer) return
 * codes and never crash; a client and a server exchange sets, gets, bulk calls
 * and notifications through one channel; the event-loop descriptors wake a
 * poll; a bare ring carries records. Run by capi/tests/c.rs with a scratch
 * directory as its only argument. */
#include "../check.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>






static void version_and_codes(void) {
    EQ(sairing_abi_version(), SAIRING_ABI_VERSION);
    CHECK(strlen(sairing_version()) > 0);
    CHECK(strcmp(sairing_strerror(SAIRING_ERR_FULL), "ring full (backpressure)") == 0);
    CHECK(strcmp(sairing_strerror(12345), "unknown code") == 0);
}

/* Every function given NULL where a handle or pointer belongs. */
static void nulls(void) {
    sairing_client *c = NULL;
    sairing_server *s = NULL;
    sairing_response r;
    sairing_request q;
    uint64_t seq;
    bool w;
    size_t n;
    EQ(sairing_client_open(NULL, NULL, &c), SAIRING_ERR_INVALID);
    CHECK(strstr(sairing_last_error(), "NULL") != NULL);
    EQ(sairing_client_open("/nonexistent", NULL, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_client_send(NULL, SAIRING_OP_SET, S("k"), NULL, 0, &seq), SAIRING_ERR_INVALID);
    EQ(sairing_client_send_bulk(NULL, SAIRING_OP_BULK_SET, S("T"), NULL, 0, &seq), SAIRING_ERR_INVALID);
    EQ(sairing_client_call(NULL, SAIRING_OP_GET, S("k"), NULL, 0, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_call_bulk(NULL, SAIRING_OP_BULK_GET, S("T"), NULL, 0, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_wait(NULL, 1, 0, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_next_completion(NULL, 0, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_wait_all(NULL, 0), SAIRING_ERR_INVALID);
    EQ(sairing_client_take_failure(NULL, &r), SAIRING_ERR_INVALID);
    EQ(sairing_client_pump(NULL, &n), SAIRING_ERR_INVALID);
    EQ(sairing_client_next_notification(NULL, 0, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_client_fd(NULL), SAIRING_ERR_INVALID);
    EQ(sairing_client_socket_fd(NULL), SAIRING_ERR_INVALID);
    EQ(sairing_client_prepare_to_wait(NULL, &w), SAIRING_ERR_INVALID);
    EQ(sairing_client_after_wake(NULL), SAIRING_ERR_INVALID);
    EQ(sairing_client_connected(NULL), SAIRING_ERR_INVALID);
    sairing_client_close(NULL);
    EQ(sairing_server_open(NULL, NULL, &s), SAIRING_ERR_INVALID);
    EQ(sairing_server_recv(NULL, 0, &q), SAIRING_ERR_INVALID);
    EQ(sairing_server_respond(NULL, NULL, S("x"), NULL, 0, NULL, 0), SAIRING_ERR_INVALID);
    EQ(sairing_server_notify(NULL, S("a"), S("b")), SAIRING_ERR_INVALID);
    EQ(sairing_server_set_auto_release(NULL, true), SAIRING_ERR_INVALID);
    EQ(sairing_server_release_through(NULL, 1), SAIRING_ERR_INVALID);
    EQ(sairing_server_fd(NULL), SAIRING_ERR_INVALID);
    EQ(sairing_server_socket_fds(NULL, NULL, 0, &n), SAIRING_ERR_INVALID);
    EQ(sairing_server_prepare_to_wait(NULL, &w), SAIRING_ERR_INVALID);
    EQ(sairing_server_after_wake(NULL), SAIRING_ERR_INVALID);
    EQ(sairing_server_connected(NULL), SAIRING_ERR_INVALID);
    sairing_server_close(NULL);
    EQ(sairing_channel_create(NULL, 0), SAIRING_ERR_INVALID);
    EQ(sairing_channel_remove(NULL, false), SAIRING_ERR_INVALID);
    EQ(sairing_ring_create(NULL, 4096), SAIRING_ERR_INVALID);
    EQ(sairing_producer_open(NULL, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_producer_push(NULL, 1, NULL, 0, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_consumer_open(NULL, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_consumer_read(NULL, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_consumer_release(NULL), SAIRING_ERR_INVALID);
    sairing_producer_close(NULL);
    sairing_consumer_close(NULL);
}

static void channel_exchange(const char *dir) {
    sairing_client *c = NULL;
    sairing_server *s = NULL;
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    EQ(sairing_client_open(missing, NULL, &c), SAIRING_ERR_NOT_FOUND);
    CHECK(c == NULL);

    EQ(sairing_channel_create(dir, 1 << 16), SAIRING_OK);
    EQ(sairing_channel_create(dir, 1 << 16), SAIRING_ERR_BUSY);
    EQ(sairing_server_open(dir, NULL, &s), SAIRING_OK);
    sairing_client_options o = {0};
    o.mode = 7;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_ERR_INVALID);
    o.mode = 0; /* sync */
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);

    /* Arguments the client refuses without sending anything. */
    uint64_t seq = 0;
    EQ(sairing_client_send(c, 99, S("k"), NULL, 0, &seq), SAIRING_ERR_INVALID);
    EQ(sairing_client_send(c, SAIRING_OP_SET, S("k"), NULL, 3, &seq), SAIRING_ERR_INVALID);
    sairing_str bad = {"\xff\xfe", 2};
    EQ(sairing_client_send(c, SAIRING_OP_SET, bad, NULL, 0, &seq), SAIRING_ERR_INVALID);
    sairing_str nullstr = {NULL, 4};
    EQ(sairing_client_send(c, SAIRING_OP_SET, nullstr, NULL, 0, &seq), SAIRING_ERR_INVALID);
    sairing_request q;
    EQ(sairing_server_recv(s, 0, &q), SAIRING_EMPTY);

    /* A set, received and answered. */
    sairing_attr mtu = {S("SAI_PORT_ATTR_MTU"), S("9100")};
    EQ(sairing_client_send(c, SAIRING_OP_SET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001"), &mtu, 1, &seq), SAIRING_OK);
    EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
    EQ(q.op, SAIRING_OP_SET);
    CHECK(same(q.key, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001"));
    EQ(q.attr_count, 1);
    CHECK(same(q.attrs[0].name, "SAI_PORT_ATTR_MTU") && same(q.attrs[0].value, "9100"));
    EQ(q.ticket.seq, seq);
    EQ(sairing_server_respond(s, NULL, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_ERR_INVALID);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 2), SAIRING_ERR_INVALID);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    sairing_response r;
    EQ(sairing_client_wait(c, seq, 5000, &r), SAIRING_OK);
    CHECK(same(r.status, "SAI_STATUS_SUCCESS"));
    EQ(r.seq, seq);

    /* A get, answered with attributes; the server answers after recv. */
    sairing_attr want = {S("SAI_SWITCH_ATTR_PORT_NUMBER"), S("0")};
    EQ(sairing_client_send(c, SAIRING_OP_GET, S("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000"), &want, 1, &seq), SAIRING_OK);
    EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
    sairing_attr got = {S("SAI_SWITCH_ATTR_PORT_NUMBER"), S("32")};
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), &got, 1, NULL, 0), SAIRING_OK);
    EQ(sairing_client_wait(c, seq, 5000, &r), SAIRING_OK);
    EQ(r.attr_count, 1);
    CHECK(same(r.attrs[0].value, "32"));

    /* A bulk create of three routes: one status per object. */
    sairing_attr nh = {S("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID"), S("oid:0x4000000000001")};
    sairing_object objs[3] = {
        {S("{\"dest\":\"10.0.0.0/24\"}"), &nh, 1},
        {S("{\"dest\":\"10.0.1.0/24\"}"), &nh, 1},
        {S("{\"dest\":\"10.0.2.0/24\"}"), NULL, 0},
    };
    EQ(sairing_client_send_bulk(c, SAIRING_OP_BULK_CREATE, S("SAI_OBJECT_TYPE_ROUTE_ENTRY"), objs, 3, &seq), SAIRING_OK);
    EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
    EQ(q.op, SAIRING_OP_BULK_CREATE);
    EQ(q.object_count, 3);
    CHECK(same(q.objects[1].id, "{\"dest\":\"10.0.1.0/24\"}"));
    EQ(q.objects[0].attr_count, 1);
    EQ(q.objects[2].attr_count, 0);
    CHECK(same(q.objects[1].attrs[0].value, "oid:0x4000000000001"));
    sairing_str st[3] = {S("SAI_STATUS_SUCCESS"), S("SAI_STATUS_ITEM_ALREADY_EXISTS"), S("SAI_STATUS_SUCCESS")};
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_FAILURE"), NULL, 0, st, 3), SAIRING_OK);
    EQ(sairing_client_wait(c, seq, 5000, &r), SAIRING_OK);
    EQ(r.status_count, 3);
    CHECK(same(r.statuses[1], "SAI_STATUS_ITEM_ALREADY_EXISTS"));

    /* A notification rings a client that announced it waits: its descriptor
     * becomes readable. Both sides connect when they look at their sockets,
     * which an event loop does around every wait (the exchanges above never
     * had to wait). */
    bool wait = false;
    for (int i = 0; i < 200 && !(sairing_client_connected(c) == 1 && sairing_server_connected(s) == 1); i++) {
        EQ(sairing_server_prepare_to_wait(s, &wait), SAIRING_OK);
        EQ(sairing_server_after_wake(s), SAIRING_OK);
        EQ(sairing_client_prepare_to_wait(c, &wait), SAIRING_OK);
        EQ(sairing_client_after_wake(c), SAIRING_OK);
        poll(NULL, 0, 1);
    }
    EQ(sairing_client_connected(c), 1);
    EQ(sairing_server_connected(s), 1);
    EQ(sairing_client_prepare_to_wait(c, &wait), SAIRING_OK);
    CHECK(wait); /* nothing there yet */
    int fd = sairing_client_fd(c);
    CHECK(fd >= 0);
    struct pollfd p = {fd, POLLIN, 0};
    EQ(poll(&p, 1, 0), 0);
    EQ(sairing_server_notify(s, S("port_state_change"), S("[{\"port_id\":\"oid:0x1000000000001\",\"port_state\":\"SAI_PORT_OPER_STATUS_UP\"}]")), SAIRING_OK);
    EQ(poll(&p, 1, 5000), 1);
    EQ(sairing_client_after_wake(c), SAIRING_OK);
    /* Published while nobody waits: prepare_to_wait says it is there. */
    EQ(sairing_server_notify(s, S("fdb_event"), S("[]")), SAIRING_OK);
    EQ(sairing_client_prepare_to_wait(c, &wait), SAIRING_OK);
    CHECK(!wait);
    EQ(sairing_client_after_wake(c), SAIRING_OK);
    sairing_notification n;
    EQ(sairing_client_next_notification(c, 5000, &n), SAIRING_OK);
    CHECK(same(n.name, "port_state_change"));
    EQ(sairing_client_next_notification(c, 5000, &n), SAIRING_OK);
    CHECK(same(n.name, "fdb_event"));
    EQ(sairing_client_next_notification(c, 0, &n), SAIRING_EMPTY);

    /* The server's sockets; its descriptor is stable. */
    size_t count = 0;
    int fds[8];
    EQ(sairing_server_socket_fds(s, fds, 8, &count), SAIRING_OK);
    CHECK(count >= 1);
    EQ(sairing_server_socket_fds(s, NULL, 4, &count), SAIRING_ERR_INVALID);
    CHECK(sairing_server_fd(s) >= 0);

    /* Pipelined: nothing waits; answers come by next_completion. */
    sairing_client_close(c);
    o.mode = 2;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    EQ(sairing_client_call(c, SAIRING_OP_SET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000002"), &mtu, 1, &r), SAIRING_SENT);
    uint64_t first = r.seq;
    EQ(sairing_client_call(c, SAIRING_OP_GET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000002"), &mtu, 1, &r), SAIRING_SENT);
    while (sairing_server_recv(s, 0, &q) == SAIRING_OK)
        EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
    EQ(r.seq, first);
    EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
    EQ(r.seq, first + 1);
    EQ(sairing_client_next_completion(c, 0, &r), SAIRING_EMPTY);

    /* Async: a failure is collected, not returned by the call. */
    sairing_client_close(c);
    o.mode = 1;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    EQ(sairing_client_call(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000009"), NULL, 0, &r), SAIRING_SENT);
    EQ(sairing_server_recv(s, -1, &q), SAIRING_OK);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_ITEM_NOT_FOUND"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_client_wait_all(c, 5000), SAIRING_OK);
    EQ(sairing_client_take_failure(c, &r), SAIRING_OK);
    CHECK(same(r.status, "SAI_STATUS_ITEM_NOT_FOUND"));
    EQ(sairing_client_take_failure(c, &r), SAIRING_EMPTY);

    /* A closed server: the client times out waiting (the request stays in the
     * ring); the channel cannot be removed while the client is attached. */
    sairing_server_close(s);
    o.mode = 0;
    o.timeout_ms = 50;
    sairing_client_close(c);
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    EQ(sairing_client_call(c, SAIRING_OP_SET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000003"), &mtu, 1, &r), SAIRING_ERR_TIMEOUT);
    EQ(sairing_client_connected(c), 0);
    /* With no server, the client looked every 20 ms and was never rung. */
    sairing_wait_stats w;
    EQ(sairing_client_wait_stats(c, &w), SAIRING_OK);
    CHECK(w.polled >= 1 && w.rung == 0 && w.hung_up == 0);
    EQ(sairing_client_wait_stats(NULL, &w), SAIRING_ERR_INVALID);
    EQ(sairing_client_wait_stats(c, NULL), SAIRING_ERR_INVALID);
    EQ(sairing_channel_remove(dir, false), SAIRING_ERR_BUSY);
    /* A new server gets the request that was waiting (after the last one
     * the old server read but had not released yet: delivery is at least
     * once, and the client drops the repeated answer). */
    EQ(sairing_server_open(dir, NULL, &s), SAIRING_OK);
    int found = 0;
    for (int i = 0; i < 3 && !found; i++) {
        EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
        found = same(q.key, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000003");
    }
    CHECK(found);
    sairing_client_close(c);
    sairing_server_close(s);
    EQ(sairing_channel_remove(dir, false), SAIRING_OK);
}

/* A batch: sent in one go, answered in order; an invalid call refuses the
 * whole batch, a string that is not UTF-8 cuts it short; a non-blocking client meeting a full ring sends a prefix and
 * says how long. */
static void batch(const char *root) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/batch", root);
    EQ(sairing_channel_create(dir, 1 << 16), SAIRING_OK);
    sairing_server *s = NULL;
    sairing_client *c = NULL;
    EQ(sairing_server_open(dir, NULL, &s), SAIRING_OK);
    sairing_client_options o = {0};
    o.mode = 2;
    o.nonblocking = true;
    EQ(sairing_client_open(dir, &o, &c), SAIRING_OK);
    sairing_attr mtu = {S("SAI_PORT_ATTR_MTU"), S("9100")};
    sairing_call calls[3] = {
        {SAIRING_OP_SET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001"), &mtu, 1},
        {SAIRING_OP_GET, S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000002"), &mtu, 1},
        {SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000003"), NULL, 0},
    };
    uint64_t first = 0;
    size_t sent = 99;
    EQ(sairing_client_send_batch(c, calls, 3, &first, &sent), SAIRING_OK);
    EQ(sent, 3);
    CHECK(first > 0);
    sairing_request q;
    for (int i = 0; i < 3; i++) {
        EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
        EQ(q.op, calls[i].op);
        EQ(q.ticket.seq, first + (uint64_t)i);
        CHECK(q.key.len == calls[i].key.len && memcmp(q.key.ptr, calls[i].key.ptr, q.key.len) == 0);
        EQ(q.attr_count, calls[i].attr_count);
        EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    }
    sairing_response r;
    for (int i = 0; i < 3; i++) {
        EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
        EQ(r.seq, first + (uint64_t)i);
    }

    /* Refused whole: a bulk op, a NULL array, a NULL string with a length. */
    sairing_call bad[2] = {calls[0], {SAIRING_OP_BULK_CREATE, S("SAI_OBJECT_TYPE_ROUTE_ENTRY"), NULL, 0}};
    EQ(sairing_client_send_batch(c, bad, 2, &first, &sent), SAIRING_ERR_INVALID);
    EQ(sent, 0);
    EQ(sairing_client_send_batch(c, NULL, 2, &first, &sent), SAIRING_ERR_INVALID);
    bad[1] = calls[1];
    bad[1].key.ptr = NULL;
    EQ(sairing_client_send_batch(c, bad, 2, &first, &sent), SAIRING_ERR_INVALID);
    EQ(sent, 0);
    EQ(sairing_server_recv(s, 0, &q), SAIRING_EMPTY);
    /* Cut short at a key that is not UTF-8 (checked as it is copied): the
     * call before it went, the rest did not. */
    sairing_str notutf8 = {"\xff", 1};
    bad[1].key = notutf8;
    uint64_t next = 0;
    EQ(sairing_client_send_batch(c, bad, 2, &first, &sent), SAIRING_ERR_INVALID);
    CHECK(strstr(sairing_last_error(), "not UTF-8") != NULL);
    EQ(sent, 1);
    EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
    EQ(q.ticket.seq, first);
    EQ(q.op, SAIRING_OP_SET);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_server_recv(s, 0, &q), SAIRING_EMPTY);
    EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
    EQ(r.seq, first);
    /* Nothing of the refused call took a sequence number. */
    EQ(sairing_client_send(c, SAIRING_OP_REMOVE, S("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000003"), NULL, 0, &next),
       SAIRING_OK);
    EQ(next, first + 1);
    EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
    EQ(q.ticket.seq, next);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
    /* Text that is UTF-8 but not ASCII takes the slower check, and arrives
     * intact. */
    sairing_attr name = {S("SAI_HOSTIF_ATTR_NAME"), S("Ethernet\xc3\xa9")};
    sairing_call uni = {SAIRING_OP_SET, S("SAI_OBJECT_TYPE_HOSTIF:oid:0xd000000000001"), &name, 1};
    EQ(sairing_client_send_batch(c, &uni, 1, &first, &sent), SAIRING_OK);
    EQ(sent, 1);
    EQ(sairing_server_recv(s, 5000, &q), SAIRING_OK);
    EQ(q.attr_count, 1);
    CHECK(q.attrs[0].value.len == 10 && memcmp(q.attrs[0].value.ptr, "Ethernet\xc3\xa9", 10) == 0);
    EQ(sairing_server_respond(s, &q.ticket, S("SAI_STATUS_SUCCESS"), NULL, 0, NULL, 0), SAIRING_OK);
    EQ(sairing_client_next_completion(c, 5000, &r), SAIRING_OK);
    EQ(sairing_client_send_batch(NULL, calls, 3, &first, &sent), SAIRING_ERR_INVALID);
    EQ(sairing_client_send_batch(c, NULL, 0, NULL, NULL), SAIRING_OK);

    /* More than the 64 KiB ring holds: a prefix goes, the rest can follow. */
    static char big[1000];
    memset(big, 'x', sizeof big);
    sairing_attr fat = {S("SAI_PORT_ATTR_MTU"), {big, sizeof big}};
    sairing_call many[200];
    for (int i = 0; i < 200; i++) {
        many[i].op = SAIRING_OP_SET;
        many[i].key = S("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001");
        many[i].attrs = &fat;
        many[i].attr_count = 1;
    }
    EQ(sairing_client_send_batch(c, many, 200, &first, &sent), SAIRING_ERR_FULL);
    CHECK(sent > 0 && sent < 200);
    size_t got = 0;
    while (sairing_server_recv(s, 0, &q) == SAIRING_OK) {
        EQ(q.ticket.seq, first + got);
        got++;
    }
    EQ(got, sent);
    sairing_wait_stats w;
    EQ(sairing_server_wait_stats(s, &w), SAIRING_OK);
    EQ(w.timed_out, 0);
    EQ(sairing_server_wait_stats(NULL, &w), SAIRING_ERR_INVALID);
    EQ(sairing_server_wait_stats(s, NULL), SAIRING_ERR_INVALID);
    sairing_client_close(c);
    sairing_server_close(s);
}

static void bare_ring(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ring", dir);
    EQ(sairing_ring_create(path, 1000), SAIRING_ERR_INVALID); /* not a power of two */
    EQ(sairing_ring_create(path, 4096), SAIRING_OK);
    sairing_producer *p = NULL;
    sairing_consumer *c = NULL;
    EQ(sairing_producer_open(path, &p), SAIRING_OK);
    sairing_producer *p2 = NULL;
    EQ(sairing_producer_open(path, &p2), SAIRING_ERR_BUSY);
    EQ(sairing_consumer_open(path, &c), SAIRING_OK);
    uint64_t seq = 0;
    EQ(sairing_producer_push(p, 0, "x", 1, &seq), SAIRING_ERR_INVALID); /* kind 0 */
    EQ(sairing_producer_push(p, 7, "hello", 5, &seq), SAIRING_OK);
    int full = 0;
    char block[1000] = {0};
    for (int i = 0; i < 10; i++)
        if (sairing_producer_push(p, 1, block, sizeof block, NULL) == SAIRING_ERR_FULL)
            full = 1;
    CHECK(full);
    sairing_record r;
    EQ(sairing_consumer_read(c, &r), SAIRING_OK);
    EQ(r.seq, seq);
    EQ(r.kind, 7);
    CHECK(r.len == 5 && memcmp(r.data, "hello", 5) == 0);
    while (sairing_consumer_read(c, &r) == SAIRING_OK) {
    }
    EQ(sairing_consumer_release(c), SAIRING_OK);
    EQ(sairing_producer_push(p, 1, block, sizeof block, NULL), SAIRING_OK);
    sairing_producer_close(p);
    sairing_consumer_close(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/asic", argv[1]);
    version_and_codes();
    nulls();
    channel_exchange(dir);
    batch(argv[1]);
    bare_ring(argv[1]);
    return finish();
}
