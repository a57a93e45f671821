import { describe, expect, it } from 'vitest';
import { CircuitBreaker, STALL_SILENCE_MS } from '../../src/endpoints/breaker.js';

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
    b.onFailure(100, 'ECONNREFUSED');
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

  // A gateway hiccup of a few hundred ms cuts every request in flight at its tail deadline
  // (p99 × 3, ~100-200 ms): 16 consecutive DeadlineExceeded. Opening then stopped a one-endpoint
  // run for the whole 10 s cooldown (bench H1's 300-450x stragglers, fault-free runs included).
  it('deadline cuts open it only after STALL_SILENCE_MS without a success; a burst within a hiccup does not', () => {
    const b = new CircuitBreaker({ threshold: 5, cooldownMs: 10_000 }, 0);
    b.onSuccess(1000);
    for (let i = 0; i < 32; i++) b.onFailure(1100 + i * 20, 'DeadlineExceeded');
    expect(b.state).toBe('closed');
    b.onFailure(1000 + STALL_SILENCE_MS - 1, 'DeadlineExceeded');
    expect(b.state).toBe('closed');
    b.onFailure(1000 + STALL_SILENCE_MS, 'DeadlineExceeded');
    expect(b.state).toBe('open');
    expect(b.transitions).toEqual([{ atMs: 1000 + STALL_SILENCE_MS, from: 'closed', to: 'open', reason: 'DeadlineExceeded' }]);
  });

  it('a success resets the count of deadline cuts too', () => {
    const b = new CircuitBreaker({ threshold: 5, cooldownMs: 10_000 }, 0);
    for (let i = 0; i < 4; i++) b.onFailure(100 + i, 'DeadlineExceeded');
    b.onSuccess(200);
    for (let i = 0; i < 4; i++) b.onFailure(200 + STALL_SILENCE_MS + i, 'DeadlineExceeded');
    expect(b.state).toBe('closed'); // 4 consecutive, though the endpoint has been silent long enough
    b.onFailure(201 + STALL_SILENCE_MS + 4, 'DeadlineExceeded');
    expect(b.state).toBe('open');
  });

  it('an endpoint that never answered is silent since the breaker was made', () => {
    const b = new CircuitBreaker({ threshold: 5, cooldownMs: 10_000 }, 50);
    for (let i = 0; i < 5; i++) b.onFailure(500 + i, 'DeadlineExceeded');
    expect(b.state).toBe('closed');
    b.onFailure(50 + STALL_SILENCE_MS, 'DeadlineExceeded');
    expect(b.state).toBe('open');
  });

  it('answers that say the endpoint is down (refused, reset, 5xx) open it at the threshold whatever the silence', () => {
    const b = new CircuitBreaker({ threshold: 5, cooldownMs: 10_000 }, 0);
    b.onSuccess(1000);
    for (let i = 0; i < 3; i++) b.onFailure(1001 + i, 'DeadlineExceeded');
    b.onFailure(1004, 'ECONNRESET');
    expect(b.state).toBe('closed');
    b.onFailure(1005, 'ECONNREFUSED');
    expect(b.state).toBe('open'); // 5 consecutive, the last one hard
  });

  it('a half-open probe cut by its deadline opens it again', () => {
    const b = new CircuitBreaker({ threshold: 1, cooldownMs: 1000 }, 0);
    b.onFailure(10, 'ECONNREFUSED');
    expect(b.tryAcquire(1010)).toBe(true);
    b.onFailure(1100, 'DeadlineExceeded');
    expect(b.state).toBe('open');
  });
});

