/*
 * bench/flv-swarm.c: thousands of HTTP-FLV viewers from one process, cheap enough that the server,
 * not the client, is what runs out of CPU. A Node swarm (bench/swarm.ts) copies and parses every
 * byte and saturates its core near 2000 viewers of a 2.65 Mbit/s stream; here most viewers discard
 * the body with recv(MSG_TRUNC), which frees the socket data in the kernel without copying it to
 * user space, and only every --probe-every'th viewer (a "probe") reads and parses the stream.
 *
 * Every viewer: HTTP/1.1 GET like a player, time to the first response byte (TTFB), bytes received,
 * whether the server closed it. Probes additionally decode HTTP chunked framing and walk FLV tags
 * (FLV spec v10.1, annex E) to time the first keyframe (TTFK) and how far behind real time they are.
 * "Healthy" = still open and at least --min-kbps over the last --window seconds. Once the ramp is
 * over, the swarm reads every --batch-ms (50) instead of on every server write, so each recv takes
 * several writes at once: on 2 cores, 2000 viewers of 2.65 Mbit/s cost it ~12 % of a core.
 *
 * --hls plays an MPEG-TS playlist instead (one keep-alive connection per viewer, every segment
 * once) and --llhls a Low-Latency HLS one (two per viewer: blocking reloads and preload-hinted
 * parts, as hls.js; see struct ll_viewer): their bodies are counted with MSG_TRUNC too.
 *
 * With --pid, the server's CPU (utime+stime) and RSS are summed over its whole process group, so
 * --workers children count: start the server with setsid (Node: spawn(..., { detached: true })).
 *
 * Loopback only (127.0.0.0/8). Every loop is bounded by the clock: the swarm stops --duration
 * seconds after its ramp ends. Prints one JSON line. Built by bench/c-swarm.ts with `gcc -O2`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "swarm-common.h"

#define HEADER_MAX 4096      /* a response header longer than this is not relaycast's */
#define BEHIND_LIMIT_S 2.0   /* a probe this far behind real time at the end is "behind" */

enum state { CONNECTING, HEADERS, BODY, DONE };

/* FLV walk of a probe (FLV spec annex E): 9-byte header + PreviousTagSize0, then tags of an
 * 11-byte header, DataSize payload bytes and a 4-byte PreviousTagSize. */
struct flv_walk {
  int chunked;             /* Transfer-Encoding: chunked (HTTP/1.1 answers of core/http-flv.ts) */
  int chunk_state;         /* 0 size line, 1 data, 2 CRLF after data, 3 last chunk seen */
  long chunk_left;
  char size_line[20];
  int size_len;
  long skip;               /* bytes to pass over: FLV header, payload rest, PreviousTagSize */
  uint8_t tag[13];         /* tag header + the first 2 payload bytes of a video tag */
  int tag_len, tag_need;
  double first_video_wall; /* wall clock and media time of the first video frame: lag origin */
  int64_t first_video_ts, last_video_ts;
  double last_video_wall;
  int started_on_keyframe; /* 1 keyframe, 0 inter frame, -1 no frame yet */
};

struct viewer {
  int fd;
  enum state state;
  int failed, closed_early;
  double t0, ttfb, ttfk;   /* seconds; -1 until seen */
  uint64_t bytes, window_bytes;
  char *header;            /* only while reading the response header */
  int header_len;
  struct flv_walk *probe;  /* NULL for the MSG_TRUNC viewers */
  struct hls_viewer *hls;  /* --hls mode only */
  struct ll_viewer *ll;    /* --llhls mode only */
};

/* ---- --hls: a viewer polls the MPEG-TS media playlist and fetches each new segment once, in
 * order, on one keep-alive connection (as a player does, without decoding). ---- */
#define HLS_URIS 16
#define HLS_URI_MAX 160
#define HLS_PLAYLIST_MAX 16384
struct hls_viewer {
  int phase;               /* 0 reading a playlist, 1 reading a segment, 2 idle until next_poll */
  long body_left;          /* Content-Length still to read */
  char *text;              /* the playlist being read (phase 0 only) */
  int text_len;
  double req_at, poll_at, next_poll, target_s;
  long long next_seq;      /* next segment wanted; -1 before the first playlist */
  long long first_seq;     /* sequence of uris[0] */
  int uri_count, got_new;
  char uris[HLS_URIS][HLS_URI_MAX];
  int missed, segments, playlists;
  double last_segment_at;
};

/* ---- --llhls: a viewer plays Low-Latency HLS as hls.js does (and bench/llhls-swarm.ts), on two
 * keep-alive connections of its own, one for the playlist and one for parts (RFC 8216bis 6.2.5.2
 * blocking reloads, 6.2.6 preload hints). Startup: it fetches the playlist once, then, as hls.js
 * starts PART-HOLD-BACK (three parts) behind the live edge, the last three listed parts on the part
 * connection while the playlist connection already sends the first blocking reload. Then each turn
 * of its loop sends, in parallel, `<playlist>?_HLS_msn=M&_HLS_part=P` for the hinted part (M, P)
 * and `GET <dir>/<hint URI>` (the server holds both until the part exists); when both are complete
 * it records the figures and takes the reload's new preload hint for the next turn. Part bodies are
 * counted in the kernel (MSG_TRUNC); playlists (~1.5 KB) are read into a bounded buffer. Unlike
 * llhls-swarm.ts it never fetches a listed part it skipped: a turn that starts after the next part
 * already exists gets a hint past it, and that is counted as a gap (the viewer fell a part behind).
 * An error (a status other than 200, a closed connection, no answer within LL_TIMEOUT_S) is counted
 * by kind; the viewer then closes both connections and starts over LL_RETRY_S later. ---- */
#define LL_URI_MAX 192
#define LL_PLAYLIST_MAX 65536  /* relaycast's LL-HLS playlists are ~1.5 KB */
#define LL_BACKLOG 3           /* parts behind the live edge a viewer starts at */
#define LL_RETRY_S 0.2         /* after an error, start over this much later (as llhls-swarm.ts) */
#define LL_TIMEOUT_S 15.0      /* the server ends a held request after 3 target durations (503) */
enum { LL_PL, LL_PART };                                   /* a viewer's two connections */
enum { C_CLOSED, C_CONNECTING, C_IDLE, C_HEADERS, C_BODY }; /* of one connection */
enum { LL_FIRST, LL_LOOP, LL_RETRY, LL_ENDED };            /* of a viewer */

struct ll_part {
  long long msn; /* media sequence number of its segment; -1 = none */
  int idx;       /* index in the segment */
  char uri[LL_URI_MAX];
};

struct ll_conn {
  int fd, state;
  int pending;      /* a request waits for the connection to open */
  int status;       /* of the response being read */
  long body_left, bytes;
  char *header;     /* only while a response header spans reads */
  int header_len;
  char *text;       /* playlist connection: a body that spans reads */
  int text_len;
  double since;     /* connect or request time, for LL_TIMEOUT_S */
};

struct ll_viewer {
  struct ll_conn c[2];
  int phase;
  struct ll_part hint;                /* the part this turn waits for */
  struct ll_part next;                /* the preload hint of this turn's reload */
  int next_ok, ended;                 /* `next` is set; the reload had EXT-X-ENDLIST */
  struct ll_part backlog[LL_BACKLOG]; /* startup: the last parts of the first playlist */
  int backlog_n, backlog_i;
  long long last_msn, ref_msn;        /* the last part got; the one this turn's hint must follow */
  int last_idx, ref_idx;
  int between;                        /* listed parts strictly between ref and hint (reload) */
  int pl_done, part_done, part_status;
  long part_bytes;
  double pl_at, part_at, pl_req_at, restart_at;
  double part_target;                 /* EXT-X-PART-INF PART-TARGET, seconds */
  int playlists, parts, gaps, skipped, errors, restarts, hint404;
  double first_part_at, last_part_at, last_gap_at;
};

/* ---- the server's process group, from /proc/<pid>/stat (proc(5): fields 5 pgrp, 14-15
 * utime/stime in clock ticks, 24 rss in pages) ---- */
/* CPU seconds and RSS of a process group; with pss_mb, also its proportional set size: what RSS
 * counts once per process (the node binary's pages, shared by the main process and its workers)
 * counted once in all (smaps_rollup walks the process's mappings: ~1 ms, once a second). */
