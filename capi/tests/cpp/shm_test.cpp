// sairing.hpp from C++17 under -fsanitize=address,undefined: an orchagent-like
// producer on ShmChannel and a syncd-like consumer on ShmSelectableChannel in
// an epoll loop (its own thread), sets, a get with its values, a bulk call,
// a notification through the callback thread; errors as exceptions with their
// code, backpressure returned. Run by capi/tests/c.rs with a scratch directory.
#include "sairing.hpp"
#include "../check.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>


using sairing::FieldValueTuple;
using sairing::KeyOpFieldsValuesTuple;

// syncd's loop: select on the channel's descriptor alone (as swss::Select
// does), read, pop everything, answer each; publish a notification when told
// to by a set of admin state. Stops after `expect` requests. Every wake must
// come from the descriptor: a wait that ends by its (10 s) timeout is
// counted in `timeouts` (a connecting client, a late hello or a request that
// did not ring would all end there).
static void consumer(const std::string &dir, int expect, std::atomic<int> &served, std::atomic<int> &timeouts) {
    sairing::ShmSelectableChannel ch(dir);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    std::memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = ch.getFd();
    epoll_ctl(ep, EPOLL_CTL_ADD, ch.getFd(), &ev);
    while (served < expect) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 10000) == 0) timeouts++;
        ch.readData();
        while (!ch.empty()) {
            KeyOpFieldsValuesTuple kco;
            ch.pop(kco, false);
            const std::string &key = std::get<0>(kco);
            const std::string &op = std::get<1>(kco);
            const auto &fvs = std::get<2>(kco);
            if (op == "get") {
                ch.set("SAI_STATUS_SUCCESS", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "32"}}, "getresponse");
            } else if (op == "bulkcreate") {
                std::vector<FieldValueTuple> statuses;
                for (const auto &fv : fvs) statuses.emplace_back("", fv.second.empty() ? "SAI_STATUS_INVALID_PARAMETER" : "SAI_STATUS_SUCCESS");
                ch.set("SAI_STATUS_FAILURE", statuses, "getresponse");
            } else if (op == "remove") {
                ch.set("SAI_STATUS_ITEM_NOT_FOUND", {}, "getresponse");
            } else {
                ch.set("SAI_STATUS_SUCCESS", {}, "getresponse");
                if (!fvs.empty() && fvs[0].first == "SAI_PORT_ATTR_ADMIN_STATE")
                    ch.send("port_state_change", "[{\"port_id\":\"" + key + "\",\"port_state\":\"SAI_PORT_OPER_STATUS_UP\"}]");
            }
            served++;
        }
    }
    close(ep);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    std::string dir = std::string(argv[1]) + "/asic";
    if (sairing_channel_create(dir.c_str(), 1 << 20) != SAIRING_OK) return 3;

    std::atomic<int> served{0}, timeouts{0};
    std::thread syncd([&] { consumer(dir, 1003, served, timeouts); });

    std::atomic<int> notes{0};
    std::string note_name;
    {
        sairing::ShmChannel ch(dir, [&](const std::string &name, const std::string &, const std::vector<FieldValueTuple> &) {
            note_name = name;
            notes++;
        });
        ch.setBuffered(true);
        KeyOpFieldsValuesTuple kco;

        // Sets, then a get: the get's answer carries the switch's values.
        for (int i = 0; i < 1000; i++)
            ch.set("SAI_OBJECT_TYPE_PORT:oid:0x10000000000" + std::to_string(100 + i), {{"SAI_PORT_ATTR_MTU", "9100"}}, "set");
        ch.set("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "0"}}, "get");
        CHECK(ch.wait("get", kco) == sairing::SAI_STATUS_SUCCESS);
        CHECK(std::get<0>(kco) == "SAI_STATUS_SUCCESS");
        CHECK(std::get<1>(kco) == "getresponse");
        CHECK(std::get<2>(kco).size() == 1 && std::get<2>(kco)[0].second == "32");

        // A remove of something missing: the status as SAI numbers it.
        ch.del("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000009", "remove");
        CHECK(ch.wait("remove", kco) == -7);
        CHECK(std::get<0>(kco) == "SAI_STATUS_ITEM_NOT_FOUND");

        // A set of admin state makes the consumer publish a notification,
        // delivered by the callback thread.
        ch.set("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", {{"SAI_PORT_ATTR_ADMIN_STATE", "true"}}, "set");
        CHECK(ch.wait("set", kco) == sairing::SAI_STATUS_SUCCESS);
        for (int i = 0; i < 500 && notes == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        CHECK(notes == 1);
        CHECK(note_name == "port_state_change");

        // Errors: an unknown command throws with its code.
        bool threw = false;
        try {
            ch.set("k", {}, "frobnicate");
        } catch (const sairing::Error &e) {
            threw = e.code() == SAIRING_ERR_INVALID;
        }
        CHECK(threw);
    }
    syncd.join();
    CHECK(served == 1003);
    CHECK(timeouts == 0);

    // A bulk create with the Client wrapper and a Server answering in this
    // thread; a non-blocking client's full ring is returned, not thrown.
    std::string dir2 = std::string(argv[1]) + "/bulk";
    CHECK(sairing_channel_create(dir2.c_str(), 1 << 16) == SAIRING_OK);
    {
        sairing::Server server(dir2);
        sairing_client_options o{};
        o.nonblocking = true;
        sairing::Client client(dir2, o);
        uint64_t seq = client.send_bulk(SAIRING_OP_BULK_CREATE, "SAI_OBJECT_TYPE_ROUTE_ENTRY",
                                        {{"{\"dest\":\"10.0.0.0/24\"}", {{"SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x4000000000001"}}},
                                         {"{\"dest\":\"10.0.1.0/24\"}", {}}});
        CHECK(seq != 0);
        sairing::Request r;
        CHECK(server.recv(-1, r));
        CHECK(r.objects.size() == 2 && r.objects[0].second.size() == 1);
        server.respond(r.ticket, "SAI_STATUS_SUCCESS", {}, {"SAI_STATUS_SUCCESS", "SAI_STATUS_SUCCESS"});
        sairing::Response resp = client.wait(seq, 5000);
        CHECK(resp.statuses.size() == 2);
        // A batch: two requests in one go, answered in order.
        uint64_t first = 0;
        size_t went = client.send_batch({{SAIRING_OP_SET, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002", {{"SAI_PORT_ATTR_MTU", "9100"}}},
                                         {SAIRING_OP_REMOVE, "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000003", {}}},
                                        &first);
        CHECK(went == 2 && first == seq + 1);
        for (uint64_t i = 0; i < 2; i++) {
            CHECK(server.recv(-1, r));
            CHECK(r.ticket.seq == first + i);
            CHECK(r.key == (i == 0 ? "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002" : "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000003"));
            server.respond(r.ticket, "SAI_STATUS_SUCCESS");
        }
        CHECK(client.wait(first + 1, 5000).status == "SAI_STATUS_SUCCESS");
        int full = 0;
        std::string big(4000, 'x');
        for (int i = 0; i < 100 && !full; i++)
            if (client.send(SAIRING_OP_SET, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", {{"A", big}}) == 0) full = 1;
        CHECK(full);
        bool timed_out = false;
        try {
            client.wait(first + 2, 50); // the first send the full ring cut short: never answered
        } catch (const sairing::Error &e) {
            timed_out = e.code() == SAIRING_ERR_TIMEOUT;
        }
        CHECK(timed_out);
    }
    return finish();
}
