/*
 * bench/whep-swarm.c: hundreds of WHEP (WebRTC) viewers from one process, cheap enough that the
 * server, not the client, is what runs out of CPU. The werift viewers of bench/webrtc-swarm-client.ts
 * decrypt every packet in JavaScript and cost as much CPU as the server on this 2-core box, so at
 * 200 viewers the box, not the server, was full. Here a viewer does what a browser does on the
 * wire and no more:
 *
 *   1. POSTs an SDP offer (recvonly H.264 packetization-mode 1 + Opus, BUNDLE, rtcp-mux, its ICE
 *      credentials and its certificate's fingerprint, one host candidate) to the WHEP URL
 *      (draft-ietf-wish-whep) and reads the 201 answer: ICE credentials, candidate, fingerprint.
 *   2. ICE as the controlling agent (RFC 8445 7.2.2, the server is ICE-lite): STUN Binding
 *      requests with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY
 *      (HMAC-SHA1 keyed with the server's ice-pwd) and FINGERPRINT (RFC 8489 14.5, 14.7), sent
 *      again (same transaction) every 250 ms until the success response.
 *   3. DTLS 1.2 with the use_srtp extension (RFC 5764) through OpenSSL on the same connected UDP
 *      socket, as the DTLS server when the answer says a=setup:active (werift's answer does, as
 *      browsers' do) and the client otherwise; the peer's certificate must match the answer's
 *      fingerprint.
 *   4. Media: counts SRTP packets per payload type from their clear RTP header (RFC 3711 3.1: the
 *      header is not encrypted), reading with recvmmsg(MSG_TRUNC) into 64-byte buffers so the
 *      payload is never copied to user space, and tracks video sequence numbers for loss. It does
 *      not decrypt or decode. Like a browser it sends an RTCP receiver report every second
 *      (RFC 3550 6.4.2, encrypted as SRTCP with the keys DTLS exported: RFC 3711 4.1 and 4.2 for
 *      AES_CM_128_HMAC_SHA1_80, RFC 7714 9 for AEAD_AES_128_GCM; relaycast ends a session whose
 *      viewer has sent no RTCP for a while) and a STUN Binding request every 5 s for consent
 *      (RFC 7675); it sends no NACK or PLI.
 *
 * After the ramp the swarm reads every --batch-ms (20) instead of on every datagram, so one
 * recvmmsg takes several packets. Prints one JSON line (the shape of webrtc-swarm-client.ts's) on
 * SIGUSR2 or --ramp + --duration seconds after its start, then DELETEs every session it made
 * (each bounded to 2 s) and exits. Loopback only (127.0.0.0/8). Built by bench/webrtc-swarm.ts:
 * gcc -O2 whep-swarm.c -lssl -lcrypto (Debian: libssl-dev).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
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

#define HTTP_MAX 65536      /* a WHEP answer is a few KiB */
#define SETUP_TIMEOUT_S 20  /* POST to DTLS done; the server's own limit is 15 s */
#define CHECK_EVERY_S 0.25  /* ICE check retransmission (same transaction, RFC 8489 6.2.1) */
#define CONSENT_EVERY_S 5.0 /* RFC 7675 consent check interval, as browsers */
#define SECONDS 64          /* per-second byte buckets kept per viewer (>= --recent) */
#define BATCH 32            /* datagrams per recvmmsg */
#define RR_EVERY_S 1.0      /* receiver reports, as browsers send them */

/* SRTCP session keys (RFC 3711 4.3): encryption key, authentication key (AES-CM only), salt */
struct srtcp {
  int gcm;          /* AEAD_AES_128_GCM (RFC 7714) rather than AES_CM_128_HMAC_SHA1_80 */
  uint8_t ke[16], ka[20], ks[14];
  uint32_t index;   /* SRTCP index, 31 bits */
  uint32_t ssrc;    /* ours, in the receiver reports */
};

enum phase { P_WAIT, P_POST, P_ICE, P_DTLS, P_MEDIA, P_FAILED };
static const char *phase_name[] = {"new", "posting", "ice", "dtls", "connected", "failed"};

struct viewer {
  enum phase phase;
  int http_fd, fd;
  char *http;             /* request, then response, while posting */
  int http_len, http_sent, http_req_len;
  SSL *ssl;
  char ufrag[12], pwd[28];
  char r_ufrag[64], r_pwd[128], r_fp[128], location[256];
  struct sockaddr_in local, remote;
  uint8_t txid[12], tiebreaker[8]; /* ICE-CONTROLLING's value, one per agent (RFC 8445 7.1.1) */
  int checks_sent;
  int video_pt, audio_pt;
  int dtls_server; /* the answer said a=setup:active: the server is the DTLS client */
  double t0, answer_t, ice_t, dtls_t, first_video_t, last_video_t, last_audio_t, next_check_t, next_rr_t;
  struct srtcp srtcp;
  uint32_t video_ssrc, audio_ssrc;
  uint64_t rr_sent;
  uint64_t video_pkts, audio_pkts, rtcp_pkts, video_bytes;
  int have_seq;
  uint16_t max_seq;
  int64_t cycles, first_ext, received; /* RFC 3550 A.1 style loss count for video */
  uint32_t sec_bytes[SECONDS];
  int32_t sec_stamp[SECONDS];
};

