import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/endpoints/breaker.js';

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, not N scattered ones', () => {
    const b = new CircuitBreaker({ threshold: 3, cooldownMs: 1000 }, 0);
    b.onFailure(1, 'ECONNRESET'); b.onFailure(2, 'ECONNRESET'); b.onSuccess(3);
    b.onFailure(4, 'ECONNRESET'); b.onFailure(5, 'ECONNRESET');
    expect(b.state).toBe('closed');
    b.onFailure(6, 'ECONNREFUSED');
    expect(b.state).toBe('open');
    expect(b.transitions).toEqual([{ atMs: 6, from: 'closed', to: 'open', reason: 'ECONNREFUSED' }]);
  });

  it('gives no work while open, one probe after the cooldown, closes on its success', () => {
    const b = new CircuitBreaker({ threshold: 1, cooldownMs: 1000 }, 0);
    b.onFailure(100, 'DeadlineExceeded');
    expect(b.tryAcquire(500)).toBe(false);
    expect(b.readyAtMs()).toBe(1100);
    expect(b.tryAcquire(1100)).toBe(true); // the probe
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire(1101)).toBe(false); // only one probe at a time
    b.onSuccess(1200);
    expect(b.state).toBe('closed');
    expect(b.tryAcquire(1201)).toBe(true);
    expect(b.transitions.map((t) => t.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens with a fresh cooldown when the probe fails', () => {
    const b = new CircuitBreaker({ threshold: 1, cooldownMs: 1000 }, 0);
    b.onFailure(0, 'x');
    expect(b.tryAcquire(1000)).toBe(true);
    b.onFailure(1050, 'ECONNREFUSED');
    expect(b.state).toBe('open');
    expect(b.tryAcquire(1500)).toBe(false);
    expect(b.tryAcquire(2050)).toBe(true);
  });

  it('a neutral outcome releases the probe without closing', () => {
    const b = new CircuitBreaker({ threshold: 1, cooldownMs: 10 }, 0);
    b.onFailure(0, 'x');
    expect(b.tryAcquire(10)).toBe(true);
    b.onNeutral();
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire(11)).toBe(true);
  });
});
