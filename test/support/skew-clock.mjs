/**
 * Test-only preload (node --import): shifts this process's wall clock by S3X_TEST_CLOCK_OFFSET_MS
 * (Date.now and `new Date()`), so a CLI child signs requests with a skewed clock, as on a machine
 * whose clock is wrong. Timers and performance.now() are untouched.
 */
const offsetMs = Number(process.env.S3X_TEST_CLOCK_OFFSET_MS ?? 0);
if (Number.isFinite(offsetMs) && offsetMs !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + offsetMs);
      else super(...args);
    }
    static now() { return realNow() + offsetMs; }
  }
  globalThis.Date = SkewedDate;
}
