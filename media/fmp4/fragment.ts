/**
 * CMAF fragments (ISO/IEC 23000-19 7.3.2.3 "CMAF chunk"): one moof + mdat holding a run of
 * samples per track. A fragment is what an LL-HLS part carries; a segment is its parts' fragments
 * back to back. Section numbers are ISO/IEC 14496-12:2015.
 */
import { box, FieldWriter, fullBox } from './boxes.ts';

export interface Fmp4Sample {
  /** The sample's bytes as they go into mdat (length-prefixed NAL units for AVC/HEVC, raw AAC). */
  data: Buffer;
  /** In the track's timescale. */
  duration: number;
  /** PTS − DTS in the track's timescale (signed; trun version 1). */
  compositionOffset: number;
  /** A sync sample (IDR / random access point); every audio sample is one. */
  sync: boolean;
}

export interface Fmp4TrackRun {
  trackId: number;
  /** Decode time of the first sample, in the track's timescale (tfdt). */
  baseMediaDecodeTime: number;
  samples: readonly Fmp4Sample[];
  /** Write composition offsets (video); audio leaves them out. */
  compositionOffsets: boolean;
}

/**
 * 8.8.3.1 sample_flags: is_leading(2) sample_depends_on(2) sample_is_depended_on(2)
 * sample_has_redundancy(2) sample_padding_value(3) sample_is_non_sync_sample(1)
 * sample_degradation_priority(16).
 */
export const SAMPLE_FLAGS_SYNC = 0x02000000; // depends_on = 2: an I picture, depends on no other
export const SAMPLE_FLAGS_NON_SYNC = 0x01010000; // depends_on = 1, is_non_sync_sample = 1

/** 8.8.7 tfhd flag: the base data offset is the start of the enclosing moof. */
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** 8.8.8 trun flags. */
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_SAMPLE_DURATION = 0x000100;
const TRUN_SAMPLE_SIZE = 0x000200;
const TRUN_SAMPLE_FLAGS = 0x000400;
const TRUN_SAMPLE_CTO = 0x000800;

function trunBox(run: Fmp4TrackRun, dataOffset: number): Buffer {
  const perSample = run.compositionOffsets ? 16 : 12;
  const flags =
    TRUN_DATA_OFFSET |
    TRUN_SAMPLE_DURATION |
    TRUN_SAMPLE_SIZE |
    TRUN_SAMPLE_FLAGS |
    (run.compositionOffsets ? TRUN_SAMPLE_CTO : 0);
  const w = new FieldWriter(8 + perSample * run.samples.length)
    .u32(run.samples.length) // sample_count
    .i32(dataOffset); // data_offset, from the moof's first byte (tfhd default-base-is-moof)
  for (const s of run.samples) {
    w.u32(s.duration) // sample_duration
      .u32(s.data.length) // sample_size
      .u32(s.sync ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC); // sample_flags
    if (run.compositionOffsets) w.i32(s.compositionOffset); // version 1: signed
  }
  // version 1: signed sample_composition_time_offset (B-frames may put PTS before DTS otherwise)
  return fullBox('trun', 1, flags, w.done());
}

function trafBox(run: Fmp4TrackRun, dataOffset: number): Buffer {
  return box(
    'traf',
    fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, new FieldWriter(4).u32(run.trackId).done()), // 8.8.7 track_ID
    fullBox('tfdt', 1, 0, new FieldWriter(8).u64(run.baseMediaDecodeTime).done()), // 8.8.12 v1: 64-bit time
    trunBox(run, dataOffset),
  );
}

/** Size of a traf for `run` (the data offsets depend on the moof's size). */
function trafSize(run: Fmp4TrackRun): number {
  const tfhd = 12 + 4;
  const tfdt = 12 + 8;
  const trun = 12 + 8 + (run.compositionOffsets ? 16 : 12) * run.samples.length;
  return 8 + tfhd + tfdt + trun;
}

/**
 * moof (8.8.4: mfhd 8.8.5 + one traf 8.8.6 per track) + mdat (8.1.1) with the tracks' samples in
 * order. Runs without samples are left out; returns an empty buffer when none has any.
 */
export function writeFragment(sequenceNumber: number, runs: readonly Fmp4TrackRun[]): Buffer {
  const used = runs.filter((r) => r.samples.length > 0);
  if (used.length === 0) return Buffer.alloc(0);
  const mfhdSize = 16;
  const moofSize = 8 + mfhdSize + used.reduce((n, r) => n + trafSize(r), 0);
  let dataBytes = 0;
  for (const r of used) for (const s of r.samples) dataBytes += s.data.length;
  // The first track's data starts right after the mdat header.
  let dataOffset = moofSize + 8;
  const trafs: Buffer[] = [];
  for (const r of used) {
    trafs.push(trafBox(r, dataOffset));
    for (const s of r.samples) dataOffset += s.data.length;
  }
  const moof = box('moof', fullBox('mfhd', 0, 0, new FieldWriter(4).u32(sequenceNumber).done()), ...trafs);
  const out = Buffer.allocUnsafe(moof.length + 8 + dataBytes);
  moof.copy(out, 0);
  let pos = moof.length;
  out.writeUInt32BE(8 + dataBytes, pos); // mdat size
  out.write('mdat', pos + 4, 4, 'latin1');
  pos += 8;
  for (const r of used)
    for (const s of r.samples) {
      s.data.copy(out, pos);
      pos += s.data.length;
    }
  return out;
}