static void group_usage(int pgid, double *cpu_s, double *rss_mb, double *pss_mb) {
  *cpu_s = 0;
  *rss_mb = 0;
  if (pss_mb) *pss_mb = 0;
  DIR *d = opendir("/proc");
  if (!d) return;
  double tick = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[288], b[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    char *s = strrchr(b, ')'); /* the command name may hold spaces and parentheses */
    if (!s) continue;
    int pgrp = 0;
    unsigned long utime = 0, stime = 0;
    long rss_pages = 0;
    if (sscanf(s + 2, "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
               &pgrp, &utime, &stime, &rss_pages) != 4 || pgrp != pgid)
      continue;
    *cpu_s += (utime + stime) / tick;
    *rss_mb += rss_pages * page / 1048576.0;
    if (!pss_mb) continue;
    snprintf(path, sizeof path, "/proc/%s/smaps_rollup", e->d_name);
    if (!(f = fopen(path, "r"))) continue;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "Pss: %ld kB", &kb) == 1) {
        *pss_mb += kb / 1024.0;
        break;
      }
    fclose(f);
  }
  closedir(d);
}

static int leads_group(int pid) {
  char path[64], b[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(b, 1, sizeof b - 1, f);
  fclose(f);
  b[n] = 0;
  char *s = strrchr(b, ')');
  int pgrp = 0;
  if (!s || sscanf(s + 2, "%*c %*d %d", &pgrp) != 1) return -1;
  return pgrp == pid;
}

/* ---- probe parsing ---- */

/* A whole tag header (plus the first two payload bytes of a video tag) is in w->tag. */
static void flv_tag(struct flv_walk *w, struct viewer *v, double t) {
  uint8_t *h = w->tag;
  int type = h[0] & 0x1f;
  long size = (h[1] << 16) | (h[2] << 8) | h[3];
  /* Timestamp (UI24) + TimestampExtended (UI8, the upper 8 bits) */
  int64_t ts = ((int64_t)h[7] << 24) | (h[4] << 16) | (h[5] << 8) | h[6];
  w->skip = size - (w->tag_len - 11) + 4; /* rest of the payload + PreviousTagSize */
  if (type != 9 || size < 2) return;
  uint8_t b0 = h[11], b1 = h[12];
  int keyframe, config;
  if (b0 & 0x80) { /* Enhanced RTMP: IsExHeader, FrameType (3 bits), PacketType (4 bits) */
    keyframe = ((b0 >> 4) & 7) == 1;
    int packet_type = b0 & 0x0f; /* SequenceStart, SequenceEnd, Metadata, MPEG2TSSequenceStart */
    config = packet_type == 0 || packet_type == 2 || packet_type == 4 || packet_type == 5;
  } else { /* FrameType (4 bits), CodecID (4 bits); AVC/HEVC: AVCPacketType 0 = sequence header */
    keyframe = (b0 >> 4) == 1;
    config = ((b0 & 0x0f) == 7 || (b0 & 0x0f) == 12) && b1 == 0;
  }
  if ((b0 >> 4 & 7) == 5 || config) return; /* video info/command frames carry no picture */
  if (keyframe && v->ttfk < 0) v->ttfk = t - v->t0;
  if (w->started_on_keyframe < 0) {
    w->started_on_keyframe = keyframe;
    w->first_video_wall = t;
    w->first_video_ts = ts;
  }
  w->last_video_ts = ts;
  w->last_video_wall = t;
}

static void flv_bytes(struct flv_walk *w, struct viewer *v, const uint8_t *p, long n, double t) {
  while (n > 0) {
    if (w->skip > 0) {
      long k = n < w->skip ? n : w->skip;
      w->skip -= k, p += k, n -= k;
      continue;
    }
    int k = n < w->tag_need - w->tag_len ? (int)n : w->tag_need - w->tag_len;
    memcpy(w->tag + w->tag_len, p, k);
    w->tag_len += k, p += k, n -= k;
    if (w->tag_len < w->tag_need) return;
    /* after 11 header bytes, a video tag with a payload also needs its first 2 payload bytes */
    long size = (w->tag[1] << 16) | (w->tag[2] << 8) | w->tag[3];
    if (w->tag_need == 11 && (w->tag[0] & 0x1f) == 9 && size >= 2) {
      w->tag_need = 13;
      continue;
    }
    flv_tag(w, v, t);
    w->tag_len = 0;
    w->tag_need = 11;
  }
}

/* RFC 9112 section 7.1: chunk-size in hex [; extensions] CRLF, data, CRLF; size 0 ends. */
static void probe_body(struct viewer *v, const uint8_t *p, long n, double t) {
  struct flv_walk *w = v->probe;
  if (!w->chunked) {
    flv_bytes(w, v, p, n, t);
    return;
  }
  while (n > 0 && w->chunk_state != 3) {
    if (w->chunk_state == 0) {
      char c = (char)*p++;
      n--;
      if (c == '\n') {
        w->size_line[w->size_len] = 0;
        w->chunk_left = strtol(w->size_line, NULL, 16);
        w->size_len = 0;
        w->chunk_state = w->chunk_left ? 1 : 3;
      } else if (c != '\r' && w->size_len < (int)sizeof w->size_line - 1) {
        w->size_line[w->size_len++] = c;
      }
    } else if (w->chunk_state == 1) {
      long k = n < w->chunk_left ? n : w->chunk_left;
      flv_bytes(w, v, p, k, t);
      p += k, n -= k, w->chunk_left -= k;
      if (!w->chunk_left) w->chunk_state = 2;
    } else {
      if (*p++ == '\n') w->chunk_state = 0;
      n--;
    }
  }
}

/* ---- viewers ---- */

static struct sockaddr_in server;
static char request[1024];
static int request_len;
static int epfd;
static double batch_ms = 50;
static uint8_t buf[1 << 18]; /* shared by header reads and probes: one thread, one read at a time */
static int hls_mode, ll_mode;
static char hls_path[512], hls_dir[512], hls_host[80]; /* --hls and --llhls */

static void ll_close(struct ll_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = C_CLOSED;
  c->pending = 0;
  free(c->header);
  free(c->text);
  c->header = c->text = NULL;
  c->header_len = c->text_len = 0;
}

static void finish(struct viewer *v) {
  if (v->fd >= 0) close(v->fd); /* close() also removes it from the epoll set */
  v->fd = -1;
  free(v->header);
  v->header = NULL;
  if (v->hls) {
    free(v->hls->text);
    v->hls->text = NULL;
  }
  if (v->ll) {
    ll_close(&v->ll->c[LL_PL]);
    ll_close(&v->ll->c[LL_PART]);
  }
  v->state = DONE;
}

static void fail(struct viewer *v, const char *why) {
  v->failed = 1;
  fail_reason(why);
  finish(v);
}

static int ll_connect(struct viewer *v, uint32_t id, double t);

static void start_viewer(struct viewer *v, uint32_t id, int probe) {
  memset(v, 0, sizeof *v);
  v->ttfb = v->ttfk = -1;
  v->t0 = now();
  if (ll_mode) { /* two connections of its own, in v->ll; v->fd stays unused */
    v->fd = -1;
    struct ll_viewer *L = v->ll = calloc(1, sizeof *v->ll);
    if (!L) return fail(v, "out of memory");
    L->c[LL_PL].fd = L->c[LL_PART].fd = -1;
    L->first_part_at = L->last_part_at = L->last_gap_at = -1;
    v->state = BODY;
    ll_connect(v, id, v->t0);
    return;
  }
  if (probe) {
    v->probe = calloc(1, sizeof *v->probe);
    v->probe->skip = 13; /* FLV header (9 bytes) + PreviousTagSize0 */
    v->probe->tag_need = 11;
    v->probe->started_on_keyframe = -1;
  }
  if (hls_mode) {
    if (!(v->hls = calloc(1, sizeof *v->hls))) return fail(v, "out of memory");
    v->hls->next_seq = -1;
  }
  v->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (v->fd < 0) return fail(v, strerror(errno)); /* EMFILE: the fd limit is below --viewers */
  if (connect(v->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS)
    return fail(v, strerror(errno));
  v->state = CONNECTING;
  struct epoll_event e = {.events = EPOLLOUT, .data.u32 = id};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, v->fd, &e) < 0) return fail(v, strerror(errno));
}

/* every playlist and segment response time (ms), for the percentiles */
static double *pl_ms, *seg_ms, *pl_steady_ms;
static long pl_n, pl_cap, seg_n, seg_cap, pl_steady_n, pl_steady_cap;
static double steady_from; /* after the ramp (+2 s): joins no longer load the server */
static void push_ms(double **xs, long *n, long *cap, double v) {
  if (*n == *cap) {
    long c = *cap ? *cap * 2 : 65536;
    double *m = realloc(*xs, c * sizeof(double));
    if (!m) return;
    *xs = m, *cap = c;
  }
  (*xs)[(*n)++] = v;
}

