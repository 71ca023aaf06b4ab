/**
 * What a WHEP offer must have before werift sees it (RFC 8866 SDP, RFC 8829 JSEP): a session, a
 * video section offering H.264 in packetization-mode 1 (RFC 6184 8.1: mode 0 has no FU-A, so
 * frames larger than a packet could not be sent), ICE credentials and a DTLS fingerprint.
 * Errors name what is missing so a player author can fix the offer.
 */
import { RelaycastError } from '../../core/errors.ts';

/** Offers are a few KiB; anything much larger is not an offer. */
export const MAX_OFFER_BYTES = 64 * 1024;

export interface OfferSummary {
  video: boolean;
  audio: boolean;
  /** Opus offered in an audio section. */
  opus: boolean;
}

export function checkOffer(sdp: string): OfferSummary {
  const invalid = (msg: string) =>
    new RelaycastError(
      'RC_WEBRTC_SDP_INVALID',
      `${msg}; POST an SDP offer from RTCPeerConnection.createOffer()`,
    );
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw invalid('the body is not an SDP offer (it must start with v=0)');
  for (const l of lines) if (!/^[a-z]=/.test(l)) throw invalid(`malformed SDP line "${l.slice(0, 40)}"`);
  const sections: string[][] = [];
  const session: string[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push([l]);
    else (sections[sections.length - 1] ?? session).push(l);
  }
  if (sections.length === 0) throw invalid('the offer has no media sections (m= lines)');
  const has = (section: string[], prefix: string) =>
    section.some((l) => l.startsWith(prefix)) || session.some((l) => l.startsWith(prefix));
  let video = false;
  let h264 = false;
  let audio = false;
  let opus = false;
  for (const s of sections) {
    const m = /^m=(\w+) (\d+) ([\w/]+)((?: \S+)*)$/.exec(s[0]!);
    if (!m) throw invalid(`malformed media line "${s[0]!.slice(0, 60)}"`);
    if (m[2] === '0') continue; // rejected section
    if (!has(s, 'a=ice-ufrag:') || !has(s, 'a=ice-pwd:'))
      throw invalid('the offer has no ICE credentials (a=ice-ufrag / a=ice-pwd)');
    if (!has(s, 'a=fingerprint:')) throw invalid('the offer has no DTLS fingerprint (a=fingerprint)');
    const formats = (m[4] ?? '').trim().split(' ');
    const rtpmap = new Map<string, string>();
    const fmtp = new Map<string, string>();
    for (const l of s) {
      const r = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
      if (r) rtpmap.set(r[1]!, r[2]!.toLowerCase());
      const f = /^a=fmtp:(\d+) (.*)$/.exec(l);
      if (f) fmtp.set(f[1]!, f[2]!);
    }
    if (m[1] === 'video') {
      video = true;
      for (const pt of formats)
        if (rtpmap.get(pt) === 'h264' && /(^|;)\s*packetization-mode=1(;|$)/.test(fmtp.get(pt) ?? ''))
          h264 = true;
    } else if (m[1] === 'audio') {
      audio = true;
      for (const pt of formats) if (rtpmap.get(pt) === 'opus') opus = true;
    }
  }
  if (!video)
    throw new RelaycastError(
      'RC_WEBRTC_CODEC_UNSUPPORTED',
      'the offer has no video section; add a recvonly video transceiver (pc.addTransceiver("video", {direction: "recvonly"}))',
    );
  if (!h264)
    throw new RelaycastError(
      'RC_WEBRTC_CODEC_UNSUPPORTED',
      'the offer has no H.264 (packetization-mode=1) for video, the only video codec sent here; use a browser with H.264 or keep it in setCodecPreferences',
    );
  return { video, audio, opus };
}
