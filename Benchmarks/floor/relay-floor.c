// The floor under any relay on this machine: what one read and one write per delivered message
// cost on loopback TCP, with nothing else done. `relay` pairs up the connections it accepts and
// copies whatever one of a pair sends to the other (one read(2), one write(2)); `drive` opens the
// pairs and sends fixed-size messages on every connection at a given rate, like relay-bench's
// `relay` scenario with two-player rooms: every connection at its own phase, evenly spaced where
// relay-bench draws them at random (or, given
// a grid, woken only on grid points, like relay-bench's --send-grid-us). The relay prints its CPU
// per delivered message, read from getrusage over the time messages flowed.
//
//   cc -O2 -o relay-floor relay-floor.c
//   taskset -c 1 ./relay-floor relay 8600 &
//   taskset -c 0 ./relay-floor drive 8600 500 30 20 198    # pairs, Hz, seconds, message bytes[, grid µs]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec
        + usage.ru_stime.tv_usec / 1e6;
}

static long long now_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int compare_longs(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int relay(int port) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) die("bind");
    if (listen(listener, 4096) < 0) die("listen");
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);

    enum { maxFDs = 1 << 17 };
    static int peer[maxFDs];
    int waiting = -1, open = 0;
    long deliveries = 0;
    double firstAt = 0, cpuAtFirst = 0;
    static char buffer[65536];
    struct epoll_event events[256];
    for (;;) {
        int ready = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client = accept(listener, NULL, NULL);
                if (client < 0 || client >= maxFDs) continue;
                no_delay(client);
                struct epoll_event clientEvent = {.events = EPOLLIN, .data.fd = client};
                epoll_ctl(epoll, EPOLL_CTL_ADD, client, &clientEvent);
                open++;
                if (waiting < 0) {
                    waiting = client;
                    peer[client] = -1;
                } else {
                    peer[client] = waiting;
                    peer[waiting] = client;
                    waiting = -1;
                }
                continue;
            }
            ssize_t count = read(fd, buffer, sizeof buffer);
            if (count <= 0) {
                close(fd);
                if (--open == 0 && deliveries > 0) {
                    double cpu = cpu_seconds() - cpuAtFirst, wall = now_seconds() - firstAt;
                    printf("relay-floor: %ld deliveries in %.1f s, CPU %.2f s (%.0f%% of one core), "
                           "%.2f µs per delivery\n",
                        deliveries, wall, cpu, 100 * cpu / wall, 1e6 * cpu / deliveries);
                    return 0;
                }
                continue;
            }
            if (deliveries == 0) {
                firstAt = now_seconds();
                cpuAtFirst = cpu_seconds();
            }
            if (peer[fd] >= 0 && write(peer[fd], buffer, count) == count) deliveries++;
        }
    }
}