static struct viewer *vs;
static int n_viewers, started;
static double t_start;
static struct sockaddr_in server_http;
static char host_port[80], whep_path[512];
static int epfd;
static SSL_CTX *ctx;
static char fingerprint[128];
static volatile sig_atomic_t report_now;

static void fail(struct viewer *v, const char *why) {
  if (v->phase == P_FAILED) return;
  v->phase = P_FAILED;
  fail_reason(why);
  if (v->http_fd >= 0) close(v->http_fd), v->http_fd = -1;
  free(v->http), v->http = NULL;
  if (v->ssl) SSL_free(v->ssl), v->ssl = NULL; /* frees the BIO, not the socket (BIO_NOCLOSE) */
  if (v->fd >= 0) close(v->fd), v->fd = -1;
}

static void random_token(char *out, int n) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint8_t r[64];
  RAND_bytes(r, n);
  for (int i = 0; i < n; i++) out[i] = alphabet[r[i] % 62];
  out[n] = 0;
}

/* ---- certificate: one ECDSA P-256 self-signed certificate for every viewer (a browser keeps one
 * per peer connection; the server only checks that the DTLS certificate matches the offer). ---- */
static int accept_any(int ok, X509_STORE_CTX *store) {
  (void)ok, (void)store;
  return 1;
}

static const char *srtp_profiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"; /* Chrome's order */

