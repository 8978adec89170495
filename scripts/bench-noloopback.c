/* LD_PRELOAD shim for benchmarks: clears IFF_LOOPBACK from every interface getifaddrs() reports.
 * Janus (libnice) skips loopback interfaces when it gathers ICE candidates; inside a network namespace
 * that has only `lo`, this makes 127.0.0.1 an ordinary host candidate. Built and used by scripts/bench.sh
 * only, never outside such a namespace. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int getifaddrs(struct ifaddrs **ifap) {
    static int (*real)(struct ifaddrs **) = NULL;
    if (real == NULL) {
        real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
        if (real == NULL) {
            return -1;
        }
    }
    int result = real(ifap);
    if (result == 0) {
        for (struct ifaddrs *i = *ifap; i != NULL; i = i->ifa_next) {
            i->ifa_flags &= ~IFF_LOOPBACK;
        }
    }
    return result;
}
