/*
 * bench/udp-send.c: replays an MPEG-TS file as N constant-bitrate UDP streams, the way a head-end
 * (or a multicast TV feed) sends them: 1316-byte datagrams (7 TS packets), channel i to
 * HOST:(PORT+i), or to group A.B.C.(D+i) when HOST is a multicast address. Each channel starts at
 * a different offset in the file and loops it. Paced every millisecond against the wall clock so
 * the rate holds whatever the scheduler does. Costs a few % of a core at 400 Mbit/s: the measured
 * server, not this sender, is what runs out.
 *
 *   udp-send FILE HOST PORT CHANNELS KBPS SECONDS
 *
 * Prints one JSON line: {"sent":[datagrams per channel…],"seconds":S}. Built by bench/sources.ts.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DGRAM 1316

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: udp-send FILE HOST PORT CHANNELS KBPS SECONDS\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f) / DGRAM * DGRAM;
  fseek(f, 0, SEEK_SET);
  if (size < DGRAM) { fprintf(stderr, "file too small\n"); return 1; }
  unsigned char *data = malloc(size);
  if (fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
  fclose(f);
  int port = atoi(argv[3]), channels = atoi(argv[4]);
  double kbps = atof(argv[5]), seconds = atof(argv[6]);
  if (channels < 1 || channels > 1000 || kbps <= 0 || seconds <= 0) { fprintf(stderr, "bad arguments\n"); return 2; }
  struct in_addr base;
  if (!inet_aton(argv[2], &base)) { fprintf(stderr, "HOST must be an IPv4 address\n"); return 2; }
  int multicast = (ntohl(base.s_addr) >> 28) == 14;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int ttl = 1;
  setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
  int sndbuf = 8 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in *to = calloc(channels, sizeof *to);
  long *offset = calloc(channels, sizeof *offset);
  long *sent = calloc(channels, sizeof *sent);
  long ndgrams = size / DGRAM;
  for (int i = 0; i < channels; i++) {
    to[i].sin_family = AF_INET;
    to[i].sin_port = htons(multicast ? port : port + i);
    to[i].sin_addr.s_addr = multicast ? htonl(ntohl(base.s_addr) + i) : base.s_addr;
    offset[i] = (ndgrams * i / channels) * DGRAM;
  }
  double perSecond = kbps * 1000 / 8 / DGRAM; /* datagrams per second per channel */
  double t0 = now(), end = t0 + seconds;
  for (;;) {
    double t = now();
    if (t >= end) break;
    long due = (long)((t - t0) * perSecond);
    for (int i = 0; i < channels; i++) {
      while (sent[i] < due) {
        if (sendto(s, data + offset[i], DGRAM, 0, (struct sockaddr *)&to[i], sizeof to[i]) < 0) break;
        sent[i]++;
        offset[i] += DGRAM;
        if (offset[i] >= size) offset[i] = 0;
      }
    }
    usleep(1000);
  }
  printf("{\"seconds\":%.3f,\"sent\":[", now() - t0);
  for (int i = 0; i < channels; i++) printf("%s%ld", i ? "," : "", sent[i]);
  printf("]}\n");
  return 0;
}