static void make_certificate(void) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"whep-swarm", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  if (!key || !X509_sign(x, key, EVP_sha256())) {
    fprintf(stderr, "whep-swarm: cannot make a certificate\n");
    exit(1);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  X509_digest(x, EVP_sha256(), md, &md_len);
  for (unsigned i = 0; i < md_len; i++) sprintf(fingerprint + 3 * i, "%02X%s", md[i], i + 1 < md_len ? ":" : "");
  ctx = SSL_CTX_new(DTLS_method()); /* either role: the answer's a=setup decides */
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_use_certificate(ctx, x);
  SSL_CTX_use_PrivateKey(ctx, key);
  /* self-signed: accepted here, then checked against the answer's fingerprint; as the DTLS server
   * (the answer's a=setup:active) ask for the peer's certificate, as WebRTC requires (RFC 8827 6.5) */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  /* RFC 5764 4.1.2 profiles; SSL_CTX_set_tlsext_use_srtp returns 0 on success */
  if (SSL_CTX_set_tlsext_use_srtp(ctx, srtp_profiles) != 0) {
    fprintf(stderr, "whep-swarm: OpenSSL does not take --srtp %s\n", srtp_profiles);
    exit(2);
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
  X509_free(x);
  EVP_PKEY_free(key);
}

static void watch(int fd, uint32_t events, uint64_t tag, int op) {
  struct epoll_event ev = {.events = events, .data.u64 = tag};
  epoll_ctl(epfd, op, fd, &ev);
}
/* epoll tags: viewer index * 2 + 0 for its HTTP socket, + 1 for its UDP socket */
#define TAG(i, udp) ((uint64_t)(i) * 2 + (udp))

/* ---- 1. the WHEP POST ---- */
static void start_viewer(int i, double t) {
  struct viewer *v = &vs[i];
  v->t0 = t;
  v->phase = P_POST;
  random_token(v->ufrag, 8);
  random_token(v->pwd, 24);
  RAND_bytes(v->tiebreaker, 8);
  v->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof v->local;
  if (v->fd < 0 || bind(v->fd, (struct sockaddr *)&any, sizeof any) < 0 ||
      getsockname(v->fd, (struct sockaddr *)&v->local, &sl) < 0)
    return fail(v, "udp-socket");
  /* a cached GOP arrives at once: room for it whatever net.core.rmem_max says (root may force) */
  int rcv = 2 << 20;
  if (setsockopt(v->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
    setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  char sdp[4096];
  int port = ntohs(v->local.sin_port);
  const char *media_common =
      "c=IN IP4 0.0.0.0\r\n"
      "a=candidate:1 1 udp 2130706431 127.0.0.1 %d typ host\r\n"
      "a=end-of-candidates\r\n"
      "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
      "a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=recvonly\r\na=mid:%d\r\na=rtcp-mux\r\n";
  int n = snprintf(sdp, sizeof sdp,
                   "v=0\r\no=- %d 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
                   "a=msid-semantic:WMS *\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\n",
                   i + 1);
  n += snprintf(sdp + n, sizeof sdp - n, media_common, port, v->ufrag, v->pwd, fingerprint, 0);
  n += snprintf(sdp + n, sizeof sdp - n,
                "a=rtpmap:97 H264/90000\r\na=rtcp-fb:97 nack\r\na=rtcp-fb:97 nack pli\r\n"
                "a=fmtp:97 packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1\r\n"
                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
  n += snprintf(sdp + n, sizeof sdp - n, media_common, port, v->ufrag, v->pwd, fingerprint, 1);
  n += snprintf(sdp + n, sizeof sdp - n, "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n");
  v->http = malloc(HTTP_MAX);
  v->http_req_len = snprintf(v->http, HTTP_MAX,
                             "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/sdp\r\n"
                             "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                             whep_path, host_port, n, sdp);
  v->http_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (v->http_fd < 0) return fail(v, "http-socket");
  if (connect(v->http_fd, (struct sockaddr *)&server_http, sizeof server_http) < 0 && errno != EINPROGRESS)
    return fail(v, "http-connect");
  watch(v->http_fd, EPOLLOUT | EPOLLIN, TAG(i, 0), EPOLL_CTL_ADD);
}

/* the value after "prefix" on an SDP line, up to the end of the line (or a space when `word`) */
static int sdp_value(const char *sdp, const char *prefix, char *out, int cap, int word) {
  const char *p = strstr(sdp, prefix);
  if (!p) return 0;
  p += strlen(prefix);
  int n = 0;
  while (p[n] && p[n] != '\r' && p[n] != '\n' && !(word && p[n] == ' ') && n < cap - 1) n++;
  memcpy(out, p, n);
  out[n] = 0;
  return n > 0;
}

static void send_check(struct viewer *v, double t);

static void http_answer(int i, double t) {
  struct viewer *v = &vs[i];
  char *body = strstr(v->http, "\r\n\r\n");
  int status = 0;
  sscanf(v->http, "HTTP/1.%*d %d", &status);
  if (status != 201) {
    char why[64];
    snprintf(why, sizeof why, "WHEP POST answered %d", status);
    return fail(v, why); /* fail_reason keeps a copy of the text */
  }
  *body = 0;
  const char *loc = strcasestr(v->http, "\r\nLocation: ");
  if (loc) sscanf(loc + 12, "%255[^\r\n]", v->location);
  body += 4;
  char cand[256], mline[128], setup[16] = "";
  if (!sdp_value(body, "a=ice-ufrag:", v->r_ufrag, sizeof v->r_ufrag, 0) ||
      !sdp_value(body, "a=ice-pwd:", v->r_pwd, sizeof v->r_pwd, 0) ||
      !sdp_value(body, "a=fingerprint:sha-256 ", v->r_fp, sizeof v->r_fp, 0) ||
      !sdp_value(body, "a=candidate:", cand, sizeof cand, 0))
    return fail(v, "answer without ICE credentials, fingerprint or candidate");
  /* candidate: foundation component transport priority address port typ host */
  char transport[8], addr[64];
  int port = 0;
  if (sscanf(cand, "%*s %*s %7s %*s %63s %d", transport, addr, &port) != 3 || strcasecmp(transport, "udp") != 0 ||
      inet_pton(AF_INET, addr, &v->remote.sin_addr) != 1)
    return fail(v, "answer candidate is not UDP/IPv4");
  v->remote.sin_family = AF_INET;
  v->remote.sin_port = htons(port);
  v->video_pt = v->audio_pt = -1;
  sdp_value(body, "a=setup:", setup, sizeof setup, 0);
  v->dtls_server = strcmp(setup, "active") == 0; /* RFC 5763 5: active is the DTLS client */
  if (sdp_value(body, "m=video ", mline, sizeof mline, 0)) sscanf(mline, "%*s %*s %d", &v->video_pt);
  if (sdp_value(body, "m=audio ", mline, sizeof mline, 0)) sscanf(mline, "%*s %*s %d", &v->audio_pt);
  close(v->http_fd), v->http_fd = -1;
  free(v->http), v->http = NULL;
  v->answer_t = t;
  if (connect(v->fd, (struct sockaddr *)&v->remote, sizeof v->remote) < 0) return fail(v, "udp-connect");
  v->phase = P_ICE;
  watch(v->fd, EPOLLIN, TAG(i, 1), EPOLL_CTL_ADD);
  send_check(v, t);
}

static void on_http(int i, uint32_t events, double t) {
  struct viewer *v = &vs[i];
  if (v->phase != P_POST) return;
  if (v->http_sent < v->http_req_len) {
    ssize_t w = send(v->http_fd, v->http + v->http_sent, v->http_req_len - v->http_sent, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return fail(v, "http-send");
    if (w > 0) v->http_sent += w;
    if (v->http_sent == v->http_req_len) {
      v->http_len = 0;
      watch(v->http_fd, EPOLLIN, TAG(i, 0), EPOLL_CTL_MOD);
    }
    return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  ssize_t r = recv(v->http_fd, v->http + v->http_len, HTTP_MAX - 1 - v->http_len, 0);
  if (r < 0 && errno == EAGAIN) return;
  if (r > 0) v->http_len += r;
  v->http[v->http_len] = 0;
  char *end = strstr(v->http, "\r\n\r\n");
  if (end) {
    const char *cl = strcasestr(v->http, "\r\nContent-Length:");
    long want = cl ? strtol(cl + 17, NULL, 10) : -1;
    if (want >= 0 && v->http_len - (end + 4 - v->http) >= want) return http_answer(i, t);
  }
  if (r == 0 || v->http_len >= HTTP_MAX - 1) return end ? http_answer(i, t) : fail(v, "http-closed");
  if (r < 0) fail(v, "http-recv");
}

/* ---- 2. ICE: STUN Binding requests (RFC 8489 5, 14; RFC 8445 7.1.1) ---- */
/* CRC-32 (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320), what STUN's FINGERPRINT uses */
static uint32_t crc32_of(const uint8_t *p, int n) {
  uint32_t c = 0xffffffffu;
  for (int i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}

static int stun_attr(uint8_t *m, int at, uint16_t type, const void *val, uint16_t len) {
  m[at] = type >> 8, m[at + 1] = type & 0xff, m[at + 2] = len >> 8, m[at + 3] = len & 0xff;
  memcpy(m + at + 4, val, len);
  int padded = (len + 3) & ~3;
  memset(m + at + 4 + len, 0, padded - len);
  return at + 4 + padded;
}

static void send_check(struct viewer *v, double t) {
  uint8_t m[256];
  /* a retransmission keeps its transaction ID, so a response slower than the retransmission
   * interval (a loaded server) still completes the check; each consent check is a new one */
  if (v->phase == P_MEDIA || !v->checks_sent++) RAND_bytes(v->txid, 12);
  m[0] = 0x00, m[1] = 0x01; /* Binding request */
  uint32_t cookie = htonl(0x2112a442);
  memcpy(m + 4, &cookie, 4);
  memcpy(m + 8, v->txid, 12);
  char user[200];
  int ulen = snprintf(user, sizeof user, "%s:%s", v->r_ufrag, v->ufrag);
  int at = 20;
  at = stun_attr(m, at, 0x0006, user, ulen);                /* USERNAME */
  uint32_t prio = htonl(0x6e7f00ff);                        /* a peer-reflexive priority */
  at = stun_attr(m, at, 0x0024, &prio, 4);                  /* PRIORITY */
  at = stun_attr(m, at, 0x802a, v->tiebreaker, 8);                    /* ICE-CONTROLLING */
  at = stun_attr(m, at, 0x0025, "", 0);                     /* USE-CANDIDATE */
  /* MESSAGE-INTEGRITY: HMAC-SHA1 over the message so far, its length already counting the attribute */
  m[2] = (at - 20 + 24) >> 8, m[3] = (at - 20 + 24) & 0xff;
  uint8_t mac[20];
  unsigned mac_len = 0;
  HMAC(EVP_sha1(), v->r_pwd, strlen(v->r_pwd), m, at, mac, &mac_len);
  at = stun_attr(m, at, 0x0008, mac, 20);
  /* FINGERPRINT: CRC-32 of the message so far XOR 0x5354554e, length counting it */
  m[2] = (at - 20 + 8) >> 8, m[3] = (at - 20 + 8) & 0xff;
  uint32_t crc = htonl(crc32_of(m, at) ^ 0x5354554eu);
  at = stun_attr(m, at, 0x8028, &crc, 4);
  send(v->fd, m, at, 0);
  v->next_check_t = t + (v->phase == P_MEDIA ? CONSENT_EVERY_S : CHECK_EVERY_S);
}

/* ---- 3. DTLS, and the SRTCP keys it yields ---- */

/* RFC 3711 4.3.1/4.3.3 key derivation (AES-CM PRF, key derivation rate 0): the keystream of
 * AES-CM keyed with the master key, IV = master salt (12-byte GCM salts zero-padded to 14, as
 * libsrtp does) with the label XORed into octet 7, counter in the last two octets. */
static void kdf(const uint8_t *mkey, const uint8_t *msalt, int salt_len, uint8_t label, uint8_t *out, int n) {
  uint8_t iv[16] = {0}, zeros[32] = {0};
  memcpy(iv, msalt, salt_len);
  iv[7] ^= label;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv);
  EVP_EncryptUpdate(c, out, &len, zeros, n);
  EVP_CIPHER_CTX_free(c);
}

static int srtcp_keys(struct viewer *v) {
  const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(v->ssl);
  if (!prof || (prof->id != SRTP_AEAD_AES_128_GCM && prof->id != SRTP_AES128_CM_SHA1_80)) return 0;
  struct srtcp *k = &v->srtcp;
  k->gcm = prof->id == SRTP_AEAD_AES_128_GCM;
  int salt = k->gcm ? 12 : 14;
  /* RFC 5764 4.2: client key | server key | client salt | server salt; ours is the one of our role */
  uint8_t km[2 * (16 + 14)];
  if (SSL_export_keying_material(v->ssl, km, 2 * (16 + salt), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) return 0;
  const uint8_t *mkey = km + (v->dtls_server ? 16 : 0), *msalt = km + 32 + (v->dtls_server ? salt : 0);
  kdf(mkey, msalt, salt, 0x03, k->ke, 16); /* SRTCP encryption key */
  kdf(mkey, msalt, salt, 0x04, k->ka, 20); /* SRTCP authentication key */
  kdf(mkey, msalt, salt, 0x05, k->ks, 14); /* SRTCP salt (GCM uses 12 octets of it) */
  RAND_bytes((uint8_t *)&k->ssrc, 4);
  return 1;
}

static void put32(uint8_t *p, uint32_t x) { p[0] = x >> 24, p[1] = x >> 16, p[2] = x >> 8, p[3] = x; }

/* An RTCP receiver report (RFC 3550 6.4.2) with a block per source seen, sent as SRTCP. */
static void send_rr(struct viewer *v, double t) {
  v->next_rr_t = t + RR_EVERY_S;
  if (!v->video_ssrc) return;
  struct srtcp *k = &v->srtcp;
  uint8_t p[128] = {0}, iv[16] = {0}, e_index[4];
  uint32_t sources[2] = {v->video_ssrc, v->audio_ssrc};
  int rc = v->audio_ssrc ? 2 : 1, len = 8 + 24 * rc;
  p[0] = 0x80 | rc, p[1] = 201, p[2] = 0, p[3] = len / 4 - 1;
  put32(p + 4, k->ssrc);
  for (int b = 0; b < rc; b++) {
    uint8_t *blk = p + 8 + 24 * b;
    put32(blk, sources[b]);
    if (b == 0) put32(blk + 8, (uint32_t)(v->cycles + v->max_seq)); /* extended highest sequence */
  }
  put32(e_index, 0x80000000u | k->index); /* E flag: encrypted */
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, out = len;
  if (k->gcm) {
    /* RFC 7714 9.1: IV = (00 00 | SSRC | 00 00 | index) XOR salt; AAD = header and SSRC | E | index;
     * the 16-octet tag follows the ciphertext, then E | index */
    iv[2] = p[4], iv[3] = p[5], iv[4] = p[6], iv[5] = p[7];
    put32(iv + 8, k->index);
    for (int i = 0; i < 12; i++) iv[i] ^= k->ks[i];
    uint8_t aad[12];
    memcpy(aad, p, 8);
    memcpy(aad + 8, e_index, 4);
    EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
    EVP_EncryptInit_ex(c, NULL, NULL, k->ke, iv);
    EVP_EncryptUpdate(c, NULL, &n, aad, 12);
    EVP_EncryptUpdate(c, p + 8, &n, p + 8, len - 8);
    EVP_EncryptFinal_ex(c, p + 8 + n, &n);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, p + len);
    memcpy(p + len + 16, e_index, 4);
    out = len + 20;
  } else {
    /* RFC 3711 4.1.1: IV = salt * 2^16 XOR SSRC * 2^64 XOR index * 2^16; then E | index and the
     * 80-bit HMAC-SHA1 tag over the whole packet including E | index (4.2) */
    memcpy(iv, k->ks, 14);
    for (int i = 0; i < 4; i++) iv[4 + i] ^= p[4 + i];
    uint8_t idx[6] = {0, 0};
    put32(idx + 2, k->index);
    for (int i = 0; i < 6; i++) iv[8 + i] ^= idx[i];
    EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, k->ke, iv);
    EVP_EncryptUpdate(c, p + 8, &n, p + 8, len - 8);
    memcpy(p + len, e_index, 4);
    uint8_t mac[20];
    unsigned mac_len = 0;
    HMAC(EVP_sha1(), k->ka, 20, p, len + 4, mac, &mac_len);
    memcpy(p + len + 4, mac, 10);
    out = len + 14;
  }
  EVP_CIPHER_CTX_free(c);
  k->index = (k->index + 1) & 0x7fffffff;
  if (send(v->fd, p, out, 0) == out) v->rr_sent++;
}
static void dtls_step(int i, double t) {
  struct viewer *v = &vs[i];
  int r = SSL_do_handshake(v->ssl);
  if (r == 1) {
    X509 *peer = SSL_get1_peer_certificate(v->ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char fp[128] = "";
    if (peer) {
      X509_digest(peer, EVP_sha256(), md, &md_len);
      for (unsigned k = 0; k < md_len; k++) sprintf(fp + 3 * k, "%02X%s", md[k], k + 1 < md_len ? ":" : "");
      X509_free(peer);
    }
    if (strcasecmp(fp, v->r_fp) != 0) return fail(v, "server certificate does not match the answer's fingerprint");
    if (!srtcp_keys(v)) return fail(v, "DTLS without a usable SRTP profile");
    v->dtls_t = t;
    v->next_rr_t = t + RR_EVERY_S;
    v->phase = P_MEDIA;
    /* keys are not needed (payloads are not decrypted): free OpenSSL's state, keep the socket */
    SSL_free(v->ssl), v->ssl = NULL;
    v->next_check_t = t + CONSENT_EVERY_S;
    return;
  }
  int e = SSL_get_error(v->ssl, r);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    if (getenv("WHEP_SWARM_DEBUG")) ERR_print_errors_fp(stderr);
    ERR_clear_error();
    fail(v, "DTLS handshake failed");
  }
}

static void start_dtls(int i, double t) {
  struct viewer *v = &vs[i];
  v->ice_t = t;
  v->phase = P_DTLS;
  v->ssl = SSL_new(ctx);
  BIO *bio = BIO_new_dgram(v->fd, BIO_NOCLOSE);
  BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &v->remote);
  SSL_set_bio(v->ssl, bio, bio);
  DTLS_set_link_mtu(v->ssl, 1200); /* what browsers use */
  if (v->dtls_server) SSL_set_accept_state(v->ssl);
  else SSL_set_connect_state(v->ssl);
  dtls_step(i, t);
}

/* ---- 4. media ---- */
static int recent_s = 10;

static void on_rtp(struct viewer *v, const uint8_t *p, int len, double t) {
  if (len < 12) return;
  int pt = p[1] & 0x7f;
  if (p[1] >= 192 && p[1] <= 223) { /* RTCP (RFC 5761 4): the server's sender reports */
    v->rtcp_pkts++;
    return;
  }
  uint32_t ssrc = (uint32_t)p[8] << 24 | p[9] << 16 | p[10] << 8 | p[11];
  if (pt == v->audio_pt) {
    v->audio_ssrc = ssrc;
    v->audio_pkts++;
    v->last_audio_t = t;
    return;
  }
  if (pt != v->video_pt) return;
  v->video_ssrc = ssrc;
  v->video_pkts++;
  v->video_bytes += len;
  v->last_video_t = t;
  if (v->first_video_t == 0) v->first_video_t = t;
  int sec = (int)(t - t_start);
  int b = sec % SECONDS;
  if (v->sec_stamp[b] != sec) v->sec_stamp[b] = sec, v->sec_bytes[b] = 0;
  v->sec_bytes[b] += len;
  /* extended sequence numbers (RFC 3550 A.1) for the expected-vs-received loss count */
  uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
  if (!v->have_seq) {
    v->have_seq = 1;
    v->max_seq = seq;
    v->first_ext = seq;
  } else {
    uint16_t delta = seq - v->max_seq;
    if (delta < 0x8000) {
      if (seq < v->max_seq) v->cycles += 0x10000;
      v->max_seq = seq;
    }
  }
  v->received++;
}

static uint8_t bufs[BATCH][64];
static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];

static void on_udp(int i, double t) {
  struct viewer *v = &vs[i];
  if (v->phase == P_DTLS) return dtls_step(i, t);
  for (int round = 0; round < 64 && (v->phase == P_ICE || v->phase == P_MEDIA); round++) {
    int n = recvmmsg(v->fd, msgs, BATCH, MSG_TRUNC | MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int k = 0; k < n; k++) {
      const uint8_t *p = bufs[k];
      int len = msgs[k].msg_len;
      if (len >= 20 && p[0] <= 3) { /* STUN (RFC 7983): a response to our check */
        if (p[0] == 0x01 && p[1] == 0x01 && memcmp(p + 8, v->txid, 12) == 0 && v->phase == P_ICE)
          return start_dtls(i, t); /* the rest of this batch is DTLS (OpenSSL reads it) or stale */
      } else if (p[0] >= 128 && p[0] <= 191 && v->phase == P_MEDIA) {
        on_rtp(v, p, len, t);
      }
    }
    if (n < BATCH) return;
  }
}

static void tick(double t) {
  for (int i = 0; i < started; i++) {
    struct viewer *v = &vs[i];
    if (v->phase == P_FAILED) continue;
    if (v->phase != P_MEDIA && t - v->t0 > SETUP_TIMEOUT_S) {
      static const char *why[] = {"", "timeout waiting for the WHEP answer", "timeout in ICE", "timeout in DTLS"};
      fail(v, why[v->phase]);
      continue;
    }
    if ((v->phase == P_ICE || v->phase == P_MEDIA) && t >= v->next_check_t) send_check(v, t);
    if (v->phase == P_MEDIA && t >= v->next_rr_t) send_rr(v, t);
    if (v->phase == P_DTLS) {
      struct timeval tv;
      if (DTLSv1_get_timeout(v->ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0) {
        if (DTLSv1_handle_timeout(v->ssl) < 0) fail(v, "DTLS retransmissions ran out");
      }
    }
  }
}

/* ---- report ---- */
static void print_ms_list(const char *name, double *xs, int n) {
  qsort(xs, n, sizeof *xs, cmp_double);
  printf("\"%s\":[", name);
  for (int k = 0; k < n; k++) printf("%s%.0f", k ? "," : "", xs[k] * 1000);
  printf("]");
}

static void report(double t, double cpu0, double t_cpu0) {
  int answered = 0, with_video = 0, recent_video = 0, recent_audio = 0, states[6] = {0}, gcm = 0;
  double *setup = calloc(n_viewers + 1, sizeof *setup), *answer = calloc(n_viewers + 1, sizeof *answer);
  double *kbps = calloc(n_viewers + 1, sizeof *kbps);
  double *ice = calloc(n_viewers + 1, sizeof *ice), *dtls = calloc(n_viewers + 1, sizeof *dtls);
  int n_setup = 0, n_answer = 0, n_kbps = 0, n_ice = 0, n_dtls = 0;
  uint64_t vp = 0, ap = 0, vb = 0, rp = 0, rr = 0;
  int64_t lost = 0;
  int now_s = (int)(t - t_start);
  for (int i = 0; i < started; i++) {
    struct viewer *v = &vs[i];
    states[v->phase]++;
    if (v->answer_t > 0) answered++, answer[n_answer++] = v->answer_t - v->t0;
    if (v->ice_t > 0) ice[n_ice++] = v->ice_t - v->answer_t;
    if (v->dtls_t > 0) dtls[n_dtls++] = v->dtls_t - v->ice_t, gcm += v->srtcp.gcm;
    if (v->first_video_t > 0) with_video++, setup[n_setup++] = v->first_video_t - v->t0;
    if (v->last_video_t >= t - recent_s) recent_video++;
    if (v->last_audio_t >= t - recent_s) recent_audio++;
    if (v->phase == P_MEDIA) {
      /* video kbit/s over the last `recent_s` whole seconds */
      uint64_t bytes = 0;
      for (int s = now_s - recent_s; s < now_s; s++)
        if (s >= 0 && v->sec_stamp[s % SECONDS] == s) bytes += v->sec_bytes[s % SECONDS];
      kbps[n_kbps++] = bytes * 8.0 / 1000 / recent_s;
    }
    vp += v->video_pkts, ap += v->audio_pkts, vb += v->video_bytes, rp += v->rtcp_pkts, rr += v->rr_sent;
    if (v->have_seq) lost += (v->cycles + v->max_seq) - v->first_ext + 1 - v->received;
  }
  qsort(kbps, n_kbps, sizeof *kbps, cmp_double);
  qsort(ice, n_ice, sizeof *ice, cmp_double);
  qsort(dtls, n_dtls, sizeof *dtls, cmp_double);
  double cpu = (self_cpu() - cpu0) / (t - t_cpu0) * 100;
  printf("{\"client\":\"whep-swarm.c\",\"viewers\":%d,\"answered\":%d,\"withVideo\":%d,\"recentVideo\":%d,"
         "\"recentAudio\":%d,\"recentS\":%d,",
         started, answered, with_video, recent_video, recent_audio, recent_s);
  print_ms_list("setupMs", setup, n_setup);
  printf(",");
  print_ms_list("answerMs", answer, n_answer);
  printf(",\"srtpProfiles\":{\"AEAD_AES_128_GCM\":%d,\"AES_CM_128_HMAC_SHA1_80\":%d}", gcm, n_dtls - gcm);
  printf(",\"iceMsP50\":%.0f,\"dtlsMsP50\":%.0f,\"dtlsMsMax\":%.0f,", n_ice ? ice[n_ice / 2] * 1000 : -1,
         n_dtls ? dtls[n_dtls / 2] * 1000 : -1, n_dtls ? dtls[n_dtls - 1] * 1000 : -1);
  printf("\"recentVideoKbpsMin\":%.0f,\"recentVideoKbpsP5\":%.0f,\"recentVideoKbpsP50\":%.0f,",
         n_kbps ? kbps[0] : -1, n_kbps ? kbps[n_kbps / 20] : -1, n_kbps ? kbps[n_kbps / 2] : -1);
  printf("\"videoPackets\":%llu,\"audioPackets\":%llu,\"rtcpPackets\":%llu,\"receiverReportsSent\":%llu,"
         "\"videoBytes\":%llu,\"videoPacketsLost\":%lld,\"swarmCpuPercentOfCore\":%.1f,\"failures\":{",
         (unsigned long long)vp, (unsigned long long)ap, (unsigned long long)rp, (unsigned long long)rr,
         (unsigned long long)vb, (long long)lost, cpu);
  print_reasons();
  printf("},\"states\":{");
  for (int k = 0, first = 1; k < 6; k++)
    if (states[k]) printf("%s\"%s\":%d", first ? "" : ",", phase_name[k], states[k]), first = 0;
  printf("}}\n");
  fflush(stdout);
  free(setup), free(answer), free(kbps), free(ice), free(dtls);
}

/* DELETE each session (WHEP 4.3), blocking, each bounded to 2 s and all to 10 s */
static void leave(void) {
  double deadline = now() + 10;
  for (int i = 0; i < started && now() < deadline; i++) {
    struct viewer *v = &vs[i];
    if (!v->location[0]) continue;
    const char *path = v->location;
    if (strncmp(path, "http://", 7) == 0) path = strchr(path + 7, '/');
    if (!path) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&server_http, sizeof server_http) == 0) {
      char req[512];
      int n = snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host_port);
      if (send(fd, req, n, MSG_NOSIGNAL) == n) {
        char sink[512];
        while (recv(fd, sink, sizeof sink, 0) > 0) {}
      }
    }
    close(fd);
  }
}

static void on_usr2(int sig) {
  (void)sig;
  report_now = 1;
}

static const char usage[] =
    "usage: whep-swarm --url http://127.0.0.1:PORT/APP/NAME/whep [--viewers N] [--ramp S] [--duration S]\n"
    "                  [--recent S] [--batch-ms MS] [--srtp PROFILES]\n"
    "\n"
    "WHEP viewers in one process (POST, ICE, DTLS-SRTP with OpenSSL; SRTP counted from the clear RTP\n"
    "header, never decrypted). Prints one JSON line on SIGUSR2 or after --ramp + --duration seconds,\n"
    "then DELETEs its sessions and exits. Loopback only.\n"
    "  --viewers N     viewers (default 50), started evenly over --ramp seconds (default 10)\n"
    "  --duration S    seconds after the ramp before reporting on its own (default 30)\n"
    "  --recent S      'receiving' = video RTP in the last S seconds (default 10)\n"
    "  --batch-ms MS   after the ramp, read every MS milliseconds (default 20)\n"
    "  --srtp PROFILES DTLS-SRTP profiles offered/accepted, OpenSSL names, preferred first (default\n"
    "                  SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80, as Chrome)\n";

int main(int argc, char **argv) {
  double ramp = 10, duration = 30, batch_ms = 20;
  const char *url = NULL;
  n_viewers = 50;
  static struct option opts[] = {{"url", 1, 0, 'u'},      {"viewers", 1, 0, 'n'}, {"ramp", 1, 0, 'r'},
                                 {"duration", 1, 0, 'd'}, {"recent", 1, 0, 'R'},  {"batch-ms", 1, 0, 'b'},
                                 {"srtp", 1, 0, 's'},     {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 'u': url = optarg; break;
    case 'n': n_viewers = atoi(optarg); break;
    case 'r': ramp = atof(optarg); break;
    case 'd': duration = atof(optarg); break;
    case 'R': recent_s = atoi(optarg); break;
    case 'b': batch_ms = atof(optarg); break;
    case 's': srtp_profiles = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  char host[64];
  int port = 0;
  if (!url || sscanf(url, "http://%63[^:/]:%d%511s", host, &port, whep_path) != 3 || whep_path[0] != '/') {
    fprintf(stderr, "whep-swarm: --url must be http://HOST:PORT/APP/NAME/whep\n%s", usage);
    return 2;
  }
  if (n_viewers < 1 || n_viewers > 20000 || recent_s < 1 || recent_s >= SECONDS || batch_ms < 0 || ramp < 0 ||
      duration <= 0) {
    fprintf(stderr, "whep-swarm: bad --viewers, --recent (1..%d), --batch-ms, --ramp or --duration\n", SECONDS - 1);
    return 2;
  }
  server_http.sin_family = AF_INET;
  server_http.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &server_http.sin_addr) != 1 || (ntohl(server_http.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "whep-swarm: the host must be a loopback IPv4 address (127.0.0.0/8), not %s\n", host);
    return 2;
  }
  snprintf(host_port, sizeof host_port, "%s:%d", host, port);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR2, on_usr2);
  make_certificate();
  vs = calloc(n_viewers, sizeof *vs);
  for (int i = 0; i < n_viewers; i++) vs[i].http_fd = vs[i].fd = -1;
  for (int k = 0; k < BATCH; k++) {
    iovs[k] = (struct iovec){.iov_base = bufs[k], .iov_len = sizeof bufs[k]};
    msgs[k].msg_hdr = (struct msghdr){.msg_iov = &iovs[k], .msg_iovlen = 1};
  }
  epfd = epoll_create1(0);
  t_start = now();
  double cpu0 = self_cpu(), end = t_start + ramp + duration, last_tick = 0;
  struct epoll_event evs[256];
  while (!report_now && now() < end) {
    double t = now();
    int due = ramp > 0 ? (int)((t - t_start) / ramp * n_viewers) + 1 : n_viewers;
    if (due > n_viewers) due = n_viewers;
    while (started < due) start_viewer(started++, t);
    int setting_up = 0;
    for (int i = 0; i < started && !setting_up; i++) setting_up = vs[i].phase >= P_POST && vs[i].phase <= P_DTLS;
    /* while viewers join, answer at once (setup times are measured); then read in batches */
    if (!setting_up && started == n_viewers && batch_ms > 0) {
      struct timespec ts = {0, (long)(batch_ms * 1e6)};
      nanosleep(&ts, NULL);
    }
    int n = epoll_wait(epfd, evs, 256, setting_up || started < n_viewers ? 5 : 0);
    t = now();
    for (int k = 0; k < n; k++) {
      int i = evs[k].data.u64 / 2;
      if (evs[k].data.u64 & 1) on_udp(i, t);
      else on_http(i, evs[k].events, t);
    }
    if (t - last_tick >= 0.01) tick(t), last_tick = t;
  }
  report(now(), cpu0, t_start);
  leave();
  return 0;
}
