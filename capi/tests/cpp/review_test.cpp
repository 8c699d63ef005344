// Findings of the C++ wrapper's adversarial review, each a check that failed
// before its fix (the lost wake-up of ShmSelectableChannel::readData is
// shm_test.cpp's "timeouts == 0"). Run by capi/tests/c.rs with a scratch dir.
#include "sairing.hpp"
#include "../check.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


using sairing::FieldValueTuple;
using sairing::KeyOpFieldsValuesTuple;

static std::string channel(const char *root, const char *name, uint64_t capacity) {
    std::string dir = std::string(root) + "/" + name;
    if (sairing_channel_create(dir.c_str(), capacity) != SAIRING_OK) std::abort();
    return dir;
}

// ShmChannel::set on a full ring says so, and wait() still waits for the last
// request that was sent.
static void backpressure_on_set(const char *root) {
    std::string dir = channel(root, "full", 4096);
    sairing_client_options o{};
    o.nonblocking = true;
    sairing::ShmChannel ch(dir, [](const std::string &, const std::string &, const std::vector<FieldValueTuple> &) {}, o);
    int refused = 0, sent = 0;
    for (int i = 0; i < 20; i++) {
        if (ch.set("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", {{"A", std::string(500, 'x')}}, "set"))
            sent++;
        else
            refused++;
    }
    CHECK(refused > 0 && sent > 0);
    // A server answers what is in the ring; the last request sent is answered.
    sairing::ShmSelectableChannel sel(dir);
    int answered = 0;
    while (!sel.empty()) {
        KeyOpFieldsValuesTuple kco;
        sel.pop(kco);
        CHECK(sel.set("SAI_STATUS_SUCCESS", {}, "getresponse"));
        answered++;
    }
    CHECK(answered == sent);
    KeyOpFieldsValuesTuple kco;
    CHECK(ch.wait("set", kco) == sairing::SAI_STATUS_SUCCESS);
}

