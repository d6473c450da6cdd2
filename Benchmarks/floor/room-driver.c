// A load generator for the room relay that costs as little as a client can: plain C, one epoll
// loop, one read(2) per wake-up and one write(2) per message, no allocation while it runs (below
// a million deliveries, when the latency array grows).
//
// It speaks the protocol as relay-bench's `relay` scenario does (two-player rooms: one player
// opens a room on /ws/room/new with create_room, the other joins it by its code; then everyone
// sends masked `player_state` frames carrying the time `t` each was due in microseconds, each at
// its own fixed rate and random phase) and records, for every `player_state_update` that comes
// back, now − t: a send the driver was late with counts its lateness, as in relay-bench. What it adds is little CPU of its own on its core, so the latency it records is mostly
// the server's and the kernel's, not the load generator's own backlog: relay-bench, built on NIO,
// costs about what the server does per delivery, and at 500 rooms both sit near 80 % of a core.
//
//   cc -O2 -o room-driver room-driver.c -lm
//   taskset -c 0 ./room-driver PORT ROOMS HZ SECONDS [SERVER_PID]
//
// With SERVER_PID it also reports the server's CPU per delivery (utime + stime from /proc).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
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

enum { inboxBytes = 8192 };

struct connection {
    int fd;
    uint8_t mask[4];
    double phase;        // seconds into each period at which this connection sends
    int inboxUsed;       // bytes of a partial frame kept for the next read
    uint8_t inbox[inboxBytes];
};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static long long now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static double now_seconds(void) { return now_micros() / 1e6; }

static double own_cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/// utime + stime of a process, in seconds, or -1.
static double process_cpu_seconds(int pid) {
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = 0;
    char *field = strrchr(text, ')');  // the command name may hold spaces
    if (!field) return -1;
    unsigned long utime = 0, stime = 0;
    // After ")": state(3) ... utime is field 14, stime 15.
    if (sscanf(field + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static int compare_longs(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The latency of nearest rank ceil(q * n) among n sorted ones, in ms: as relay-bench's histogram
   reads a percentile (p99 of 480 is the 476th, not the 475th). */
static double latency_at(const long long *sorted, long n, double q) {
    long rank = (long)ceil(q * (double)n - 1e-9);
    return sorted[rank < 1 ? 0 : rank - 1] / 1e3;
}

static void write_all(int fd, const void *bytes, size_t count) {
    const char *cursor = bytes;
    while (count > 0) {
        ssize_t written = write(fd, cursor, count);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) die("write");
        cursor += written;
        count -= (size_t)written;
    }
}

/// A masked client frame (RFC 6455 §5.3) of `opcode` with `payload`, into `frame`; returns its size.
static size_t client_frame(uint8_t *frame, uint8_t opcode, const uint8_t mask[4], const char *payload, size_t length) {
    size_t header = 0;
    frame[header++] = 0x80 | opcode;
    if (length < 126) {
        frame[header++] = 0x80 | (uint8_t)length;
    } else {
        frame[header++] = 0x80 | 126;
        frame[header++] = (uint8_t)(length >> 8);
        frame[header++] = (uint8_t)length;
    }
    memcpy(frame + header, mask, 4);
    header += 4;
    for (size_t i = 0; i < length; i++) frame[header + i] = (uint8_t)payload[i] ^ mask[i & 3];
    return header + length;
}

static void send_text(struct connection *c, const char *text, size_t length) {
    uint8_t frame[512];
    write_all(c->fd, frame, client_frame(frame, 0x1, c->mask, text, length));
}

/// Finds `needle` in the first `length` bytes of `bytes`.
static const uint8_t *find(const uint8_t *bytes, size_t length, const char *needle) {
    return memmem(bytes, length, needle, strlen(needle));
}

/// Opens a WebSocket on `path` (blocking): the upgrade request, then its response read whole.
static void open_socket(struct connection *c, int port, const char *path) {
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&address, sizeof address) < 0) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char request[512];
    int length = snprintf(request, sizeof request,
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        path, port);
    write_all(c->fd, request, (size_t)length);
    // The server says nothing after its 101 until the client speaks, so the response ends the bytes.
    int used = 0;
    while (!find(c->inbox, (size_t)used, "\r\n\r\n")) {
        ssize_t count = read(c->fd, c->inbox + used, inboxBytes - used);
        if (count <= 0) die("upgrade response");
        used += (int)count;
    }
    if (!find(c->inbox, (size_t)used, " 101 ")) {
        fprintf(stderr, "upgrade refused: %.*s\n", used, (char *)c->inbox);
        exit(1);
    }
    c->inboxUsed = 0;
}

/// Whether `available` bytes hold a whole server frame (unmasked, at most 64 KB), and where its
/// payload starts (`*header`) and how long it is (`*length`).
static int whole_frame(const uint8_t *frame, int available, size_t *header, size_t *length) {
    if (available < 2) return 0;
    *length = frame[1] & 0x7f;
    *header = 2;
    if (*length == 126) {
        if (available < 4) return 0;
        *length = (size_t)frame[2] << 8 | frame[3];
        *header = 4;
    } else if (*length == 127) {
        fprintf(stderr, "frame too large for the driver\n");
        exit(1);
    }
    return (size_t)available >= *header + *length;
}

/// Blocks until a text frame containing `marker` arrives; copies that frame's payload to `out`.
static void await_text(struct connection *c, const char *marker, char *out, size_t outBytes) {
    for (;;) {
        uint8_t *bytes = c->inbox;
        int used = c->inboxUsed;
        size_t header, length;
        while (whole_frame(bytes, used, &header, &length)) {
            int matched = (bytes[0] & 0x0f) == 0x1 && find(bytes + header, length, marker);
            if (matched) {
                size_t copy = length < outBytes - 1 ? length : outBytes - 1;
                memcpy(out, bytes + header, copy);
                out[copy] = 0;
            }
            memmove(bytes, bytes + header + length, (size_t)used - header - length);
            used -= (int)(header + length);
            c->inboxUsed = used;
            if (matched) return;
        }
        ssize_t count = read(c->fd, bytes + used, inboxBytes - used);
        if (count <= 0) die("await_text");
        c->inboxUsed = used + (int)count;
    }
}

/// The string value of `"key":"…"` in `json`, into `out`.
static int string_field(const char *json, const char *key, char *out, size_t outBytes) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (!start) return 0;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (!end || (size_t)(end - start) >= outBytes) return 0;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = 0;
    return 1;
}