static int drive(int port, int pairs, int hz, int seconds, int size, long gridMicros) {
    int connections = 2 * pairs;
    int *fds = calloc(connections, sizeof(int));
    int epoll = epoll_create1(0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < connections; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&address, sizeof address) < 0) die("connect");
        no_delay(fds[i]);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fds[i], &event);
    }
    usleep(200000);  // let the relay pair everyone up
    if (size < 8) size = 8;
    char *message = malloc(size), buffer[65536];
    memset(message, 'x', size);
    // Each message starts with the time it was due (ns), so that a driver falling behind cannot
    // hide its own delay (its send lag is printed apart); each connection's partial message is
    // kept until the rest arrives, so every delivery's latency is recorded, as relay-bench does.
    char *partial = calloc(connections, size);
    int *partialBytes = calloc(connections, sizeof(int));
    long capacity = 1 << 20, latencies = 0, lagCapacity = 1 << 20, lags = 0;
    long long *latency = malloc(capacity * sizeof(long long)), *lag = malloc(lagCapacity * sizeof(long long));
    // Connection i sends at (round + i / connections) / hz seconds: every connection at its own
    // phase, evenly spaced (relay-bench draws its phases at random; BENCHMARKS.md). With a grid, the driver wakes only on grid points and
    // sends everything due by then (relay-bench's --send-grid-us). After the sends, it waits up
    // to a second for what is still in flight (relay-bench's --drain); what has not come is lost.
    double period = 1.0 / hz, start = now_seconds(), end = start + seconds, cpuAtStart = cpu_seconds();
    long long startNanos = (long long)(start * 1e9);
    long sent = 0, received = 0, round = 0;
    int cursor = 0;
    struct epoll_event events[256];
    for (double now = start; now < end + 1.0 && (now < end || received < sent); now = now_seconds()) {
        // With a grid, only what was due by the last grid point passed goes out: the driver
        // also wakes for every message it receives, and must not send between grid points.
        double sendUpTo = now - start;
        if (gridMicros > 0) sendUpTo = floor(sendUpTo / (gridMicros / 1e6)) * (gridMicros / 1e6);
        double due = (round + (double)cursor / connections) * period;
        while (due <= sendUpTo && due < seconds) {
            long long dueAt = startNanos + (long long)(due * 1e9);
            memcpy(message, &dueAt, sizeof dueAt);
            if (write(fds[cursor], message, size) == size) sent++;
            if (lags == lagCapacity) lag = realloc(lag, (lagCapacity *= 2) * sizeof(long long));
            lag[lags++] = now_nanos() - dueAt;
            if (++cursor == connections) {
                cursor = 0;
                round++;
            }
            due = (round + (double)cursor / connections) * period;
        }
        double wait = due < seconds ? due - (now - start) : 0.01;  // draining: look every 10 ms
        if (gridMicros > 0 && due < seconds) {
            double grid = gridMicros / 1e6;
            wait = ceil(due / grid) * grid - (now - start);
        }
        if (wait < 0) wait = 0;
        struct timespec timeout = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
        int ready = epoll_pwait2(epoll, events, 256, &timeout, NULL);
        for (int i = 0; i < ready; i++) {
            int connection = (int)events[i].data.u32;
            ssize_t count = read(fds[connection], buffer, sizeof buffer);
            long long receivedAt = now_nanos();
            for (ssize_t offset = 0; offset < count;) {
                int take = size - partialBytes[connection];
                if (take > count - offset) take = (int)(count - offset);
                memcpy(partial + (long)connection * size + partialBytes[connection], buffer + offset, take);
                partialBytes[connection] += take;
                offset += take;
                if (partialBytes[connection] < size) break;
                partialBytes[connection] = 0;
                long long sentAt;
                memcpy(&sentAt, partial + (long)connection * size, sizeof sentAt);
                if (latencies == capacity) latency = realloc(latency, (capacity *= 2) * sizeof(long long));
                latency[latencies++] = receivedAt - sentAt;
                received++;
            }
        }
    }
    double cpu = cpu_seconds() - cpuAtStart;
    printf("drive: %d pairs at %d Hz for %d s (grid %ld µs): sent %ld, received %ld, lost %ld; own CPU %.2f s, "
           "%.2f µs per message sent and received\n",
        pairs, hz, seconds, gridMicros, sent, received, sent - received, cpu, 1e6 * cpu / sent);
    if (latencies > 0) {
        qsort(latency, latencies, sizeof(long long), compare_longs);
        #define AT(q) (latency[(long)((q) * (latencies - 1))] / 1e6)
        printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%s\n", AT(0.5), AT(0.9), AT(0.99),
            AT(0.999), latency[latencies - 1] / 1e6, sent > received ? " (of those received)" : "");
    }
    if (lags > 0) {
        qsort(lag, lags, sizeof(long long), compare_longs);
        printf("send lag ms: p99 %.2f  max %.2f (part of each latency)\n", lag[(long)(0.99 * (lags - 1))] / 1e6,
            lag[lags - 1] / 1e6);
    }
    for (int i = 0; i < connections; i++) close(fds[i]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "relay") == 0) return relay(atoi(argv[2]));
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "drive") == 0)
        return drive(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argc == 8 ? atol(argv[7]) : 0);
    fprintf(stderr, "usage: relay-floor relay PORT | drive PORT PAIRS HZ SECONDS BYTES [GRID_MICROS]\n");
    return 2;
}
