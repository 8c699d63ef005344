// orch_producer DIR COUNT: an orchagent-like producer on sairing::ShmChannel,
// the way sairedis' Channel is used: COUNT route creates set() in buffered
// mode, then a get whose answer is waited for. Prints "routes N get STATUS".
#include <sairing.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CHANNEL_DIR COUNT\n", argv[0]);
        return 2;
    }
    long count = std::atol(argv[2]);
    try {
        sairing::ShmChannel ch(argv[1], [](const std::string &name, const std::string &data,
                                          const std::vector<sairing::FieldValueTuple> &) {
            std::printf("notification %s %s\n", name.c_str(), data.c_str());
        });
        ch.setBuffered(true);
        for (long i = 0; i < count; i++) {
            std::string key = "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10." + std::to_string((i >> 8) & 255) + "." +
                              std::to_string(i & 255) +
                              ".0/24\",\"switch_id\":\"oid:0x21000000000000\",\"vr\":\"oid:0x3000000000022\"}";
            ch.set(key, {{"SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x4000000000001"}}, "create");
        }
        ch.set("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", {{"SAI_SWITCH_ATTR_PORT_NUMBER", "0"}}, "get");
        sairing::KeyOpFieldsValuesTuple kco;
        int32_t status = ch.wait("get", kco);
        std::printf("routes %ld get %s\n", count, std::get<0>(kco).c_str());
        return status == sairing::SAI_STATUS_SUCCESS ? 0 : 1;
    } catch (const sairing::Error &e) {
        std::fprintf(stderr, "orch_producer: %s (code %d)\n", e.what(), e.code());
        return 1;
    }
}