// The server side's backpressure: ShmSelectableChannel::set returns false when
// the response ring stays full, and the request stays owed.
static void backpressure_on_answers(const char *root) {
    std::string dir = channel(root, "answers", 4096);
    sairing_server_options so{};
    so.timeout_ms = 20;
    sairing::ShmSelectableChannel sel(dir, so);
    sairing_client_options o{};
    o.mode = 2;
    sairing::Client c(dir, o);
    int refused = 0;
    for (int round = 0; round < 40 && !refused; round++) {
        c.send(SAIRING_OP_GET, "SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "0"}});
        while (!sel.empty()) {
            KeyOpFieldsValuesTuple kco;
            sel.pop(kco);
            if (!sel.set("SAI_STATUS_SUCCESS", {{"SAI_SWITCH_ATTR_PORT_NUMBER", std::string(300, '9')}}, "getresponse")) {
                refused++;
                break;
            }
        }
    }
    CHECK(refused == 1); // the client reads nothing: the ring fills
}

// A record the notification thread cannot decode is skipped; it neither kills
// the process nor stops later notifications.
static void a_bad_record_does_not_kill_the_notification_thread(const char *root) {
    std::string dir = channel(root, "badnote", 1 << 16);
    {
        sairing_producer *p = nullptr;
        std::string resp = dir + "/resp.ring";
        CHECK(sairing_producer_open(resp.c_str(), &p) == SAIRING_OK);
        CHECK(sairing_producer_push(p, 77, "junk", 4, nullptr) == SAIRING_OK);
        sairing_producer_close(p);
    }
    std::atomic<int> notes{0};
    sairing::ShmChannel ch(dir, [&](const std::string &, const std::string &, const std::vector<FieldValueTuple> &) { notes++; });
    sairing::Server server(dir);
    for (int i = 0; i < 500 && !server.notify("port_state_change", "[]"); i++) {
    }
    for (int i = 0; i < 500 && notes == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(notes == 1);
}

// wait() lets the notification thread run: syncd publishes a notification and
// answers only once the callback has run.
static void wait_does_not_hold_back_notifications(const char *root) {
    std::string dir = channel(root, "waitnote", 1 << 16);
    std::atomic<bool> called{false};
    sairing::ShmChannel ch(dir, [&](const std::string &, const std::string &, const std::vector<FieldValueTuple> &) { called = true; });
    std::atomic<bool> called_before_answer{false};
    std::thread syncd([&] {
        sairing::Server server(dir);
        sairing::Request r;
        while (!server.recv(100, r)) {
        }
        server.notify("port_state_change", "[]");
        for (int i = 0; i < 300 && !called; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        called_before_answer = called.load();
        server.respond(r.ticket, "SAI_STATUS_SUCCESS");
    });
    ch.set("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "0"}}, "get");
    KeyOpFieldsValuesTuple kco;
    CHECK(ch.wait("get", kco) == sairing::SAI_STATUS_SUCCESS);
    syncd.join();
    CHECK(called_before_answer);
}

// A batch an error cuts short says how far it got: the error carries how many
// went and the first's sequence number (it threw them away, so a caller could
// not know which calls to send again).
static void a_batch_cut_short_says_how_far_it_got(const char *root) {
    std::string dir = channel(root, "batch", 1 << 16);
    sairing::Client client(dir);
    std::vector<sairing::Client::Call> calls = {
        {SAIRING_OP_CREATE, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", {}},
        {SAIRING_OP_CREATE, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002\xff", {}},
        {SAIRING_OP_CREATE, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000003", {}},
    };
    bool thrown = false;
    try {
        client.send_batch(calls);
    } catch (const sairing::BatchError &e) {
        thrown = true;
        EQ(e.code(), SAIRING_ERR_INVALID);
        EQ(e.sent(), 1u);
        EQ(e.first_seq(), 1u);
    } catch (const sairing::Error &e) {
        fprintf(stderr, "send_batch threw an Error, not a BatchError: %s\n", e.what());
    }
    CHECK(thrown);
}

// A connection the client cannot make (here a listener that answers its hello
// with nonsense) is the caller's to hear of, and does not stop notifications:
// once a real server comes, they are delivered (found in review: the thread
// ended at the first refused handshake, and never delivered again).
static void a_refused_handshake_does_not_stop_notifications(const char *root) {
    std::string dir = channel(root, "refused", 1 << 16);
    std::string sock = dir + "/sock";
    int fake = ::socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fake >= 0);
    struct sockaddr_un a{};
    a.sun_family = AF_UNIX;
    CHECK(sock.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, sock.c_str(), sock.size() + 1);
    CHECK(::bind(fake, reinterpret_cast<struct sockaddr *>(&a), sizeof a) == 0);
    CHECK(::listen(fake, 16) == 0);
    std::atomic<int> notes{0};
    sairing::ShmChannel ch(dir, [&](const std::string &, const std::string &, const std::vector<FieldValueTuple> &) { notes++; });
    // The client connected when it opened (the kernel queued it): answer.
    int conn = ::accept(fake, nullptr, nullptr);
    CHECK(conn >= 0);
    CHECK(::write(conn, "not a welcome!!!", 16) == 16);
    // The caller hears of it from set(), whether the thread met it (the case
    // that ended the thread, made likely by the pause: only the thread uses
    // the client meanwhile) or set()'s own send did; with either, the
    // notification below must arrive.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int code = 0;
    for (int i = 0; i < 500 && code == 0; i++) {
        try {
            ch.set("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "0"}}, "get");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        } catch (const sairing::Error &e) {
            code = e.code();
        }
    }
    EQ(code, SAIRING_ERR_REFUSED);
    ::close(conn);
    ::close(fake);
    ::unlink(sock.c_str());
    // A real server now: the notification reaches the callback.
    sairing::Server server(dir);
    for (int i = 0; i < 500 && !server.notify("port_state_change", "[]"); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (int i = 0; i < 500 && notes == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(notes == 1);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    backpressure_on_set(argv[1]);
    backpressure_on_answers(argv[1]);
    a_bad_record_does_not_kill_the_notification_thread(argv[1]);
    wait_does_not_hold_back_notifications(argv[1]);
    a_batch_cut_short_says_how_far_it_got(argv[1]);
    a_refused_handshake_does_not_stop_notifications(argv[1]);
    return finish();
}