struct tally {
    long long *latency;  // microseconds, one per delivery counted
    long capacity, count;
    long long windowStart;  // messages sent before this are not counted
};

static void record(struct tally *tally, long long sentAt, long long receivedAt) {
    if (sentAt < tally->windowStart) return;
    if (tally->count == tally->capacity) {
        tally->capacity *= 2;
        tally->latency = realloc(tally->latency, (size_t)tally->capacity * sizeof(long long));
    }
    tally->latency[tally->count++] = receivedAt - sentAt;
}

/// Handles every whole frame in the connection's inbox: a `player_state_update` is timed, a ping
/// answered; what is left of a partial frame stays for the next read.
static void consume_frames(struct connection *c, struct tally *tally, long long receivedAt) {
    uint8_t *bytes = c->inbox;
    int used = c->inboxUsed, offset = 0;
    size_t header, length;
    while (whole_frame(bytes + offset, used - offset, &header, &length)) {
        const uint8_t *frame = bytes + offset;
        const uint8_t *payload = frame + header;
        uint8_t opcode = frame[0] & 0x0f;
        if (opcode == 0x1 && find(payload, length < 48 ? length : 48, "player_state_update")) {
            const uint8_t *t = find(payload, length, "\"t\":");
            if (t) record(tally, strtoll((const char *)t + 4, NULL, 10), receivedAt);
        } else if (opcode == 0x9) {  // ping: answer with the same payload
            uint8_t pong[160];
            if (length <= 125) write_all(c->fd, pong, client_frame(pong, 0xA, c->mask, (const char *)payload, length));
        }
        offset += (int)(header + length);
    }
    if (offset > 0) memmove(bytes, bytes + offset, (size_t)(used - offset));
    c->inboxUsed = used - offset;
}

