/*
 * echo-load: a load generator for WebSocket echo servers that does not use libws (its own
 * handshake and minimal client framing), so that libws's examples, Node's ws and Python's
 * websockets are measured by the same client. Figures only, never a pass/fail test.
 *
 * Echo mode: --connections clients each keep --window binary messages of --size bytes in
 * flight; every echoed byte is checked. After --warmup seconds it counts echoed messages for
 * --duration seconds and reads the server's CPU time (utime + stime of /proc/PID/stat) at
 * both ends: messages/s and server CPU seconds per million messages.
 *
 * Idle mode (--idle): opens the connections, completes every handshake, and prints the
 * server's VmRSS (/proc/PID/status) before and after, and the difference per connection,
 * then exits (closing them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX    1024u
#define IN_SIZE     (64u * 1024u)
#define MAX_PENDING 256u /* connects whose handshake is in progress at once */

static const char KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";        /* RFC 6455's example */
static const char ACCEPT[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; /* its answer */
static const uint8_t FILL = 'x';                             /* every payload byte */

struct conn {
    int fd;
    bool open;       /* handshake done */
    size_t head_len; /* bytes of the response head read so far */
    char head[HEAD_MAX];
    /* frame parser state */
    uint8_t hdr[14];
    size_t hdr_len;
    uint64_t left; /* payload bytes of the current frame still to read */
    uint8_t opcode;
    uint64_t echoed; /* payload bytes echoed back */
    uint64_t sent;   /* messages sent */
    uint8_t *out;    /* frames waiting to be written */
    size_t out_len, out_cap;
};

struct opts {
    const char *host;
    unsigned port;
    unsigned connections, window;
    size_t size;
    double warmup, duration;
    long pid;
    bool idle;
};

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t bad_bytes, closed_by_server;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t next_mask(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Server CPU seconds (user + system) from /proc/PID/stat; -1 without a pid. */
static double server_cpu(long pid)
{
    char path[64], buf[1024];
    const char *p;
    unsigned long ut, st;
    FILE *f;
    size_t n;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Server VmRSS in KiB from /proc/PID/status; -1 without a pid. */
static long server_rss_kib(long pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void reserve(struct conn *c, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap * 2 > c->out_len + n ? c->out_cap * 2 : c->out_len + n;
        c->out = realloc(c->out, cap);
        if (c->out == NULL)
            die("realloc");
        c->out_cap = cap;
    }
}

static void queue(struct conn *c, const void *p, size_t n)
{
    reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* One masked binary frame of size FILL bytes. */
static void queue_message(struct conn *c, size_t size)
{
    uint8_t h[14];
    size_t hl = 2, i;
    uint32_t m = next_mask();
    uint8_t key[4];

    h[0] = 0x82;
    if (size < 126) {
        h[1] = (uint8_t)(0x80 | size);
    } else if (size <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(size >> 8);
        h[3] = (uint8_t)size;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
        hl = 10;
    }
    memcpy(key, &m, 4);
    memcpy(h + hl, key, 4);
    hl += 4;
    queue(c, h, hl);
    reserve(c, size);
    for (i = 0; i < size; i++)
        c->out[c->out_len + i] = (uint8_t)(FILL ^ key[i & 3]);
    c->out_len += size;
    c->sent++;
}

static bool flush_out(struct conn *c)
{
    size_t off = 0;

    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return false;
        }
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    return true;
}

/* Parses server frames in p[0..n); returns false when the server closed. */
static bool parse_frames(struct conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (c->left == 0 && c->hdr_len < 2) {
            c->hdr[c->hdr_len++] = *p++;
            n--;
            continue;
        }
        if (c->left == 0) {
            size_t need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;
            if (c->hdr_len < need) {
                c->hdr[c->hdr_len++] = *p++;
                n--;
                if (c->hdr_len < need)
                    continue;
            }
            c->opcode = c->hdr[0] & 0x0f;
            if (c->opcode >= 8) {
                closed_by_server += c->opcode == 8;
                if (c->opcode == 8)
                    return false;
            }
            if (need == 2) {
                c->left = c->hdr[1] & 0x7f;
            } else {
                size_t i;
                c->left = 0;
                for (i = 2; i < need; i++)
                    c->left = c->left << 8 | c->hdr[i];
            }
            c->hdr_len = 0;
            if (c->left == 0)
                continue;
        }
        {
            size_t take = n < c->left ? n : (size_t)c->left, i;
            if (c->opcode < 8) {
                for (i = 0; i < take; i++)
                    bad_bytes += p[i] != FILL;
                c->echoed += take;
            }
            p += take;
            n -= take;
            c->left -= take;
        }
    }
    return true;
}

static int dial(const struct opts *o)
{
    struct sockaddr_in a;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1) {
        fprintf(stderr, "echo-load: --host takes an IPv4 address\n");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

static void start(int epfd, const struct opts *o, struct conn *c)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o->host, o->port, KEY);
    struct epoll_event ev;

    c->fd = dial(o);
    queue(c, req, (size_t)n);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Reads the handshake response; returns bytes after the head (in p) once open, or -1 on a
 * bad response. */
static long read_head(struct conn *c, const uint8_t *p, size_t n, size_t *used)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (c->head_len + 1 >= HEAD_MAX)
            return -1;
        c->head[c->head_len++] = (char)p[i];
        c->head[c->head_len] = '\0';
        if (c->head_len >= 4 && memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0) {
            if (strncmp(c->head, "HTTP/1.1 101", 12) != 0 || strstr(c->head, ACCEPT) == NULL)
                return -1;
            c->open = true;
            *used = i + 1;
            return 1;
        }
    }
    *used = n;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: echo-load --port PORT [--host 127.0.0.1] [--connections 100]\n"
            "  [--size 16] [--window 32] [--warmup 2] [--duration 10] [--pid SERVER_PID]\n"
            "  [--idle]   (open the connections, report the server's RSS per connection)\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    int i;

    o->host = "127.0.0.1";
    o->port = 0;
    o->connections = 100;
    o->window = 32;
    o->size = 16;
    o->warmup = 2;
    o->duration = 10;
    o->pid = 0;
    o->idle = false;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--idle") == 0) {
            o->idle = true;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--port") == 0)
            o->port = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--connections") == 0)
            o->connections = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--window") == 0)
            o->window = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--size") == 0)
            o->size = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--warmup") == 0)
            o->warmup = strtod(v, NULL);
        else if (strcmp(a, "--duration") == 0)
            o->duration = strtod(v, NULL);
        else if (strcmp(a, "--pid") == 0)
            o->pid = strtol(v, NULL, 10);
        else
            usage();
    }
    if (o->port == 0 || o->port > 65535 || o->connections == 0 || o->window == 0 || o->size == 0 ||
        (o->idle && o->pid <= 0))
        usage();
}

