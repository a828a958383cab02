/*
 * hload: a closed-loop HTTP/1.1 keep-alive load generator, one thread, epoll. It exists because
 * Debian's wrk 4.1 cannot read HEAD replies (it waits for the Content-Length body) and a node
 * client costs ~25 µs of CPU per request, a third of what skiff spends serving one: on a 2-core
 * machine that client, not the server, set the HEAD rows. Per request this writes one prebuilt
 * buffer and parses the status line, Content-Length or chunked framing.
 *
 *   hload -c <connections> -d <seconds> [-m GET|HEAD] [-H 'Name: value']... http://127.0.0.1:<port>/<path>
 *
 * Prints one line: HLOAD {"requests":..,"duration_us":..,"bytes":..,"errors":..,"non2xx":..,
 * "p50_us":..,"p90_us":..,"p99_us":..,"mean_us":..,"max_us":..}. Only IPv4 literal hosts.
 * Built by scripts/bench/hload.mjs with `cc -O2` into bench-results/.bin/ (git-ignored).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HEAD_MAX = 16384 };
enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct conn {
  int fd;
  int connected;
  uint64_t t0;
  char head[HEAD_MAX];
  size_t head_len;
  int in_body;
  enum body_kind kind;
  uint64_t remaining;
  enum chunk_state cs;
  uint64_t chunk_left;
  size_t line_len; /* bytes of the current chunk-size or trailer line */
  int status;
};

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char *request;
static size_t request_len;
static int is_head;
static uint64_t deadline;
static uint32_t *lat;
static size_t lat_len, lat_cap;
static uint64_t bytes_in, errors, non2xx;

static void record(uint64_t us) {
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 65536;
    lat = realloc(lat, lat_cap * sizeof *lat);
    if (!lat) { perror("realloc"); exit(1); }
  }
  lat[lat_len++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
}

static int send_request(struct conn *c) {
  c->t0 = now_us();
  c->head_len = 0;
  c->in_body = 0;
  size_t off = 0;
  while (off < request_len) {
    ssize_t n = write(c->fd, request + off, request_len - off);
    if (n < 0) {
      if (errno == EAGAIN) continue; /* a few hundred bytes into an empty socket: rare */
      return -1;
    }
    off += (size_t)n;
  }
  return 0;
}

/* Parses the head in c->head[0..end); sets status and body framing. */
static int parse_head(struct conn *c, size_t end) {
  c->head[end] = 0;
  if (end < 12 || strncmp(c->head, "HTTP/1.", 7) != 0) return -1;
  c->status = atoi(c->head + 9);
  c->kind = BODY_NONE;
  if (is_head || c->status == 204 || c->status == 304 || c->status < 200) return 0;
  for (char *line = strstr(c->head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
    char *h = line + 2;
    if (strncasecmp(h, "content-length:", 15) == 0) {
      c->kind = BODY_LENGTH;
      c->remaining = strtoull(h + 15, NULL, 10);
    } else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strcasestr(h, "chunked")) {
      c->kind = BODY_CHUNKED;
      c->cs = CH_SIZE;
      c->chunk_left = 0;
      c->line_len = 0;
    }
  }
  return c->kind == BODY_NONE ? -1 : 0;
}

/* Feeds body bytes; returns 1 when the reply is complete, 0 for more, -1 on a framing error. */
static int feed_body(struct conn *c, const char *p, size_t n) {
  if (c->kind == BODY_NONE) return n == 0 ? 1 : -1;
  if (c->kind == BODY_LENGTH) {
    if (n > c->remaining) return -1;
    c->remaining -= n;
    return c->remaining == 0;
  }
  for (size_t i = 0; i < n;) {
    switch (c->cs) {
    case CH_SIZE:
    case CH_TRAILER: {
      const char *nl = memchr(p + i, '\n', n - i);
      size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
      if (c->cs == CH_SIZE) {
        for (size_t k = 0; k < take; k++) {
          char ch = p[i + k];
          int v = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
          if (c->line_len == (size_t)-1 || v < 0) c->line_len = (size_t)-1; /* extension or CR: stop reading digits */
          else c->chunk_left = c->chunk_left * 16 + (uint64_t)v;
        }
        i += take;
        if (!nl) break;
        c->line_len = 0;
        if (c->chunk_left == 0) c->cs = CH_TRAILER;
        else c->cs = CH_DATA;
      } else {
        c->line_len += take;
        i += take;
        if (!nl) break;
        if (c->line_len <= 2) return 1; /* the empty line ending the trailer section */
        c->line_len = 0;
      }
      break;
    }
    case CH_DATA: {
      size_t take = n - i < c->chunk_left ? n - i : (size_t)c->chunk_left;
      c->chunk_left -= take;
      i += take;
      if (c->chunk_left == 0) { c->cs = CH_DATA_END; c->line_len = 0; }
      break;
    }
    case CH_DATA_END:
      if (++c->line_len == 2) { c->cs = CH_SIZE; c->line_len = 0; c->chunk_left = 0; }
      i++;
      break;
    }
  }
  return 0;
}