static void hls_get(struct viewer *v, uint32_t id, const char *path, int phase, double t) {
  char req[1024];
  int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: relaycast-flv-swarm\r\n\r\n",
                     path, hls_host);
  if (send(v->fd, req, len, MSG_NOSIGNAL) != len) return fail(v, "request write failed");
  v->hls->phase = phase;
  v->hls->req_at = t;
  if (phase == 0) v->hls->poll_at = t;
  v->state = HEADERS;
  v->header_len = 0;
  if (!v->header && !(v->header = malloc(HEADER_MAX + 1))) return fail(v, "out of memory");
  struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = id};
  epoll_ctl(epfd, EPOLL_CTL_MOD, v->fd, &e);
}

/* Fetches the next listed segment, or idles until the next poll (hls.js: the target duration after
 * a playlist that had something new, half of it after one that did not). */
static void hls_next(struct viewer *v, uint32_t id, double t) {
  struct hls_viewer *h = v->hls;
  long long i = h->next_seq - h->first_seq;
  if (i >= 0 && i < h->uri_count) {
    char path[1024];
    const char *u = h->uris[i];
    if (u[0] == '/') snprintf(path, sizeof path, "%s", u);
    else snprintf(path, sizeof path, "%s%s", hls_dir, u);
    h->got_new = 1;
    return hls_get(v, id, path, 1, t);
  }
  h->phase = 2;
  h->next_poll = h->poll_at + (h->got_new ? h->target_s : h->target_s / 2);
  h->got_new = 0;
}

/* A playlist arrived: where the viewer is against the window (RFC 8216 6.3.4, 6.2.2). */
static void hls_playlist(struct viewer *v, uint32_t id, double t) {
  struct hls_viewer *h = v->hls;
  h->text[h->text_len] = 0;
  long long seq = -1;
  double target = 0;
  int count = 0;
  for (char *line = strtok(h->text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
    if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) seq = atoll(line + 22);
    else if (!strncmp(line, "#EXT-X-TARGETDURATION:", 22)) target = atof(line + 22);
    else if (line[0] != '#' && line[0] && count < HLS_URIS) snprintf(h->uris[count++], HLS_URI_MAX, "%s", line);
  }
  free(h->text);
  h->text = NULL;
  if (seq < 0 || target <= 0 || count == 0) return fail(v, "not a live media playlist");
  h->first_seq = seq, h->uri_count = count, h->target_s = target;
  h->playlists++;
  if (h->next_seq < 0) h->next_seq = seq + (count > 3 ? count - 3 : 0); /* 3 from the live edge */
  if (h->next_seq < seq) h->missed += (int)(seq - h->next_seq), h->next_seq = seq;
  hls_next(v, id, t);
}

/* A response body is complete. */
static void hls_done(struct viewer *v, uint32_t id, double t) {
  struct hls_viewer *h = v->hls;
  double ms = (t - h->req_at) * 1000;
  if (h->phase == 0) {
    push_ms(&pl_ms, &pl_n, &pl_cap, ms);
    if (t >= steady_from) push_ms(&pl_steady_ms, &pl_steady_n, &pl_steady_cap, ms);
    return hls_playlist(v, id, t);
  }
  push_ms(&seg_ms, &seg_n, &seg_cap, ms);
  h->segments++;
  h->last_segment_at = t;
  h->next_seq++;
  hls_next(v, id, t);
}

/* Body bytes of the current response (the playlist is kept, a segment only counted). */
static void hls_body(struct viewer *v, uint32_t id, const uint8_t *p, long n, double t) {
  struct hls_viewer *h = v->hls;
  if (n > h->body_left) n = h->body_left; /* nothing follows a response until we ask again */
  if (h->phase == 0 && h->text) {
    long room = HLS_PLAYLIST_MAX - h->text_len, take = n < room ? n : room;
    memcpy(h->text + h->text_len, p, take);
    h->text_len += take;
  }
  v->bytes += n;
  h->body_left -= n;
  if (h->body_left == 0) hls_done(v, id, t);
}

/* ---- --llhls viewers (see struct ll_viewer) ---- */

/* reload complete - hinted part complete (ms), per turn where both were 200 */
static double *ra_ms;
static long ra_n, ra_cap;

/* Counts the error by kind; the viewer closes both connections and starts over LL_RETRY_S later. */
static void ll_error(struct viewer *v, const char *why, double t) {
  struct ll_viewer *L = v->ll;
  fail_reason(why);
  L->errors++;
  v->failed = 1; /* "failed" in --llhls: had at least one error */
  ll_close(&L->c[LL_PL]);
  ll_close(&L->c[LL_PART]);
  L->phase = LL_RETRY;
  L->restart_at = t + LL_RETRY_S;
}

static void ll_http_error(struct viewer *v, const char *what, int status, double t) {
  char why[48];
  snprintf(why, sizeof why, "%s HTTP %d", what, status);
  ll_error(v, why, t);
}

/* Opens both connections (a fresh start: first playlist, backlog, loop). 0, or -1 after an error. */
static int ll_connect(struct viewer *v, uint32_t id, double t) {
  struct ll_viewer *L = v->ll;
  L->phase = LL_FIRST;
  L->backlog_n = L->backlog_i = 0;
  L->last_msn = -1; /* no gap check across a start-over: the error that caused it is counted */
  for (int ci = 0; ci < 2; ci++) {
    struct ll_conn *c = &L->c[ci];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return ll_error(v, strerror(errno), t), -1; /* EMFILE: fd limit below 2 x --viewers */
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS)
      return ll_error(v, strerror(errno), t), -1;
    c->state = C_CONNECTING;
    c->since = t;
    struct epoll_event e = {.events = EPOLLOUT, .data.u32 = id * 2 + ci};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) return ll_error(v, strerror(errno), t), -1;
  }
  L->c[LL_PL].pending = 1; /* the first playlist, once connected */
  return 0;
}

/* Sends what the connection asks for next: on the playlist connection the first playlist or this
 * turn's blocking reload, on the part connection the next backlog part or this turn's hinted part.
 * Waits for the connection to open if need be. 0, or -1 after an error. */
static int ll_send(struct viewer *v, int ci, double t) {
  struct ll_viewer *L = v->ll;
  struct ll_conn *c = &L->c[ci];
  if (c->state == C_CONNECTING) {
    c->pending = 1;
    return 0;
  }
  char path[1024], req[1280];
  if (ci == LL_PL && L->phase == LL_FIRST) snprintf(path, sizeof path, "%s", hls_path);
  else if (ci == LL_PL)
    snprintf(path, sizeof path, "%s%c_HLS_msn=%lld&_HLS_part=%d", hls_path, strchr(hls_path, '?') ? '&' : '?',
             L->hint.msn, L->hint.idx);
  else {
    const char *u = L->backlog_i < L->backlog_n ? L->backlog[L->backlog_i].uri : L->hint.uri;
    snprintf(path, sizeof path, "%s%s", u[0] == '/' ? "" : hls_dir, u);
  }
  int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: relaycast-flv-swarm\r\n\r\n",
                     path, hls_host);
  /* an idle keep-alive socket's send buffer always takes a request this small in one write */
  if (len >= (int)sizeof req || send(c->fd, req, len, MSG_NOSIGNAL) != len)
    return ll_error(v, "request write failed", t), -1;
  c->state = C_HEADERS;
  c->since = t;
  c->header_len = 0;
  c->bytes = 0;
  if (ci == LL_PL) L->pl_req_at = t;
  return 0;
}

static void ll_got(struct viewer *v, long long msn, int idx, long bytes, double t) {
  struct ll_viewer *L = v->ll;
  L->parts++;
  v->bytes += bytes; /* part bytes only: v->bytes - v->window_bytes > 0 = parts in the window */
  L->last_msn = msn, L->last_idx = idx;
  if (L->first_part_at < 0) L->first_part_at = t;
  L->last_part_at = t;
}

/* (msn, idx) from a part URI ending in <msn>.<idx>.m4s (origin/llhls.ts), before any query. */
static int ll_part_of_uri(const char *uri, long long *msn, int *idx) {
  const char *m4s = strstr(uri, ".m4s");
  if (!m4s) return -1;
  const char *p = m4s;
  while (p > uri && isdigit((unsigned char)p[-1])) p--;
  if (p == m4s || p == uri || p[-1] != '.') return -1;
  *idx = atoi(p);
  const char *q = --p;
  while (q > uri && isdigit((unsigned char)q[-1])) q--;
  if (q == p) return -1;
  *msn = atoll(q);
  return 0;
}

/* The quoted URI="..." attribute of a tag line into out; -1 when missing or too long. */
static int ll_uri_attr(const char *line, char *out) {
  const char *u = strstr(line, "URI=\"");
  if (!u) return -1;
  u += 5;
  const char *e = strchr(u, '"');
  if (!e || e - u >= LL_URI_MAX) return -1;
  memcpy(out, u, e - u);
  out[e - u] = 0;
  return 0;
}