int main(int argc, char **argv)
{
    static uint8_t in[IN_SIZE];
    struct opts o;
    struct conn *cs;
    struct rlimit rl;
    unsigned started = 0, opened = 0, i;
    int epfd;
    long rss_before = 0;
    double t0 = 0, cpu0 = 0, end = 0;
    uint64_t count0 = 0, done = 0;
    bool measuring = false;

    parse(argc, argv, &o);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    cs = calloc(o.connections, sizeof *cs);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (cs == NULL || epfd < 0)
        die("setup");
    if (o.idle)
        rss_before = server_rss_kib(o.pid);

    for (;;) {
        struct epoll_event evs[256];
        int n, k;
        double now = now_s();

        while (started < o.connections && started - opened < MAX_PENDING)
            start(epfd, &o, &cs[started++]);
        if (opened == o.connections && !o.idle && !measuring && t0 == 0) {
            t0 = now + o.warmup; /* warm-up ends here */
        }
        if (t0 != 0 && !measuring && now >= t0) {
            measuring = true;
            count0 = done;
            cpu0 = server_cpu(o.pid);
            t0 = now;
            end = now + o.duration;
        }
        if (measuring && now >= end)
            break;
        if (o.idle && opened == o.connections)
            break;
        n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                for (;;) {
                    ssize_t r = recv(c->fd, in, sizeof in, 0);
                    size_t used = 0;
                    uint64_t before;
                    if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                    if (r <= 0) {
                        fprintf(stderr, "echo-load: connection %u ended (%s) after %u open\n",
                                (unsigned)(c - cs), r == 0 ? "end of stream" : strerror(errno),
                                opened);
                        exit(1);
                    }
                    if (!c->open) {
                        if (read_head(c, in, (size_t)r, &used) < 0) {
                            fprintf(stderr, "echo-load: bad handshake response:\n%s\n", c->head);
                            exit(1);
                        }
                        if (!c->open)
                            continue;
                        opened++;
                        if (!o.idle)
                            for (i = 0; i < o.window; i++)
                                queue_message(c, o.size);
                    }
                    before = c->echoed / o.size;
                    if (!parse_frames(c, in + used, (size_t)r - used)) {
                        fprintf(stderr, "echo-load: the server closed a connection\n");
                        exit(1);
                    }
                    for (i = 0; i < c->echoed / o.size - before; i++)
                        queue_message(c, o.size);
                    done += c->echoed / o.size - before;
                }
            }
            if (!flush_out(c))
                die("send");
            {
                struct epoll_event ev;
                memset(&ev, 0, sizeof ev);
                ev.events = EPOLLIN | (c->out_len > 0 ? EPOLLOUT : 0u);
                ev.data.ptr = c;
                epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }

    if (o.idle) {
        long rss_after;
        sleep(1); /* let the server finish its last accepts */
        rss_after = server_rss_kib(o.pid);
        printf("connections open: %u\n", opened);
        printf("server VmRSS: %ld KiB before, %ld KiB after\n", rss_before, rss_after);
        printf("RSS per idle open connection: %.0f bytes\n",
               (double)(rss_after - rss_before) * 1024.0 / (double)opened);
        return 0;
    }
    {
        double secs = now_s() - t0;
        double cpu = server_cpu(o.pid) - cpu0;
        double msgs = (double)(done - count0);
        printf("connections %u, message %zu B, window %u, %.1f s measured\n", o.connections, o.size,
               o.window, secs);
        printf("messages/s: %.0f\n", msgs / secs);
        if (o.pid > 0)
            printf("server CPU: %.2f s, %.3f CPU s per million messages\n", cpu,
                   cpu / (msgs / 1e6));
        printf("bad echoed bytes: %llu, closes from the server: %llu\n",
               (unsigned long long)bad_bytes, (unsigned long long)closed_by_server);
    }
    return bad_bytes != 0;
}
