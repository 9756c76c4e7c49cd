// A walker over the top-level fields of encoded protobuf bytes, for reading parts of a message
// (an object's bytes in a transaction, a task's spec) without decoding it.

export const MALFORMED = new Error("malformed protobuf");

/** Walks the fields of a protobuf message in b[from, end); reused (reset) so that walking allocates nothing. */
export class Fields {
  private b: Uint8Array = new Uint8Array(0);
  private end = 0;
  pos = 0;
  /** The current field: number, wire type, where its tag starts and where its value starts. */
  field = 0;
  wire = 0;
  start = 0;
  valueStart = 0;

  reset(b: Uint8Array, from: number, end: number): this {
    this.b = b;
    this.pos = from;
    this.end = end;
    return this;
  }

  /** Moves past the next field; false at the end. Throws MALFORMED (groups included). */
  next(): boolean {
    if (this.pos >= this.end) return false;
    this.start = this.pos;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    if (this.field === 0) throw MALFORMED;
    switch (this.wire) {
      case 0:
        this.varint();
        this.valueStart = this.start;
        break;
      case 1:
        this.valueStart = this.pos;
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint();
        this.valueStart = this.pos;
        this.pos += len;
        break;
      }
      case 5:
        this.valueStart = this.pos;
        this.pos += 4;
        break;
      default:
        throw MALFORMED;
    }
    if (this.pos > this.end) throw MALFORMED;
    return true;
  }

  private varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10 && this.pos < this.end; i++) {
      const x = this.b[this.pos++]!;
      n += (x & 0x7f) * mul;
      if (x < 0x80) return n;
      mul *= 128;
    }
    throw MALFORMED;
  }
}