/* Handles readable data; returns 1 when the connection should stop, -1 on error. */
static int on_readable(struct conn *c, char *buf, size_t cap) {
  for (;;) {
    ssize_t n = read(c->fd, buf, cap);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n == 0) return -1;
    bytes_in += (uint64_t)n;
    size_t off = 0;
    while (off < (size_t)n) {
      int done;
      if (!c->in_body) {
        size_t take = (size_t)n - off;
        if (c->head_len + take >= HEAD_MAX) take = HEAD_MAX - 1 - c->head_len;
        memcpy(c->head + c->head_len, buf + off, take);
        size_t before = c->head_len;
        c->head_len += take;
        c->head[c->head_len] = 0;
        char *end = strstr(c->head, "\r\n\r\n");
        if (!end) {
          if (c->head_len >= HEAD_MAX - 1) return -1;
          off += take;
          continue;
        }
        size_t head_end = (size_t)(end - c->head) + 4;
        if (parse_head(c, head_end - 2) < 0) return -1;
        c->in_body = 1;
        off += head_end - before;
        done = feed_body(c, buf + off, 0);
        if (c->kind != BODY_NONE) done = 0;
        if (c->kind == BODY_LENGTH && c->remaining == 0) done = 1;
      } else {
        size_t take = (size_t)n - off;
        done = feed_body(c, buf + off, take);
        off += take;
        if (done < 0) return -1;
        if (done && off != (size_t)n && c->kind == BODY_LENGTH) return -1;
      }
      if (done == 1) {
        uint64_t t = now_us();
        if (t <= deadline) {
          record(t - c->t0);
          if (c->status < 200 || c->status > 299) non2xx++;
        }
        if (t >= deadline) return 1;
        if (off != (size_t)n) return -1; /* bytes beyond the reply: not closed-loop any more */
        if (send_request(c) < 0) return -1;
        break;
      }
    }
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t pct(double p) {
  if (lat_len == 0) return 0;
  size_t i = (size_t)((p / 100.0) * (double)lat_len + 0.999999);
  if (i > 0) i--;
  if (i >= lat_len) i = lat_len - 1;
  return lat[i];
}

int main(int argc, char **argv) {
  int conns = 1;
  double seconds = 1;
  const char *method = "GET";
  char headers[4096] = "";
  int opt;
  while ((opt = getopt(argc, argv, "c:d:m:H:")) != -1) {
    if (opt == 'c') conns = atoi(optarg);
    else if (opt == 'd') seconds = atof(optarg);
    else if (opt == 'm') method = optarg;
    else if (opt == 'H') {
      strncat(headers, optarg, sizeof headers - strlen(headers) - 3);
      strcat(headers, "\r\n");
    } else return 2;
  }
  if (optind != argc - 1 || conns < 1 || strncmp(argv[optind], "http://", 7) != 0) {
    fprintf(stderr, "usage: hload -c N -d SECONDS [-m METHOD] [-H 'k: v'] http://127.0.0.1:PORT/PATH\n");
    return 2;
  }
  char host[64];
  int port = 80;
  const char *hp = argv[optind] + 7;
  const char *path = strchr(hp, '/');
  if (!path) path = "/";
  size_t hl = (size_t)(path - hp) < sizeof host - 1 ? (size_t)(path - hp) : sizeof host - 1;
  memcpy(host, hp, hl);
  host[hl] = 0;
  char *colon = strchr(host, ':');
  if (colon) { *colon = 0; port = atoi(colon + 1); }
  is_head = strcmp(method, "HEAD") == 0;
  request = malloc(8192);
  request_len = (size_t)snprintf(request, 8192, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", method, path, host, port, headers);

  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "hload: IPv4 literal host only\n"); return 2; }
  int ep = epoll_create1(0);
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  for (int i = 0; i < conns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) { perror("connect"); return 1; }
    cs[i].fd = fd;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = &cs[i] };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  static char buf[65536];
  uint64_t start = now_us();
  deadline = start + (uint64_t)(seconds * 1e6);
  int live = conns;
  struct epoll_event evs[256];
  while (live > 0) {
    uint64_t t = now_us();
    if (t >= deadline + 2000000u) break; /* replies still missing 2 s after the end */
    int timeout = t >= deadline ? 100 : (int)((deadline - t) / 1000u) + 1;
    /* Every connection always has one request in flight; it closes after its first reply
       past the deadline (not counted), so the loop ends once all of them have answered. */
    int n = epoll_wait(ep, evs, 256, timeout);
    for (int k = 0; k < n; k++) {
      struct conn *c = evs[k].data.ptr;
      if (c->fd < 0) continue;
      if (!c->connected && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) { errors++; close(c->fd); c->fd = -1; live--; continue; }
        c->connected = 1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        if (now_us() >= deadline || send_request(c) < 0) { close(c->fd); c->fd = -1; live--; }
        continue;
      }
      if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        int r = on_readable(c, buf, sizeof buf);
        if (r != 0) {
          if (r < 0) errors++;
          close(c->fd);
          c->fd = -1;
          live--;
        }
      }
    }
  }
  uint64_t elapsed = (now_us() < deadline ? now_us() : deadline) - start;
  qsort(lat, lat_len, sizeof *lat, cmp_u32);
  double sum = 0;
  for (size_t i = 0; i < lat_len; i++) sum += lat[i];
  printf("HLOAD {\"requests\":%zu,\"duration_us\":%llu,\"bytes\":%llu,\"errors\":%llu,\"non2xx\":%llu,"
         "\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"mean_us\":%.1f,\"max_us\":%u}\n",
         lat_len, (unsigned long long)elapsed, (unsigned long long)bytes_in, (unsigned long long)errors,
         (unsigned long long)non2xx, pct(50), pct(90), pct(99), lat_len ? sum / (double)lat_len : 0.0,
         lat_len ? lat[lat_len - 1] : 0);
  return 0;
}
