/**
 * The set of endpoints a run uses. For now every endpoint fronts the same data and requests
 * are spread round-robin; a request may be pinned to one endpoint (e.g. the parts of a
 * multipart upload when endpoints do not share storage).
 */
import type { Endpoint } from './endpoint.js';

export class EndpointPool {
  private next = 0;

  constructor(readonly endpoints: readonly Endpoint[], readonly sharedStorage: boolean) {
    if (endpoints.length === 0) throw new RangeError('an endpoint pool needs at least one endpoint');
  }

  /** The endpoint for the next request (round-robin). */
  pick(): Endpoint {
    const ep = this.endpoints[this.next % this.endpoints.length]!;
    this.next = (this.next + 1) % this.endpoints.length;
    return ep;
  }

  destroy(): void {
    for (const ep of this.endpoints) ep.destroy();
  }
}
