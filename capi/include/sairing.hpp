// sairing.hpp: a header-only C++17 wrapper over sairing.h (the C ABI).
//
// - sairing::Client, sairing::Server: RAII, move-only handles over a channel.
// - sairing::ShmChannel: orchagent's side, shaped like sonic-sairedis'
//   Channel (setBuffered, flush, set, del, wait, a notification thread that
//   calls a std::function).
// - sairing::ShmSelectableChannel: syncd's side, shaped like sonic-sairedis'
//   SelectableChannel over swss::Selectable (getFd, readData, hasData,
//   hasCachedData, empty, pop, set) plus a notification send.
//
// Errors throw sairing::Error (code and message); backpressure (a full ring
// with a non-blocking client) is returned, never thrown. docs/EMBEDDING.md
// maps each call onto sairedis.
#ifndef SAIRING_HPP
#define SAIRING_HPP

#include "sairing.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace sairing {

// The types swss-common uses for the same things.
using FieldValueTuple = std::pair<std::string, std::string>;
using KeyOpFieldsValuesTuple = std::tuple<std::string, std::string, std::vector<FieldValueTuple>>;

// SAI's status codes (saistatus.h) for the statuses a response names.
constexpr int32_t SAI_STATUS_SUCCESS = 0;
constexpr int32_t SAI_STATUS_FAILURE = -1;

// A failed call: its code (SAIRING_ERR_*) and the library's detail.
class Error : public std::runtime_error {
  public:
    Error(int code, const std::string &what) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }

  private:
    int code_;
};

// A batch cut short by an error (Client::send_batch): the calls before the one
// that failed have gone; `sent()` says how many, `first_seq()` the first's
// sequence number. Send the rest again from calls[sent()] once the cause is
// mended.
class BatchError : public Error {
  public:
    BatchError(int code, const std::string &what, size_t sent, uint64_t first_seq)
        : Error(code, what), sent_(sent), first_seq_(first_seq) {}
    size_t sent() const noexcept { return sent_; }
    uint64_t first_seq() const noexcept { return first_seq_; }

  private:
    size_t sent_;
    uint64_t first_seq_;
};