/* What a viewer needs from a playlist (NUL-terminated, changed in place): the preload hint
 * (TYPE=PART, 4.4.5.3), EXT-X-ENDLIST, PART-TARGET and, walking the EXT-X-PART lines with their
 * (msn, index), the last LL_BACKLOG parts (want_last) and how many listed parts lie strictly
 * between (ref_msn, ref_idx) and (to_msn, to_idx). A segment's parts come before its URI line
 * (4.4.4.9), so the msn advances at each URI line. */
struct ll_listing {
  int has_hint, bad, ended, n_last, between;
  double part_target;
  struct ll_part hint, last[LL_BACKLOG];
};
static void ll_list(char *text, long long ref_msn, int ref_idx, long long to_msn, int to_idx, int want_last,
                    struct ll_listing *o) {
  o->has_hint = o->bad = o->ended = o->n_last = o->between = 0;
  o->part_target = 0;
  long long msn = 0;
  int idx = 0;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = 0;
    if (!strncmp(line, "#EXT-X-PART:", 12)) {
      int after_ref = msn > ref_msn || (msn == ref_msn && idx > ref_idx);
      int before_to = msn < to_msn || (msn == to_msn && idx < to_idx);
      if (ref_msn >= 0 && after_ref && before_to) o->between++;
      if (want_last) {
        if (o->n_last == LL_BACKLOG) memmove(o->last, o->last + 1, sizeof o->last - sizeof o->last[0]);
        else o->n_last++;
        struct ll_part *p = &o->last[o->n_last - 1];
        p->msn = msn, p->idx = idx;
        if (ll_uri_attr(line, p->uri) < 0) o->bad = 1;
      }
      idx++;
    } else if (!strncmp(line, "#EXT-X-PRELOAD-HINT:", 20) && strstr(line, "TYPE=PART")) {
      o->has_hint = 1;
      if (ll_uri_attr(line, o->hint.uri) < 0 || ll_part_of_uri(o->hint.uri, &o->hint.msn, &o->hint.idx) < 0)
        o->bad = 1;
    } else if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) {
      msn = atoll(line + 22);
    } else if (!strncmp(line, "#EXT-X-PART-INF:", 16)) {
      const char *pt = strstr(line, "PART-TARGET=");
      if (pt) o->part_target = atof(pt + 12);
    } else if (!strncmp(line, "#EXT-X-ENDLIST", 14)) {
      o->ended = 1;
    } else if (line[0] && line[0] != '#') {
      msn++, idx = 0; /* a segment URI: the parts after it are the next segment's */
    }
    line = nl ? nl + 1 : NULL;
  }
}

/* A turn: the blocking reload for the hinted part and (after any backlog) the part itself. */
static void ll_turn(struct viewer *v, double t) {
  struct ll_viewer *L = v->ll;
  L->pl_done = L->part_done = 0;
  /* the part the hint must follow: the backlog's last on the first turn, else the last one got */
  if (L->backlog_i < L->backlog_n)
    L->ref_msn = L->backlog[L->backlog_n - 1].msn, L->ref_idx = L->backlog[L->backlog_n - 1].idx;
  else L->ref_msn = L->last_msn, L->ref_idx = L->last_idx;
  if (ll_send(v, LL_PL, t) < 0) return;
  ll_send(v, LL_PART, t);
}

static void ll_stop(struct viewer *v) { /* the stream ended: this viewer is done */
  ll_close(&v->ll->c[LL_PL]);
  ll_close(&v->ll->c[LL_PART]);
  v->ll->phase = LL_ENDED;
}

/* Both halves of a turn are complete: figures, then the next turn on the reload's hint. */
static void ll_step(struct viewer *v, double t) {
  struct ll_viewer *L = v->ll;
  if (L->part_status == 200) {
    push_ms(&ra_ms, &ra_n, &ra_cap, (L->pl_at - L->part_at) * 1000);
    /* a gap: the hinted part is not the one after ref, i.e. (ref.msn, ref.idx + 1), or (ref.msn + 1, 0)
     * when the reload lists no part between them (ref was the last of its segment) */
    if (L->ref_msn >= 0) {
      int next = (L->hint.msn == L->ref_msn && L->hint.idx == L->ref_idx + 1) ||
                 (L->hint.msn == L->ref_msn + 1 && L->hint.idx == 0 && L->between == 0);
      if (!next) {
        L->gaps++;
        L->skipped += L->between > 0 ? L->between : 1;
        L->last_gap_at = t;
      }
    }
    ll_got(v, L->hint.msn, L->hint.idx, L->part_bytes, t);
  }
  if (L->ended || !L->next_ok) return ll_stop(v);
  L->hint = L->next;
  ll_turn(v, t);
}

/* The first playlist: where to start (the backlog, then the hint). */
static void ll_first_playlist(struct viewer *v, char *text, double t) {
  struct ll_viewer *L = v->ll;
  struct ll_listing o;
  ll_list(text, -1, 0, 0, 0, 1, &o);
  L->playlists++;
  if (o.part_target > 0) L->part_target = o.part_target;
  if (o.ended) return ll_stop(v);
  if (o.part_target <= 0) return ll_error(v, "not an LL-HLS playlist (no EXT-X-PART-INF)", t);
  if (!o.has_hint) return ll_stop(v);
  if (o.bad) return ll_error(v, "playlist URI not <msn>.<part>.m4s", t);
  memcpy(L->backlog, o.last, sizeof o.last);
  L->backlog_n = o.n_last, L->backlog_i = 0;
  L->hint = o.hint;
  L->phase = LL_LOOP;
  ll_turn(v, t);
}

/* A response on connection ci is complete (its body in text: playlist connection only). */
static void ll_complete(struct viewer *v, int ci, char *text, double t) {
  struct ll_viewer *L = v->ll;
  struct ll_conn *c = &L->c[ci];
  c->state = C_IDLE;
  int status = c->status;
  if (ci == LL_PART && L->backlog_i < L->backlog_n) { /* a backlog part */
    if (status != 200) return ll_http_error(v, "part", status, t);
    struct ll_part *p = &L->backlog[L->backlog_i++];
    ll_got(v, p->msn, p->idx, c->bytes, t);
    ll_send(v, LL_PART, t); /* the next backlog part, or this turn's hinted part */
    return;
  }
  if (ci == LL_PART) { /* the hinted part */
    /* 404: the server says it will not come (the stream was cut); llhls-swarm.ts ignores it too,
     * and the next hint then shows as a gap */
    if (status == 404) L->hint404++;
    else if (status != 200) return ll_http_error(v, "hinted part", status, t);
    L->part_status = status;
    L->part_bytes = c->bytes;
    L->part_at = t;
    L->part_done = 1;
  } else if (L->phase == LL_FIRST) {
    if (status != 200) return ll_http_error(v, "playlist", status, t);
    if (strncmp(text, "#EXTM3U", 7)) return ll_error(v, "not a playlist", t);
    return ll_first_playlist(v, text, t);
  } else { /* this turn's blocking reload */
    if (status != 200) return ll_http_error(v, "blocking reload", status, t);
    if (strncmp(text, "#EXTM3U", 7)) return ll_error(v, "not a playlist", t);
    push_ms(&pl_ms, &pl_n, &pl_cap, (t - L->pl_req_at) * 1000);
    struct ll_listing o;
    ll_list(text, L->ref_msn, L->ref_idx, L->hint.msn, L->hint.idx, 0, &o);
    if (o.bad) return ll_error(v, "preload hint URI not <msn>.<part>.m4s", t);
    L->playlists++;
    L->between = o.between;
    L->next = o.hint;
    L->next_ok = o.has_hint;
    L->ended = o.ended;
    L->pl_at = t;
    L->pl_done = 1;
  }
  if (L->pl_done && L->part_done) ll_step(v, t);
}

/* n body bytes of connection ci (a playlist's already in c->text; a part's only counted). */
static void ll_body(struct viewer *v, int ci, long n, double t) {
  struct ll_conn *c = &v->ll->c[ci];
  c->body_left -= n;
  c->bytes += n;
  if (c->text) c->text_len += n;
  if (c->body_left > 0) return;
  char *text = c->text; /* ours now: ll_complete may close the connection */
  c->text = NULL;
  if (text) text[c->text_len] = 0;
  ll_complete(v, ci, text, t);
  free(text);
}

