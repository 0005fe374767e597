/** Just enough RTP (RFC 3550) and H264 packetization (RFC 6184) to check what an SFU sends. */

export interface RtpPacket {
  payloadType: number;
  sequenceNumber: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtp(buf: Buffer): RtpPacket | null {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return null;
  const payloadType = buf[1]! & 0x7f;
  // 72–79 collide with RTCP packet types (rtcp-mux): not media.
  if (payloadType >= 72 && payloadType <= 79) return null;
  let offset = 12 + (buf[0]! & 0x0f) * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < offset + 4) return null;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[buf.length - 1]!; // padding
  if (offset > end) return null;
  return { payloadType, sequenceNumber: buf.readUInt16BE(2), ssrc: buf.readUInt32BE(8), payload: buf.subarray(offset, end) };
}

const IDR = 5;

/** Does this H264 RTP payload carry (the start of) an IDR picture — a key frame? */
export function isH264KeyFrame(payload: Buffer): boolean {
  if (payload.length < 2) return false;
  const nalType = payload[0]! & 0x1f;
  if (nalType === IDR) return true;
  if (nalType === 28) return (payload[1]! & 0x80) !== 0 && (payload[1]! & 0x1f) === IDR; // FU-A start
  if (nalType === 24) {
    // STAP-A: [size16][nal]...
    for (let i = 1; i + 2 < payload.length; ) {
      const size = payload.readUInt16BE(i);
      if ((payload[i + 2]! & 0x1f) === IDR) return true;
      i += 2 + size;
    }
  }
  return false;
}