namespace detail {
inline sairing_str str(const std::string &s) { return sairing_str{s.data(), s.size()}; }
inline std::string copy(sairing_str s) { return s.len ? std::string(s.ptr, s.len) : std::string(); }

// Whether `code` is an error to throw (backpressure, SAIRING_ERR_FULL, is not).
inline bool failed(int code) { return code < 0 && code != SAIRING_ERR_FULL; }

// What an error says: the call, the code's meaning and the library's detail.
inline std::string message(int code, const char *call) {
    return std::string(call) + ": " + sairing_strerror(code) + ": " + sairing_last_error();
}

// Throws for an error code; returns the others (OK, SENT, EMPTY, FULL).
inline int check(int code, const char *call) {
    if (failed(code)) throw Error(code, message(code, call));
    return code;
}

inline std::vector<sairing_attr> attrs(const std::vector<FieldValueTuple> &values) {
    std::vector<sairing_attr> v;
    v.reserve(values.size());
    for (const auto &fv : values) v.push_back(sairing_attr{str(fv.first), str(fv.second)});
    return v;
}

inline std::vector<FieldValueTuple> fields(const sairing_attr *a, size_t n) {
    std::vector<FieldValueTuple> v;
    v.reserve(n);
    for (size_t i = 0; i < n; i++) v.emplace_back(copy(a[i].name), copy(a[i].value));
    return v;
}

// sairedis' command names and the ops they carry.
inline uint8_t op_of(const std::string &command) {
    static const std::pair<const char *, uint8_t> ops[] = {
        {"create", SAIRING_OP_CREATE},         {"remove", SAIRING_OP_REMOVE},
        {"set", SAIRING_OP_SET},               {"get", SAIRING_OP_GET},
        {"bulkcreate", SAIRING_OP_BULK_CREATE}, {"bulkremove", SAIRING_OP_BULK_REMOVE},
        {"bulkset", SAIRING_OP_BULK_SET},       {"bulkget", SAIRING_OP_BULK_GET},
        {"notify", SAIRING_OP_NOTIFY},         {"flush", SAIRING_OP_FLUSH},
    };
    for (const auto &o : ops)
        if (command == o.first) return o.second;
    throw Error(SAIRING_ERR_INVALID, "sairing: no request command '" + command + "'");
}

inline std::string command_of(uint8_t op) {
    static const char *names[] = {"",           "create",     "remove",  "set",    "get",  "bulkcreate",
                                  "bulkremove", "bulkset",    "bulkget", "notify", "flush"};
    return op < sizeof names / sizeof names[0] ? names[op] : "";
}

// The response command sairedis answers each request command with.
inline std::string response_command(uint8_t op) {
    switch (op) {
    case SAIRING_OP_GET:
    case SAIRING_OP_BULK_GET: return "getresponse";
    case SAIRING_OP_NOTIFY: return "notifyresponse";
    case SAIRING_OP_FLUSH: return "flushresponse";
    default: return "response";
    }
}

// SAI_STATUS_<NAME> as saistatus.h numbers it (the common ones; any other
// failure is SAI_STATUS_FAILURE).
inline int32_t status_code(const std::string &s) {
    static const std::pair<const char *, int32_t> codes[] = {
        {"SAI_STATUS_SUCCESS", 0},
        {"SAI_STATUS_FAILURE", -1},
        {"SAI_STATUS_NOT_SUPPORTED", -2},
        {"SAI_STATUS_NO_MEMORY", -3},
        {"SAI_STATUS_INSUFFICIENT_RESOURCES", -4},
        {"SAI_STATUS_INVALID_PARAMETER", -5},
        {"SAI_STATUS_ITEM_ALREADY_EXISTS", -6},
        {"SAI_STATUS_ITEM_NOT_FOUND", -7},
        {"SAI_STATUS_BUFFER_OVERFLOW", -8},
        {"SAI_STATUS_INVALID_PORT_NUMBER", -9},
        {"SAI_STATUS_INVALID_PORT_MEMBER", -10},
        {"SAI_STATUS_INVALID_VLAN_ID", -11},
        {"SAI_STATUS_UNINITIALIZED", -12},
        {"SAI_STATUS_TABLE_FULL", -13},
        {"SAI_STATUS_MANDATORY_ATTRIBUTE_MISSING", -14},
        {"SAI_STATUS_NOT_IMPLEMENTED", -15},
        {"SAI_STATUS_ADDR_NOT_FOUND", -16},
        {"SAI_STATUS_OBJECT_IN_USE", -17},
    };
    for (const auto &c : codes)
        if (s == c.first) return c.second;
    return SAI_STATUS_FAILURE;
}
} // namespace detail

// A response, copied out of the client.
struct Response {
    uint64_t seq = 0;
    uint8_t op = 0;
    std::string status;
    std::vector<FieldValueTuple> attrs;
    std::vector<std::string> statuses;

    static Response from(const sairing_response &r) {
        Response out;
        out.seq = r.seq;
        out.op = r.op;
        out.status = detail::copy(r.status);
        out.attrs = detail::fields(r.attrs, r.attr_count);
        for (size_t i = 0; i < r.status_count; i++) out.statuses.push_back(detail::copy(r.statuses[i]));
        return out;
    }
};

