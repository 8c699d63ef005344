// syncd_consumer DIR COUNT: a syncd-like consumer on
// sairing::ShmSelectableChannel in an epoll loop, the way syncd uses sairedis'
// SelectableChannel under swss::Select: wait on getFd(), readData(), then pop
// and answer while !empty(). Makes the channel if missing, answers COUNT
// requests, then prints "served N timeouts T" (waits that the descriptor did
// not end: 0 on a healthy channel). On the way it prints "served N" every 100
// answers and "timeout" for each such wait, so that a consumer killed
// mid-stream has said how far it got. A request is released when it is
// answered: killed, it meets the requests it had not answered again.
#include <sairing.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CHANNEL_DIR COUNT\n", argv[0]);
        return 2;
    }
    long count = std::atol(argv[2]), served = 0, timeouts = 0;
    int rc = sairing_channel_create(argv[1], 0); // made unless it is there
    if (rc != SAIRING_OK && rc != SAIRING_ERR_BUSY) {
        std::fprintf(stderr, "create: %s: %s\n", sairing_strerror(rc), sairing_last_error());
        return 1;
    }
    try {
        sairing::ShmSelectableChannel ch(argv[1]);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = ch.getFd();
        epoll_ctl(ep, EPOLL_CTL_ADD, ch.getFd(), &ev);
        std::printf("ready\n");
        std::fflush(stdout);
        while (served < count) {
            epoll_event got{};
            // Every wake comes from the descriptor; the timeout is a backstop
            // that a healthy channel never needs (counted and printed).
            if (epoll_wait(ep, &got, 1, 10000) == 0) {
                timeouts++;
                std::printf("timeout\n");
                std::fflush(stdout);
            }
            ch.readData();
            while (!ch.empty()) {
                sairing::KeyOpFieldsValuesTuple kco;
                ch.pop(kco, false);
                if (std::get<1>(kco) == "get")
                    ch.set("SAI_STATUS_SUCCESS", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "32"}}, "getresponse");
                else
                    ch.set("SAI_STATUS_SUCCESS", {}, "getresponse");
                if (++served % 100 == 0) {
                    std::printf("served %ld\n", served);
                    std::fflush(stdout);
                }
            }
        }
        close(ep);
        std::printf("served %ld timeouts %ld\n", served, timeouts);
        return 0;
    } catch (const sairing::Error &e) {
        std::fprintf(stderr, "syncd_consumer: %s (code %d)\n", e.what(), e.code());
        return 1;
    }
}