/* n bytes of a response header (and maybe body) in buf. */
static void ll_header_bytes(struct viewer *v, int ci, long n, double t) {
  struct ll_conn *c = &v->ll->c[ci];
  char hdr[HEADER_MAX + 1];
  long hlen;        /* header length with its blank line */
  uint8_t *body;    /* body bytes of this read, in buf */
  uint8_t *end = c->header ? NULL : memmem(buf, n, "\r\n\r\n", 4);
  if (end && end + 4 - buf <= HEADER_MAX) { /* the usual case: the whole header in one read */
    hlen = end + 4 - buf;
    memcpy(hdr, buf, hlen);
    body = buf + hlen;
  } else { /* it spans reads: gather it in c->header */
    if (!c->header && !(c->header = malloc(HEADER_MAX))) return ll_error(v, "out of memory", t);
    long before = c->header_len, room = HEADER_MAX - before, take = n < room ? n : room;
    memcpy(c->header + before, buf, take);
    c->header_len += take;
    char *e = memmem(c->header, c->header_len, "\r\n\r\n", 4);
    if (!e) {
      if (c->header_len >= HEADER_MAX) ll_error(v, "response header too long", t);
      return;
    }
    hlen = e + 4 - c->header; /* > before: the blank line was not complete in the earlier reads */
    memcpy(hdr, c->header, hlen);
    body = buf + (hlen - before);
    free(c->header);
    c->header = NULL;
    c->header_len = 0;
  }
  hdr[hlen] = 0;
  long body_n = n - (body - buf);
  if (strncmp(hdr, "HTTP/1.", 7) || hlen < 12) return ll_error(v, "not an HTTP response", t);
  c->status = atoi(hdr + 9);
  char *cl = strcasestr(hdr, "\r\ncontent-length:");
  if (!cl) return ll_error(v, "response without Content-Length", t);
  long len = atol(cl + 17);
  if (len < 0) return ll_error(v, "bad Content-Length", t);
  if (body_n > len) body_n = len; /* nothing follows a response until we ask again */
  c->body_left = len;
  c->bytes = 0;
  c->state = C_BODY;
  if (ci == LL_PL) {
    if (len > LL_PLAYLIST_MAX) return ll_error(v, "playlist longer than 64 KB", t);
    if (body_n == len) { /* all here (the usual case): parsed in buf, NUL-terminated in its spare byte */
      body[len] = 0;
      c->body_left = 0;
      return ll_complete(v, ci, (char *)body, t);
    }
    if (!(c->text = malloc(len + 1))) return ll_error(v, "out of memory", t);
    memcpy(c->text, body, body_n);
    c->text_len = 0;
  }
  ll_body(v, ci, body_n, t);
}

static void ll_readable(struct viewer *v, int ci, double t) {
  struct ll_conn *c = &v->ll->c[ci];
  for (int reads = 0; reads < 8 && c->state >= C_IDLE; reads++) {
    long n;
    if (c->state == C_BODY && ci == LL_PART) {
      /* a part: counted in the kernel (MSG_TRUNC), never past its Content-Length */
      n = recv(c->fd, NULL, c->body_left, MSG_TRUNC | MSG_DONTWAIT);
      if (n > 0) {
        ll_body(v, ci, n, t);
        continue;
      }
    } else if (c->state == C_BODY) { /* the rest of a playlist */
      n = recv(c->fd, c->text + c->text_len, c->body_left, MSG_DONTWAIT);
      if (n > 0) {
        ll_body(v, ci, n, t);
        continue;
      }
    } else {
      /* a header: a playlist connection takes its whole small body with it; a part connection
       * reads at most HEADER_MAX, the part's body then goes by MSG_TRUNC */
      n = recv(c->fd, buf, ci == LL_PL ? sizeof buf - 1 : HEADER_MAX, MSG_DONTWAIT);
      if (n > 0) {
        if (c->state == C_IDLE) return ll_error(v, "bytes outside a response", t);
        ll_header_bytes(v, ci, n, t);
        continue;
      }
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    return ll_error(v, n == 0 ? "the server closed the connection" : strerror(errno), t);
  }
}

static void ll_event(struct viewer *vs, uint32_t data) {
  struct viewer *v = &vs[data >> 1];
  int ci = data & 1;
  if (!v->ll) return;
  struct ll_conn *c = &v->ll->c[ci];
  double t = now(); /* per event: reloadAfterPartMs is a difference of two completions */
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return ll_error(v, strerror(err), t);
    c->state = C_IDLE;
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = data};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
    if (c->pending) {
      c->pending = 0;
      ll_send(v, ci, t);
    }
  } else if (c->state >= C_IDLE) {
    ll_readable(v, ci, t);
  }
}

/* Clock-driven: starts over after LL_RETRY_S, gives up on a request after LL_TIMEOUT_S. */
static void ll_tick(struct viewer *v, uint32_t id, double t) {
  struct ll_viewer *L = v->ll;
  if (!L) return;
  if (L->phase == LL_RETRY && t >= L->restart_at) {
    L->restarts++;
    ll_connect(v, id, t);
    return;
  }
  for (int ci = 0; ci < 2; ci++) {
    struct ll_conn *c = &L->c[ci];
    if ((c->state == C_CONNECTING || c->state == C_HEADERS || c->state == C_BODY) && t - c->since > LL_TIMEOUT_S)
      return ll_error(v, c->state == C_CONNECTING ? "connect timed out" : "no response within 15 s", t);
  }
}

static void on_connected(struct viewer *v, uint32_t id) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return fail(v, strerror(err));
  if (hls_mode) return hls_get(v, id, hls_path, 0, now());
  /* a fresh socket's send buffer always takes a request this small in one write */
  if (send(v->fd, request, request_len, MSG_NOSIGNAL) != request_len) return fail(v, "request write failed");
  struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = id};
  epoll_ctl(epfd, EPOLL_CTL_MOD, v->fd, &e);
  v->state = HEADERS;
  v->header = malloc(HEADER_MAX + 1);
  if (!v->header) return fail(v, "out of memory");
}

static void on_header_bytes(struct viewer *v, uint32_t id, long n, double t) {
  if (v->ttfb < 0) v->ttfb = t - v->t0;
  long room = HEADER_MAX - v->header_len, take = n < room ? n : room;
  memcpy(v->header + v->header_len, buf, take);
  v->header_len += take;
  v->header[v->header_len] = 0;
  char *end = strstr(v->header, "\r\n\r\n");
  if (!end) {
    if (v->header_len >= HEADER_MAX) fail(v, "response header too long");
    return;
  }
  if (strncmp(v->header, "HTTP/1.", 7) || v->header_len < 12) return fail(v, "not an HTTP response");
  int status = atoi(v->header + 9);
  if (status != 200) {
    char why[32];
    snprintf(why, sizeof why, "HTTP %d", status);
    return fail(v, why);
  }
  if (v->hls) {
    char *cl = strcasestr(v->header, "\r\ncontent-length:");
    if (!cl || cl > end) return fail(v, "HLS response without Content-Length");
    v->hls->body_left = atol(cl + 17);
    if (v->hls->phase == 0) {
      if (!(v->hls->text = malloc(HLS_PLAYLIST_MAX + 1))) return fail(v, "out of memory");
      v->hls->text_len = 0;
    }
  }
  if (v->probe) v->probe->chunked = strcasestr(v->header, "\r\ntransfer-encoding: chunked") != NULL;
  /* body bytes that came in the same read as the end of the header */
  long header_bytes = end + 4 - v->header, body = v->header_len - header_bytes;
  long body_in_buf = body + (n - take);
  free(v->header);
  v->header = NULL;
  v->state = BODY;
  if (v->hls) {
    /* a body may be empty, or all here: hls_body completes it (and may send the next request) */
    if (body_in_buf > 0 || v->hls->body_left == 0) hls_body(v, id, buf + (n - body_in_buf), body_in_buf, t);
    return;
  }
  if (body_in_buf > 0) {
    v->bytes += body_in_buf;
    if (v->probe) probe_body(v, buf + (n - body_in_buf), body_in_buf, t);
  }
}