// A channel's client: move-only; closing detaches.
class Client {
  public:
    Client(const std::string &dir, const sairing_client_options &opts = sairing_client_options{}) {
        detail::check(sairing_client_open(dir.c_str(), &opts, &h_), "sairing_client_open");
    }
    Client(Client &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    Client &operator=(Client &&o) noexcept {
        if (this != &o) {
            sairing_client_close(h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    ~Client() { sairing_client_close(h_); }

    // Sends without waiting for the answer: its sequence number, or 0 when a
    // non-blocking client found the ring full (backpressure).
    uint64_t send(uint8_t op, const std::string &key, const std::vector<FieldValueTuple> &values) {
        auto a = detail::attrs(values);
        uint64_t seq = 0;
        int rc = detail::check(sairing_client_send(h_, op, detail::str(key), a.data(), a.size(), &seq),
                               "sairing_client_send");
        return rc == SAIRING_ERR_FULL ? 0 : seq;
    }

    // Sends a bulk request: objects are (id, attributes).
    uint64_t send_bulk(uint8_t op, const std::string &object_type,
                       const std::vector<std::pair<std::string, std::vector<FieldValueTuple>>> &objects) {
        std::vector<std::vector<sairing_attr>> keep;
        keep.reserve(objects.size());
        std::vector<sairing_object> objs;
        objs.reserve(objects.size());
        for (const auto &o : objects) {
            keep.push_back(detail::attrs(o.second));
            objs.push_back(sairing_object{detail::str(o.first), keep.back().data(), keep.back().size()});
        }
        uint64_t seq = 0;
        int rc = detail::check(
            sairing_client_send_bulk(h_, op, detail::str(object_type), objs.data(), objs.size(), &seq),
            "sairing_client_send_bulk");
        return rc == SAIRING_ERR_FULL ? 0 : seq;
    }

    // One request of a batch.
    struct Call {
        uint8_t op;
        std::string key;
        std::vector<FieldValueTuple> values;
    };

    // Sends `calls` in one go, with one wake-up check at the end
    // (sairing_client_send_batch): how many went, all of them unless the
    // ring was full (backpressure, for a non-blocking client or one whose
    // wait for space timed out: send the rest again). The first's sequence
    // number goes to `first_seq`; the others follow it. Any other error (a
    // string that is not UTF-8 is SAIRING_ERR_INVALID) throws BatchError,
    // which says how many went.
    size_t send_batch(const std::vector<Call> &calls, uint64_t *first_seq = nullptr) {
        std::vector<std::vector<sairing_attr>> keep;
        keep.reserve(calls.size());
        std::vector<sairing_call> c;
        c.reserve(calls.size());
        for (const auto &x : calls) {
            keep.push_back(detail::attrs(x.values));
            c.push_back(sairing_call{x.op, detail::str(x.key), keep.back().data(), keep.back().size()});
        }
        uint64_t first = 0;
        size_t sent = 0;
        int rc = sairing_client_send_batch(h_, c.data(), c.size(), &first, &sent);
        if (first_seq) *first_seq = first;
        if (detail::failed(rc)) throw BatchError(rc, detail::message(rc, "sairing_client_send_batch"), sent, first);
        return sent;
    }

    // The answer to `seq`; throws Error(SAIRING_ERR_TIMEOUT) when it does not
    // come in time (the request is still in the ring and will run).
    Response wait(uint64_t seq, int64_t timeout_ms = -1) {
        sairing_response r;
        detail::check(sairing_client_wait(h_, seq, timeout_ms, &r), "sairing_client_wait");
        return Response::from(r);
    }

    // The next notification within `timeout_ms`: (name, payload), or false.
    bool next_notification(int64_t timeout_ms, std::string &name, std::string &payload) {
        sairing_notification n;
        if (detail::check(sairing_client_next_notification(h_, timeout_ms, &n),
                          "sairing_client_next_notification") != SAIRING_OK)
            return false;
        name = detail::copy(n.name);
        payload = detail::copy(n.payload);
        return true;
    }

    void wait_all(int64_t timeout_ms = -1) {
        detail::check(sairing_client_wait_all(h_, timeout_ms), "sairing_client_wait_all");
    }
    int fd() const { return detail::check(sairing_client_fd(h_), "sairing_client_fd"); }
    bool connected() const { return detail::check(sairing_client_connected(h_), "sairing_client_connected") == 1; }
    sairing_client *handle() const noexcept { return h_; }

  private:
    sairing_client *h_ = nullptr;
};

// A request taken by a server, copied out of it.
struct Request {
    uint8_t op = 0;
    sairing_ticket ticket{};
    uint64_t record_seq = 0;
    std::string key;
    std::vector<FieldValueTuple> attrs;
    std::vector<std::pair<std::string, std::vector<FieldValueTuple>>> objects;
};

// A channel's server: move-only; closing stops listening.
class Server {
  public:
    Server(const std::string &dir, const sairing_server_options &opts = sairing_server_options{}) {
        detail::check(sairing_server_open(dir.c_str(), &opts, &h_), "sairing_server_open");
    }
    Server(Server &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    Server &operator=(Server &&o) noexcept {
        if (this != &o) {
            sairing_server_close(h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;
    ~Server() { sairing_server_close(h_); }

    // The next request within `timeout_ms` (0: do not wait; negative: for
    // ever); false when none came. A record that does not decode is skipped
    // (and answered with a failure) and the next one looked for.
    bool recv(int64_t timeout_ms, Request &out) {
        sairing_request q;
        for (;;) {
            int rc = sairing_server_recv(h_, timeout_ms, &q);
            if (rc == SAIRING_ERR_DECODE) continue;
            if (rc == SAIRING_ERR_FULL) // answering the undecodable record
                throw Error(rc, std::string("sairing_server_recv: ") + sairing_last_error());
            if (detail::check(rc, "sairing_server_recv") != SAIRING_OK) return false;
            break;
        }
        out.op = q.op;
        out.ticket = q.ticket;
        out.record_seq = q.record_seq;
        out.key = detail::copy(q.key);
        out.attrs = detail::fields(q.attrs, q.attr_count);
        out.objects.clear();
        for (size_t i = 0; i < q.object_count; i++)
            out.objects.emplace_back(detail::copy(q.objects[i].id),
                                     detail::fields(q.objects[i].attrs, q.objects[i].attr_count));
        return true;
    }

    // Answers the request `t` came from (in request order). False: the
    // response ring stayed full for the server's timeout (backpressure: the
    // client does not read); nothing was sent, answer again later.
    bool respond(const sairing_ticket &t, const std::string &status, const std::vector<FieldValueTuple> &attrs = {},
                 const std::vector<std::string> &statuses = {}) {
        auto a = detail::attrs(attrs);
        std::vector<sairing_str> s;
        s.reserve(statuses.size());
        for (const auto &x : statuses) s.push_back(detail::str(x));
        return detail::check(sairing_server_respond(h_, &t, detail::str(status), a.data(), a.size(), s.data(),
                                                    s.size()),
                             "sairing_server_respond") == SAIRING_OK;
    }

    // Publishes a notification; false on backpressure, as for respond().
    bool notify(const std::string &name, const std::string &payload) {
        return detail::check(sairing_server_notify(h_, detail::str(name), detail::str(payload)),
                             "sairing_server_notify") == SAIRING_OK;
    }
    void set_auto_release(bool on) {
        detail::check(sairing_server_set_auto_release(h_, on), "sairing_server_set_auto_release");
    }
    void release_through(uint64_t record_seq) {
        detail::check(sairing_server_release_through(h_, record_seq), "sairing_server_release_through");
    }
    int fd() const { return detail::check(sairing_server_fd(h_), "sairing_server_fd"); }
    sairing_server *handle() const noexcept { return h_; }

  private:
    sairing_server *h_ = nullptr;
};

// orchagent's side, shaped like sairedis' Channel: requests go out as
// set/del; wait() takes the answer to the last request sent; a thread
// delivers notifications to the callback. The client is shared by the
// caller's thread and the notification thread under one lock.
class ShmChannel {
  public:
    using Callback = std::function<void(const std::string &, const std::string &, const std::vector<FieldValueTuple> &)>;

    ShmChannel(const std::string &dir, Callback callback, const sairing_client_options &opts = sairing_client_options{})
        : client_(dir, opts), fd_(client_.fd()), callback_(std::move(callback)),
          timeout_ms_(opts.timeout_ms ? int64_t(opts.timeout_ms) : 30000) {
        thread_ = std::thread([this] { notification_loop(); });
    }
    ~ShmChannel() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    ShmChannel(const ShmChannel &) = delete;
    ShmChannel &operator=(const ShmChannel &) = delete;

    // Buffered or not, a set() is in the ring (which outlives both daemons)
    // when it returns, and never waits for its answer: sairedis' synchronous
    // mode is set() then wait(). Kept for sairedis' shape.
    void setBuffered(bool buffered) { buffered_ = buffered; }
    bool buffered() const { return buffered_; }
    // Nothing is held back in this object, so there is nothing to flush.
    void flush() {}

    // `command` is sairedis' ("create", "set", "get", "notify", ...).
    // False on backpressure (a non-blocking client's ring is full): nothing
    // was sent. Rethrows what stopped the notification thread, if anything.
    bool set(const std::string &key, const std::vector<FieldValueTuple> &values, const std::string &command) {
        std::lock_guard<std::mutex> g(lock_);
        rethrow();
        uint64_t seq = client_.send(detail::op_of(command), key, values);
        if (seq == 0) return false;
        last_ = seq;
        return true;
    }
    bool del(const std::string &key, const std::string &command) { return set(key, {}, command); }

    // The answer to the last request sent: kco's key is its status, its op
    // the response command ("getresponse", ...), its fields the attributes (a
    // get's values, or a bulk call's statuses as ("", status) pairs). Returns
    // the status as SAI numbers it. Throws Error(SAIRING_ERR_TIMEOUT) when it
    // does not come in time: the request is still in the ring and will run.
    int32_t wait(const std::string &command, KeyOpFieldsValuesTuple &kco) {
        (void)command;
        // In slices, the lock dropped in between: the notification thread
        // keeps delivering while this waits.
        Response r;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
        for (;;) {
            std::unique_lock<std::mutex> g(lock_);
            rethrow();
            try {
                r = client_.wait(last_, 20);
                break;
            } catch (const Error &e) {
                if (e.code() != SAIRING_ERR_TIMEOUT || std::chrono::steady_clock::now() >= deadline) throw;
            }
            g.unlock();
            // Long enough for the notification thread, if it waits for the
            // lock, to take it (a mutex is not fair).
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::vector<FieldValueTuple> fvs = r.attrs;
        for (const auto &s : r.statuses) fvs.emplace_back("", s);
        kco = KeyOpFieldsValuesTuple(r.status, detail::response_command(r.op), std::move(fvs));
        return detail::status_code(r.status);
    }

  private:
    // Delivers notifications until the channel is destroyed. Nothing thrown
    // here may escape the thread (std::terminate): a record that does not
    // decode is skipped; a connection the client cannot make (a refused
    // handshake, kept by the client for its next call) is handed to the
    // caller's next set() or wait() and the thread goes on (the client tries
    // again every 20 ms; notifications in the ring are delivered meanwhile);
    // any other error, and anything the callback throws, stops the thread and
    // is rethrown to the caller's next set() or wait().
    void notification_loop() {
        try {
            while (!stop_) {
                std::string name, payload;
                bool got = false, sleep = false;
                int sock = -1;
                {
                    std::lock_guard<std::mutex> g(lock_);
                    try {
                        got = client_.next_notification(0, name, payload);
                    } catch (const Error &e) {
                        if (e.code() != SAIRING_ERR_DECODE) throw;
                        continue;
                    }
                    if (!got) {
                        int rc = sairing_client_prepare_to_wait(client_.handle(), &sleep);
                        // Refused: look again in 20 ms, as when unconnected.
                        if (!connection_ok(rc, "sairing_client_prepare_to_wait")) sleep = true;
                        sock = sairing_client_socket_fd(client_.handle());
                    }
                }
                if (got) {
                    callback_(name, payload, {});
                    continue;
                }
                if (sleep) {
                    // At most 100 ms: a wait() on the caller's thread meanwhile
                    // may end the announced sleep, and then nothing rings this one.
                    struct pollfd p[2] = {{fd_, POLLIN, 0}, {sock, POLLIN, 0}};
                    ::poll(p, sock >= 0 ? 2 : 1, sock >= 0 ? 100 : 20);
                }
                std::lock_guard<std::mutex> g(lock_);
                connection_ok(sairing_client_after_wake(client_.handle()), "sairing_client_after_wake");
            }
        } catch (...) {
            std::lock_guard<std::mutex> g(lock_);
            failed_ = std::current_exception();
        }
    }

    // With the lock held, on the notification thread: whether `code` is not
    // an error. A refused connection is kept for the caller (the first one,
    // until the caller has heard of it); other errors throw.
    bool connection_ok(int code, const char *call) {
        if (code != SAIRING_ERR_REFUSED) {
            detail::check(code, call);
            return true;
        }
        if (!failed_) failed_ = std::make_exception_ptr(Error(code, detail::message(code, call)));
        return false;
    }

    // With the lock held: what stopped the notification thread, or the
    // connection it could not make, once.
    void rethrow() {
        if (failed_) std::rethrow_exception(std::exchange(failed_, nullptr));
    }

    Client client_;
    int fd_; // the client's descriptor, the same for its life
    Callback callback_;
    int64_t timeout_ms_;
    std::exception_ptr failed_;
    std::mutex lock_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    bool buffered_ = false;
    uint64_t last_ = 0;
};

// syncd's side, shaped like sairedis' SelectableChannel over swss::Selectable:
// a loop selects on getFd(), calls readData() (which drains the descriptor:
// swss::Select is level-triggered), then pops while !empty(), answering each
// request with set(). Requests are answered in order: set() answers the
// oldest popped request not answered yet.
//
// A request's ring space is freed when it is answered (syncd applies a request
// before it answers it): a consumer killed with requests popped and not
// answered sees them again when it restarts. setReleaseOnAnswer(false) frees
// space as requests are read instead (the C API's auto-release).
class ShmSelectableChannel {
  public:
    explicit ShmSelectableChannel(const std::string &dir, const sairing_server_options &opts = sairing_server_options{})
        : server_(dir, opts) {
        server_.set_auto_release(false);
        // Requests already waiting (sent while no server ran) are cached, and
        // the first select is announced, so that the client rings it.
        readData();
    }

    int getFd() { return server_.fd(); }

    // After the descriptor fired: drains it, then looks for requests. Returns
    // 0 (swss's convention: nothing to report).
    uint64_t readData() {
        detail::check(sairing_server_after_wake(server_.handle()), "sairing_server_after_wake");
        // Return only with the next sleep announced, so that the client rings
        // for what it sends next: prepare_to_wait withdraws the announcement
        // when requests are already there, and they are taken first.
        bool sleep = false;
        do {
            fill();
            detail::check(sairing_server_prepare_to_wait(server_.handle(), &sleep),
                          "sairing_server_prepare_to_wait");
        } while (!sleep);
        return 0;
    }

    bool hasData() { return !cache_.empty(); }
    bool hasCachedData() { return !cache_.empty(); }
    bool empty() {
        if (cache_.empty()) fill();
        return cache_.empty();
    }

    // The next request as sairedis' kco: key, command, attributes (a bulk
    // call's objects as (id, "attr=value|attr=value") pairs, as sairedis
    // serializes them).
    void pop(KeyOpFieldsValuesTuple &kco, bool initViewMode = false) {
        (void)initViewMode;
        if (cache_.empty()) fill();
        if (cache_.empty()) throw Error(SAIRING_ERR_INVALID, "pop on an empty ShmSelectableChannel");
        Request r = std::move(cache_.front());
        cache_.pop_front();
        std::vector<FieldValueTuple> fvs = std::move(r.attrs);
        for (auto &o : r.objects) {
            std::string joined;
            for (const auto &a : o.second) {
                if (!joined.empty()) joined += '|';
                joined += a.first + '=' + a.second;
            }
            fvs.emplace_back(std::move(o.first), std::move(joined));
        }
        kco = KeyOpFieldsValuesTuple(std::move(r.key), detail::command_of(r.op), std::move(fvs));
        owed_.push_back({r.ticket, r.record_seq});
    }

    // The answer to the oldest popped request: `key` is its status, `values`
    // a get's attributes (or a bulk call's statuses as ("", status) pairs).
    // False on backpressure (the response ring stayed full): the request is
    // still owed; answer it again.
    bool set(const std::string &key, const std::vector<FieldValueTuple> &values, const std::string &op) {
        (void)op;
        if (owed_.empty()) throw Error(SAIRING_ERR_INVALID, "set with no request to answer");
        std::vector<FieldValueTuple> attrs;
        std::vector<std::string> statuses;
        for (const auto &fv : values) {
            if (fv.first.empty())
                statuses.push_back(fv.second);
            else
                attrs.push_back(fv);
        }
        if (!server_.respond(owed_.front().first, key, attrs, statuses)) return false;
        if (release_on_answer_) server_.release_through(owed_.front().second);
        owed_.pop_front();
        return true;
    }

    // Whether answering a request frees its ring space (the default), or
    // reading it does.
    void setReleaseOnAnswer(bool on) {
        if (on == release_on_answer_) return;
        server_.set_auto_release(!on);
        release_on_answer_ = on;
    }

    // A notification (sairedis' NotificationProducer::send): `op` names it,
    // `data` is its JSON.
    // False on backpressure, as for set().
    bool send(const std::string &op, const std::string &data, const std::vector<FieldValueTuple> &values = {}) {
        (void)values;
        return server_.notify(op, data);
    }

    Server &server() { return server_; }

  private:
    void fill() {
        Request r;
        while (server_.recv(0, r)) cache_.push_back(std::move(r));
    }

    Server server_;
    std::deque<Request> cache_;
    std::deque<std::pair<sairing_ticket, uint64_t>> owed_; // ticket, record_seq
    bool release_on_answer_ = true;
};

} // namespace sairing

#endif