static int compare_phases(const void *a, const void *b) {
    double x = (*(struct connection *const *)a)->phase, y = (*(struct connection *const *)b)->phase;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: room-driver PORT ROOMS HZ SECONDS [SERVER_PID]\n");
        return 2;
    }
    int port = atoi(argv[1]), rooms = atoi(argv[2]), hz = atoi(argv[3]), seconds = atoi(argv[4]);
    int serverPID = argc == 6 ? atoi(argv[5]) : 0;
    int count = 2 * rooms;
    struct connection *connections = calloc((size_t)count, sizeof *connections);
    srand48(now_micros());

    // Set-up, one room at a time: the opener creates, the guest joins by the code it got.
    for (int room = 0; room < rooms; room++) {
        struct connection *host = &connections[2 * room], *guest = host + 1;
        for (struct connection *c = host; c <= guest; c++) {
            uint32_t key = (uint32_t)mrand48() | 1;
            memcpy(c->mask, &key, 4);
        }
        char reply[1024], code[16], path[64], text[256];
        open_socket(host, port, "/ws/room/new");
        int length = snprintf(text, sizeof text,
            "{\"type\":\"create_room\",\"room_name\":\"bench\",\"player_name\":\"h%d\",\"max_players\":2}", room);
        send_text(host, text, (size_t)length);
        await_text(host, "\"room_created\"", reply, sizeof reply);
        if (!string_field(reply, "room_id", code, sizeof code)) die("room_created without room_id");
        snprintf(path, sizeof path, "/ws/room/%s", code);
        open_socket(guest, port, path);
        length = snprintf(text, sizeof text, "{\"type\":\"join_room\",\"room_id\":\"%s\",\"player_name\":\"g%d\"}", code, room);
        send_text(guest, text, (size_t)length);
        await_text(guest, "\"room_joined\"", reply, sizeof reply);
    }

    int epoll = epoll_create1(0);
    struct connection **order = malloc((size_t)count * sizeof *order);
    double period = 1.0 / hz;
    for (int i = 0; i < count; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &connections[i]};
        epoll_ctl(epoll, EPOLL_CTL_ADD, connections[i].fd, &event);
        connections[i].phase = drand48() * period;
        order[i] = &connections[i];
    }
    // Sends go out in phase order, round after round: each connection at its own fixed rate.
    qsort(order, (size_t)count, sizeof *order, compare_phases);

    struct tally tally = {.capacity = 1 << 20};
    tally.latency = malloc((size_t)tally.capacity * sizeof(long long));
    double serverBefore = serverPID ? process_cpu_seconds(serverPID) : -1, ownBefore = own_cpu_seconds();
    // Every send due within `seconds` goes out, late if the driver was held up (as relay-bench
    // catches up); then it waits a second (ROOM_DRIVER_DRAIN_SECONDS, for a test on a loaded
    // machine) for what is still in flight, or until everything sent has come back.
    const char *drainSetting = getenv("ROOM_DRIVER_DRAIN_SECONDS");
    double drain = drainSetting ? atof(drainSetting) : 1;
    double start = now_seconds(), drainUntil = start + seconds + drain;
    tally.windowStart = now_micros();
    long sent = 0, round = 0, sequence = 0;
    int cursor = 0;
    struct epoll_event events[256];
    for (double now = start; now < drainUntil; now = now_seconds()) {
        double due = round * period + order[cursor]->phase;
        if (due >= seconds && tally.count == sent) break;  // all sent, and all come back
        while (due < seconds && due <= now - start) {
            struct connection *c = order[cursor];
            char text[256];
            int length = snprintf(text, sizeof text,
                "{\"type\":\"player_state\",\"state\":{\"x\":%ld.123,\"y\":550.5,\"velocity_x\":1.25,\"velocity_y\":0,"
                "\"facing_right\":true,\"is_jumping\":false,\"t\":%lld,\"s\":%ld}}",
                sequence % 800, tally.windowStart + (long long)(due * 1e6), sequence);
            sequence++;
            send_text(c, text, (size_t)length);
            sent++;
            if (++cursor == count) {
                cursor = 0;
                round++;
            }
            due = round * period + order[cursor]->phase;
        }
        double wait = due < seconds ? due - (now - start) : drainUntil - now;
        if (wait < 0) wait = 0;
        struct timespec timeout = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
        int ready = epoll_pwait2(epoll, events, 256, &timeout, NULL);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            ssize_t got = read(c->fd, c->inbox + c->inboxUsed, inboxBytes - c->inboxUsed);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                fprintf(stderr, "the server closed a connection\n");
                return 1;
            }
            c->inboxUsed += (int)got;
            consume_frames(c, &tally, now_micros());
        }
    }
    double ownCPU = own_cpu_seconds() - ownBefore;
    double serverCPU = serverPID ? process_cpu_seconds(serverPID) - serverBefore : -1;

    long delivered = tally.count, lost = sent - delivered;  // two-player rooms: one recipient per send
    printf("room-driver: %d rooms x 2 @ %d Hz for %d s: sent %ld, delivered %ld, lost %ld (%.3f%%)\n", rooms, hz,
        seconds, sent, delivered, lost, sent ? 100.0 * lost / sent : 0);
    if (delivered > 0) {
        qsort(tally.latency, (size_t)delivered, sizeof(long long), compare_longs);
        const long long *sorted = tally.latency;
        printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", latency_at(sorted, delivered, 0.5),
            latency_at(sorted, delivered, 0.9), latency_at(sorted, delivered, 0.99),
            latency_at(sorted, delivered, 0.999), sorted[delivered - 1] / 1e3);
        printf("driver      CPU %.2f s, %.2f µs per delivery\n", ownCPU, 1e6 * ownCPU / delivered);
        if (serverCPU >= 0)
            printf("server      CPU %.2f s, %.2f µs per delivery\n", serverCPU, 1e6 * serverCPU / delivered);
    }
    return lost == 0 ? 0 : 3;
}