static void on_readable(struct viewer *v, uint32_t id, double t) {
  /* bounded: a probe drains at most 8 buffers per wake-up, so one fast socket cannot starve others */
  for (int reads = 0; reads < 8 && v->state != DONE; reads++) {
    long n;
    if (v->hls && v->state == BODY && v->hls->phase == 1) {
      /* a segment: count it in the kernel (MSG_TRUNC), never past its Content-Length */
      n = recv(v->fd, NULL, v->hls->body_left, MSG_TRUNC | MSG_DONTWAIT);
      if (n > 0) {
        hls_body(v, id, NULL, n, t);
        continue;
      }
    } else if (v->hls && v->state == BODY && v->hls->phase == 0) {
      n = recv(v->fd, buf, v->hls->body_left < (long)sizeof buf ? v->hls->body_left : (long)sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        hls_body(v, id, buf, n, t);
        continue;
      }
    } else if (v->state == BODY && !v->probe && !v->hls) {
      /* MSG_TRUNC on TCP (tcp(7)): discard up to len queued bytes in the kernel, no copy */
      n = recv(v->fd, NULL, 1L << 30, MSG_TRUNC | MSG_DONTWAIT);
      if (n > 0) {
        v->bytes += n;
        return;
      }
    } else {
      n = recv(v->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        if (v->state == HEADERS) on_header_bytes(v, id, n, t);
        else {
          v->bytes += n;
          probe_body(v, buf, n, t);
        }
        if (n < (long)sizeof buf) return;
        continue;
      }
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (v->hls) return fail(v, n == 0 ? "the server closed the connection" : strerror(errno));
    if (v->state == BODY) {
      v->closed_early = 1; /* the server ended a stream that should still be playing */
      finish(v);
    } else {
      fail(v, n == 0 ? "closed before the response header" : strerror(errno));
    }
  }
}

static void on_event(struct viewer *v, uint32_t id, double t) {
  if (v->state == CONNECTING) on_connected(v, id);
  else if (v->state != DONE) on_readable(v, id, t);
}

/* Runs viewers [from, to) until `until`, starting `ramp` per second from `start`. Bounded by
 * `until` whatever the server does. Calls `tick` every loop turn for clock-driven sampling. */
static void run_loop(struct viewer *vs, int from, int to, int probe_every, double ramp, double start,
                     double until, void (*tick)(double)) {
  int started = from;
  double ll_tick_at = 0;
  struct epoll_event events[1024];
  for (;;) {
    double t = now();
    if (t >= until) return;
    long want = from + (long)((t - start) * ramp) + 1;
    if (want > to) want = to;
    while (started < want) {
      start_viewer(&vs[started], (uint32_t)started, probe_every > 0 && started % probe_every == 0);
      started++;
    }
    if (tick) tick(t);
    if (ll_mode && t - ll_tick_at >= 0.05) { /* start-overs and time-outs of --llhls viewers */
      ll_tick_at = t;
      for (int i = from; i < started; i++) ll_tick(&vs[i], (uint32_t)i, t);
    }
    if (hls_mode) /* idle HLS viewers whose next playlist poll is due */
      for (int i = from; i < started; i++) {
        struct viewer *v = &vs[i];
        if (v->state == BODY && v->hls && v->hls->phase == 2 && v->hls->next_poll <= t)
          hls_get(v, (uint32_t)i, hls_path, 0, t);
      }
    /* while ramping, wake every 5 ms to keep the connect pace even; then at most every 50 ms
     * (HLS: every 5 ms, to poll on time) */
    int wait_ms = started < to || hls_mode ? 5 : 50;
    double left_ms = (until - t) * 1000;
    if (left_ms < wait_ms) wait_ms = (int)left_ms + 1;
    int k = epoll_wait(epfd, events, 1024, wait_ms);
    t = now();
    for (int i = 0; i < k; i++) {
      if (ll_mode) ll_event(vs, events[i].data.u32); /* data: viewer * 2 + connection */
      else on_event(&vs[events[i].data.u32], events[i].data.u32, t);
    }
    /* Once everyone has started, let data pile up for a moment: one recv then takes several of the
     * server's writes, so the swarm makes fewer syscalls per byte. Skipped while ramping, when
     * TTFB and TTFK are being timed. Never for HLS and LL-HLS, whose response times are measured. */
    if (started >= to && batch_ms > 0 && k < 1024 && !hls_mode && !ll_mode) {
      double sleep_s = batch_ms / 1000.0 - (now() - t);
      if (sleep_s > 0 && t + sleep_s < until) {
        struct timespec ts = {0, (long)(sleep_s * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
  }
}

/* ---- steady-state sampling (clock-driven, from run_loop's tick) ---- */
static int server_pgid;
static double window_from, steady_t0 = -1, window_t0 = -1;
static double server_cpu0, self_cpu0, rss_peak_mb, pss_peak_mb, last_rss_at;
static struct viewer *viewers;
static int viewer_count;

static void sample(double t) {
  if (steady_t0 < 0 && t >= steady_from) {
    steady_t0 = t;
    self_cpu0 = self_cpu();
    if (server_pgid) {
      double rss;
      group_usage(server_pgid, &server_cpu0, &rss, NULL);
    }
  }
  if (window_t0 < 0 && t >= window_from) {
    window_t0 = t;
    for (int i = 0; i < viewer_count; i++) viewers[i].window_bytes = viewers[i].bytes;
  }
  if (server_pgid && t - last_rss_at >= 1.0) { /* a /proc walk costs ~1 ms: once a second */
    last_rss_at = t;
    double cpu, rss, pss;
    group_usage(server_pgid, &cpu, &rss, &pss);
    if (rss > rss_peak_mb) rss_peak_mb = rss;
    if (pss > pss_peak_mb) pss_peak_mb = pss;
  }
}

/* same convention as bench/viewer-stats.ts percentile(): sorted[floor(p * n)] */
static double pct(double *xs, int n, double p) {
  if (!n) return -1;
  qsort(xs, n, sizeof *xs, cmp_double);
  int i = (int)(p * n);
  return xs[i < n ? i : n - 1];
}

/* The start of the JSON line, every mode: the tool, the counts, and the failures by reason. */
static void print_head(const char *tool, int n, int connected, int failed) {
  printf("{\"tool\":\"%s\",\"requested\":%d,\"connected\":%d,\"failed\":%d,\"failures\":{", tool, n, connected,
         failed);
  print_reasons();
  printf("}");
}

/* The end of the JSON line, both modes: the server's CPU and memory, the swarm's own CPU, load. */
static void print_usage_tail(int n, double steady_s, double self_cpu_pct, double self_cpu_whole, double server_cpu_pct,
                             double rss_base_mb, double pss_base_mb) {
  if (server_pgid)
    printf("\"server\":{\"pgid\":%d,\"cpuPctSteady\":%.1f,\"rssBaseMB\":%.1f,\"rssPeakMB\":%.1f,"
           "\"rssKBPerViewer\":%.1f,\"pssBaseMB\":%.1f,\"pssPeakMB\":%.1f,\"pssKBPerViewer\":%.1f,"
           "\"steadySeconds\":%.1f},",
           server_pgid, server_cpu_pct, rss_base_mb, rss_peak_mb, (rss_peak_mb - rss_base_mb) * 1024 / n,
           pss_base_mb, pss_peak_mb, (pss_peak_mb - pss_base_mb) * 1024 / n, steady_s);
  printf("\"self\":{\"cpuPctSteady\":%.1f,\"cpuPctWhole\":%.1f},", self_cpu_pct, self_cpu_whole);
  if (server_pgid) printf("\"clientCostsMoreThanServer\":%s,", self_cpu_pct > server_cpu_pct ? "true" : "false");
  double loadavg[1] = {-1};
  getloadavg(loadavg, 1);
  printf("\"loadavg1\":%.2f}\n", loadavg[0]);
}

static const char usage[] =
    "usage: flv-swarm --url http://127.0.0.1:PORT/live/NAME.flv [-n VIEWERS] [options]\n"
    "\n"
    "HTTP-FLV viewer swarm for loopback load tests; prints one JSON line. Most viewers discard the\n"
    "body in the kernel (recv MSG_TRUNC); every --probe-every'th one parses chunking and FLV tags.\n"
    "\n"
    "  --url URL            stream to play; the host must be in 127.0.0.0/8 (required)\n"
    "  -n, --viewers N      viewers (default 1000)\n"
    "  --ramp R             new viewers per second (default 500)\n"
    "  --duration S         steady seconds after the ramp ends (default 25)\n"
    "  --min-kbps K         a viewer is healthy at >= K kbit/s over the window (default 2000)\n"
    "  --window S           the last S seconds, for kbps and health (default 10)\n"
    "  --probe-every K      every K-th viewer parses the stream (default 50; 0 = none)\n"
    "  --pid PID            server process-group leader: CPU and RSS summed over the group,\n"
    "                       from ramp end + 2 s (start the server with setsid)\n"
    "  --warmup S           first run 100 viewers for S seconds and close them (JIT warm-up)\n"
    "  --batch-ms MS        after the ramp, wait MS between reads so one recv takes several server\n"
    "                       writes: ~40 % less client CPU; probe lag is timed to MS (default 50)\n"
    "  --hls                the URL is an MPEG-TS media playlist (.ts.m3u8): each viewer polls it as\n"
    "                       hls.js does (its target duration, half when nothing new) on one keep-alive\n"
    "                       connection and fetches every new segment once, in order, from 3 before the\n"
    "                       live edge; reports playlist and segment response times and missed segments\n"
    "  --llhls              the URL is a Low-Latency HLS playlist (relaycast: /APP/NAME.m3u8 or\n"
    "                       /APP/NAME/ll.m3u8): each viewer plays it as hls.js does, on two keep-alive\n"
    "                       connections (playlist, parts): the playlist once, the last 3 listed parts,\n"
    "                       then a loop of a blocking reload (?_HLS_msn=M&_HLS_part=P) and a GET of the\n"
    "                       hinted part (M, P) in parallel, the reload's new hint for the next turn.\n"
    "                       Reports reloadAfterPartMs (reload complete - part complete, per turn; may be\n"
    "                       negative), playlistMs (blocking reload sent -> complete), firstPartMs (start\n"
    "                       -> first part), parts, gaps (turns whose part was not the one after the last\n"
    "                       one got: the viewer fell a part behind; partsSkipped counts the parts),\n"
    "                       errors by kind in failures (after one, a viewer starts over 0.2 s later;\n"
    "                       failed = viewers with an error). healthy = no error in the whole run, parts\n"
    "                       and no gap in the last --window seconds, and a part within the last 3\n"
    "                       PART-TARGETs (the PART-HOLD-BACK a player keeps) or 1 s, whichever is longer\n"
    "  -h, --help           this text\n";

static int bad_usage(const char *msg, const char *arg) {
  fprintf(stderr, "flv-swarm: %s%s; see --help\n", msg, arg ? arg : "");
  return 2;
}

int main(int argc, char **argv) {
  const char *url = NULL;
  int n = 1000, probe_every = 50, pid = 0;
  double ramp = 500, duration = 25, min_kbps = 2000, window = 10, warmup = 0;
  static const struct option opts[] = {
      {"url", required_argument, 0, 'u'},       {"viewers", required_argument, 0, 'n'},
      {"ramp", required_argument, 0, 'r'},      {"duration", required_argument, 0, 'd'},
      {"min-kbps", required_argument, 0, 'k'},  {"window", required_argument, 0, 'w'},
      {"probe-every", required_argument, 0, 'p'}, {"pid", required_argument, 0, 'P'},
      {"warmup", required_argument, 0, 'W'},    {"batch-ms", required_argument, 0, 'B'},    {"help", no_argument, 0, 'h'},
      {"hls", no_argument, 0, 'H'},             {"llhls", no_argument, 0, 'L'},
      {0, 0, 0, 0}};
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1;) {
    switch (c) {
      case 'u': url = optarg; break;
      case 'n': n = atoi(optarg); break;
      case 'r': ramp = atof(optarg); break;
      case 'd': duration = atof(optarg); break;
      case 'k': min_kbps = atof(optarg); break;
      case 'w': window = atof(optarg); break;
      case 'p': probe_every = atoi(optarg); break;
      case 'P': pid = atoi(optarg); break;
      case 'W': warmup = atof(optarg); break;
      case 'B': batch_ms = atof(optarg); break;
      case 'H': hls_mode = 1; break;
      case 'L': ll_mode = 1; break;
      case 'h': fputs(usage, stdout); return 0;
      default: return bad_usage("unknown or incomplete option ", argv[optind - 1]);
    }
  }
  if (optind < argc) return bad_usage("unexpected argument ", argv[optind]);
  if (!url) return bad_usage("--url is required", NULL);
  if (n < 1 || n > 1000000) return bad_usage("--viewers must be 1..1000000", NULL);
  if (ramp <= 0 || duration <= 0 || window <= 0 || warmup < 0 || probe_every < 0)
    return bad_usage("--ramp, --duration and --window must be > 0, --warmup and --probe-every >= 0", NULL);
  if (batch_ms < 0 || batch_ms >= 1000) return bad_usage("--batch-ms must be 0..999", NULL);
  if (hls_mode && ll_mode) return bad_usage("--hls and --llhls are exclusive", NULL);

  /* http://HOST:PORT/PATH, HOST an IPv4 loopback address (or localhost) */
  char host[64], path[512];
  int port = 80;
  if (strncmp(url, "http://", 7)) return bad_usage("--url must start with http:// (got ", url);
  const char *hp = url + 7, *slash = strchr(hp, '/');
  if (!slash) slash = hp + strlen(hp);
  snprintf(host, sizeof host, "%.*s", (int)(slash - hp), hp);
  snprintf(path, sizeof path, "%s", *slash ? slash : "/");
  char *colon = strchr(host, ':');
  if (colon) *colon = 0, port = atoi(colon + 1);
  if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  if (!inet_aton(host, &server.sin_addr) || ntohl(server.sin_addr.s_addr) >> 24 != 127)
    return bad_usage("--url must name a 127.0.0.0/8 address (loopback load tests only), not ", host);
  if (hls_mode || ll_mode) {
    snprintf(hls_path, sizeof hls_path, "%s", path);
    snprintf(hls_dir, sizeof hls_dir, "%.*s", (int)(strrchr(path, '/') - path + 1), path);
    snprintf(hls_host, sizeof hls_host, "%s:%d", host, port);
    probe_every = 0;
  }
  request_len = snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: relaycast-flv-swarm\r\nAccept: */*\r\n\r\n",
                         path, host, port);

  if (pid) {
    int leader = leads_group(pid);
    if (leader < 0) {
      fprintf(stderr, "flv-swarm: --pid %d: no such process; pass the server's pid (its group leader)\n", pid);
      return 2;
    }
    if (!leader) {
      fprintf(stderr, "flv-swarm: --pid %d does not lead its process group, so its workers would not be "
                      "counted; start the server with setsid (Node: spawn(..., { detached: true }))\n", pid);
      return 2;
    }
    server_pgid = pid;
  }

  /* one fd per viewer: raise the soft limit as far as the hard limit allows */
  int warm_n = warmup > 0 ? 100 : 0;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)(n > warm_n ? n : warm_n) * (ll_mode ? 2 : 1) + 64; /* --llhls: 2 per viewer */
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
      fprintf(stderr, "flv-swarm: the fd limit is %lu, below %d viewers; raise it (ulimit -n %lu) or "
                      "expect EMFILE failures\n", (unsigned long)rl.rlim_cur, n, (unsigned long)need);
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  viewer_count = n;
  viewers = calloc(n > warm_n ? n : warm_n, sizeof *viewers);
  if (epfd < 0 || !viewers) {
    fprintf(stderr, "flv-swarm: cannot allocate %d viewers: %s\n", n, strerror(errno));
    return 1;
  }

  if (warm_n) { /* the warm-up viewers are closed and forgotten before the measured run */
    double t = now();
    run_loop(viewers, 0, warm_n, 0, ramp, t, t + warmup, NULL);
    for (int i = 0; i < warm_n; i++) {
      finish(&viewers[i]);
      free(viewers[i].probe);
      free(viewers[i].hls);
      free(viewers[i].ll);
    }
    memset(reasons, 0, sizeof reasons);
    pl_n = seg_n = ra_n = pl_steady_n = 0;
  }

  double rss_base_mb = 0, pss_base_mb = 0, cpu;
  if (server_pgid) group_usage(server_pgid, &cpu, &rss_base_mb, &pss_base_mb);
  double start = now(), ramp_end = start + n / ramp, end = ramp_end + duration;
  steady_from = ramp_end + 2 < end ? ramp_end + 2 : ramp_end;
  window_from = end - window > ramp_end ? end - window : ramp_end;
  double self_cpu_start = self_cpu();
  run_loop(viewers, 0, n, probe_every, ramp, start, end, sample);
  double t_end = now();
  double server_cpu1 = 0, rss_end = 0, pss_end = 0, self_cpu1 = self_cpu();
  if (server_pgid) group_usage(server_pgid, &server_cpu1, &rss_end, &pss_end);
  if (rss_end > rss_peak_mb) rss_peak_mb = rss_end;
  if (pss_end > pss_peak_mb) pss_peak_mb = pss_end;
  if (steady_t0 < 0) steady_t0 = t_end, self_cpu0 = self_cpu1, server_cpu0 = server_cpu1;
  if (window_t0 < 0) window_t0 = start;

  double steady_s = t_end - steady_t0, window_s = t_end - window_t0;
  /* every mode's line reports the server's and the swarm's CPU over the steady window */
  double server_cpu_pct = server_pgid ? (server_cpu1 - server_cpu0) / steady_s * 100 : -1;
  double self_cpu_pct = (self_cpu1 - self_cpu0) / steady_s * 100;
  if (ll_mode) {
    int connected = 0, failed = 0, healthy = 0, got_parts = 0, with_gaps = 0, ended = 0;
    long parts = 0, gaps = 0, skipped = 0, errors = 0, restarts = 0, hint404 = 0, n_first = 0;
    double bytes = 0, part_target = 0, *first = calloc(n, sizeof(double));
    for (int i = 0; i < n; i++) {
      struct viewer *v = &viewers[i];
      struct ll_viewer *L = v->ll;
      failed += v->failed;
      if (!L) continue;
      connected += L->playlists > 0;
      got_parts += L->parts > 0;
      with_gaps += L->gaps > 0;
      ended += L->phase == LL_ENDED;
      parts += L->parts, gaps += L->gaps, skipped += L->skipped, errors += L->errors;
      restarts += L->restarts, hint404 += L->hint404;
      bytes += v->bytes;
      if (L->part_target > 0) part_target = L->part_target;
      if (L->first_part_at >= 0 && first) first[n_first++] = (L->first_part_at - v->t0) * 1000;
      /* healthy: no error in the whole run; parts, and no gap, in the window; and still getting parts
       * at the end: one within 3 PART-TARGETs (the PART-HOLD-BACK a player keeps) or 1 s */
      double stale_s = 3 * L->part_target > 1.0 ? 3 * L->part_target : 1.0;
      healthy += !v->failed && v->bytes > v->window_bytes && L->last_gap_at < window_t0 &&
                 L->last_part_at >= 0 && t_end - L->last_part_at <= stale_s;
      finish(v);
    }
    print_head("flv-swarm --llhls", n, connected, failed);
    printf(",\"errors\":%ld,\"restarts\":%ld,\"healthy\":%d,\"windowSeconds\":%.1f,\"ended\":%d,", errors,
           restarts, healthy, window_s, ended);
    printf("\"gotParts\":%d,\"parts\":%ld,\"gaps\":%ld,\"partsSkipped\":%ld,\"viewersWithGaps\":%d,"
           "\"hintedPart404\":%ld,\"partTargetS\":%.3f,\"partMbps\":%.1f,",
           got_parts, parts, gaps, skipped, with_gaps, hint404, part_target, bytes * 8 / 1e6 / (t_end - start));
    double ra_min = pct(ra_ms, ra_n, 0); /* sorts ra_ms (argument order is unspecified) */
    printf("\"reloadAfterPartMs\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"min\":%.1f,\"n\":%ld},",
           pct(ra_ms, ra_n, 0.5), pct(ra_ms, ra_n, 0.95), pct(ra_ms, ra_n, 0.99), pct(ra_ms, ra_n, 1.0), ra_min,
           ra_n);
    printf("\"playlistMs\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"n\":%ld},",
           pct(pl_ms, pl_n, 0.5), pct(pl_ms, pl_n, 0.95), pct(pl_ms, pl_n, 0.99), pct(pl_ms, pl_n, 1.0), pl_n);
    printf("\"firstPartMs\":{\"p50\":%.1f,\"p95\":%.1f,\"n\":%ld},", pct(first, n_first, 0.5),
           pct(first, n_first, 0.95), n_first);
    print_usage_tail(n, steady_s, self_cpu_pct, (self_cpu1 - self_cpu_start) / (t_end - start) * 100,
                     server_cpu_pct, rss_base_mb, pss_base_mb);
    return 0;
  }
  if (hls_mode) {
    int connected = 0, failed = 0, healthy = 0, missed = 0, segments = 0;
    for (int i = 0; i < n; i++) {
      struct viewer *v = &viewers[i];
      struct hls_viewer *h = v->hls;
      failed += v->failed;
      if (!h) continue;
      connected += h->playlists > 0;
      missed += h->missed;
      segments += h->segments;
      /* healthy: never failed, missed nothing, and got a segment within the last 3 target durations */
      healthy += !v->failed && h->missed == 0 && h->segments > 0 && t_end - h->last_segment_at <= 3 * h->target_s;
      finish(v);
    }
    print_head("flv-swarm --hls", n, connected, failed);
    printf(",\"healthy\":%d,\"missedSegments\":%d,\"segmentsFetched\":%d,", healthy, missed, segments);
    printf("\"playlistMs\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"n\":%ld},",
           pct(pl_ms, pl_n, 0.5), pct(pl_ms, pl_n, 0.95), pct(pl_ms, pl_n, 0.99), pct(pl_ms, pl_n, 1.0), pl_n);
    /* the same after the ramp: segment bursts only, no joins */
    printf("\"playlistMsSteady\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"n\":%ld},",
           pct(pl_steady_ms, pl_steady_n, 0.5), pct(pl_steady_ms, pl_steady_n, 0.95),
           pct(pl_steady_ms, pl_steady_n, 0.99), pct(pl_steady_ms, pl_steady_n, 1.0), pl_steady_n);
    printf("\"segmentMs\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"n\":%ld},", pct(seg_ms, seg_n, 0.5),
           pct(seg_ms, seg_n, 0.99), pct(seg_ms, seg_n, 1.0), seg_n);
    printf("\"ttfbMs\":{\"p50\":-1,\"p95\":-1,\"n\":0},\"ttfkMs\":{\"p50\":-1,\"p95\":-1,\"n\":0},");
    print_usage_tail(n, steady_s, self_cpu_pct, (self_cpu1 - self_cpu_start) / (t_end - start) * 100,
                     server_cpu_pct, rss_base_mb, pss_base_mb);
    return 0;
  }
  int connected = 0, failed = 0, closed_early = 0, healthy = 0, probes = 0, behind = 0, on_keyframe = 0;
  int waiting_connect = 0, waiting_response = 0; /* neither playing nor failed when the run ended */
  double *ttfb = calloc(n, sizeof(double)), *ttfk = calloc(n, sizeof(double)), *kbps = calloc(n, sizeof(double));
  double *lag = calloc(n, sizeof(double));
  int n_ttfb = 0, n_ttfk = 0, n_kbps = 0, n_lag = 0;
  for (int i = 0; i < n; i++) {
    struct viewer *v = &viewers[i];
    failed += v->failed;
    closed_early += v->closed_early;
    /* connected = got a 200 response header (and so started playing) */
    connected += v->state == BODY || v->closed_early;
    waiting_connect += v->state == CONNECTING;
    waiting_response += v->state == HEADERS;
    if (!v->failed && v->ttfb >= 0) ttfb[n_ttfb++] = v->ttfb * 1000;
    if (v->ttfk >= 0) ttfk[n_ttfk++] = v->ttfk * 1000;
    if (v->state == BODY) {
      double rate = (v->bytes - v->window_bytes) * 8 / 1000.0 / window_s;
      kbps[n_kbps++] = rate;
      healthy += rate >= min_kbps;
    }
    struct flv_walk *w = v->probe;
    if (w) {
      probes++;
      on_keyframe += w->started_on_keyframe == 1;
      /* lag = wall time elapsed - media time elapsed since the first video frame */
      double l = w->started_on_keyframe < 0 ? 1e9
                                            : (t_end - w->first_video_wall) - (w->last_video_ts - w->first_video_ts) / 1000.0;
      if (w->started_on_keyframe >= 0) lag[n_lag++] = l * 1000;
      behind += v->state != BODY || l > BEHIND_LIMIT_S;
    }
    finish(v);
  }
  double lag_max = n_lag ? pct(lag, n_lag, 1.0) : -1;
  print_head("flv-swarm", n, connected, failed);
  printf(",\"waitingConnect\":%d,\"waitingResponse\":%d,\"closedEarly\":%d,\"healthy\":%d,\"minKbps\":%.0f,",
         waiting_connect, waiting_response, closed_early, healthy, min_kbps);
  printf("\"kbpsWindow\":{\"p05\":%.0f,\"p50\":%.0f,\"seconds\":%.1f},", pct(kbps, n_kbps, 0.05),
         pct(kbps, n_kbps, 0.5), window_s);
  printf("\"ttfbMs\":{\"p50\":%.1f,\"p95\":%.1f,\"n\":%d},", pct(ttfb, n_ttfb, 0.5), pct(ttfb, n_ttfb, 0.95), n_ttfb);
  printf("\"ttfkMs\":{\"p50\":%.1f,\"p95\":%.1f,\"n\":%d},", pct(ttfk, n_ttfk, 0.5), pct(ttfk, n_ttfk, 0.95), n_ttfk);
  printf("\"probes\":%d,\"probesStartedOnKeyframe\":%d,\"probesBehind2s\":%d,\"probeLagMs\":{\"p50\":%.0f,\"max\":%.0f},",
         probes, on_keyframe, behind, n_lag ? pct(lag, n_lag, 0.5) : -1, lag_max);
  print_usage_tail(n, steady_s, self_cpu_pct, (self_cpu1 - self_cpu_start) / (t_end - start) * 100,
                   server_cpu_pct, rss_base_mb, pss_base_mb);
  return 0;
}
