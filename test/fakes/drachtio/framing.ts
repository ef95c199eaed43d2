// drachtio's wire framing: `<utf8ByteLength>#<payload>`, payload = `<msgId>|<type>|<fields…>`
// with an optional CRLF followed by raw SIP text. Lengths count UTF-8 bytes, not characters.

export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}#`, 'ascii'), body]);
}

export class FrameError extends Error {}

/** Accumulates socket data and yields complete payloads. */
export class FrameDecoder {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: string[] = [];
    for (;;) {
      const hash = this.buf.indexOf(0x23); // '#'
      if (hash === -1) {
        if (this.buf.length > 6) throw new FrameError('missing length specifier');
        return out;
      }
      const lenText = this.buf.subarray(0, hash).toString('ascii');
      // drachtio-server reads at most 6 digits and drops a client sending anything else
      if (!/^\d{1,6}$/.test(lenText) || Number(lenText) === 0) throw new FrameError(`invalid length specifier ${JSON.stringify(lenText)}`);
      const len = Number(lenText);
      if (this.buf.length < hash + 1 + len) return out;
      out.push(this.buf.subarray(hash + 1, hash + 1 + len).toString('utf8'));
      this.buf = this.buf.subarray(hash + 1 + len);
    }
  }
}

/** Splits a payload into its `|` leader tokens and the SIP text after the first CRLF. */
export function splitPayload(payload: string): { tokens: string[]; sip: string } {
  const i = payload.indexOf('\r\n');
  const leader = i === -1 ? payload : payload.slice(0, i);
  return { tokens: leader.split('|'), sip: i === -1 ? '' : payload.slice(i + 2) };
}
