/**
 * node:tls and node:https, loaded on first use: only https endpoints need them, and loading them
 * at start cost every command ~8 ms of CPU on a 2 GHz Xeon (`s3x ls` of a local http gateway:
 * 0.128 vs 0.136 s, 30 alternating runs). require() caches them, so later calls are a lookup.
 */
import { createRequire } from 'node:module';
import type https from 'node:https';
import type tls from 'node:tls';

const load = createRequire(import.meta.url);

export const nodeTls = (): typeof tls => load('node:tls') as typeof tls;
export const nodeHttps = (): typeof https => load('node:https') as typeof https;
