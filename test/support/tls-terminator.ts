/**
 * A TLS terminator on 127.0.0.1 in front of a gateway, with a certificate signed by a throwaway
 * CA made with `openssl` in a temp dir (SAN IP:127.0.0.1, DNS:localhost): what a corporate or
 * self-signed https endpoint looks like. Bytes are piped unchanged (the Host header stays the
 * one s3x signed). Each accepted connection's peer port is recorded, so a test can tell that
 * every connection came through a given proxy.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface TestCa {
  dir: string;
  /** PEM file of the CA certificate (what AWS_CA_BUNDLE / --ca-bundle take) */
  caFile: string;
  keyFile: string;
  certFile: string;
  remove: () => void;
}

/** A CA and a server certificate it signed, for 127.0.0.1 and localhost. */
export function makeTestCa(): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-ca-'));
  const f = (name: string): string => path.join(dir, name);
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=s3x test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext'));
  return {
    dir, caFile: f('ca.pem'), keyFile: f('server.key'), certFile: f('server.pem'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsTerminator {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** remote port of every accepted TCP connection (before the TLS handshake), in order */
  peerPorts: number[];
  close: () => Promise<void>;
}

/** Starts the terminator on 127.0.0.1 forwarding to `target` (http://127.0.0.1:port). */
export async function startTlsTerminator(ca: TestCa, target: string): Promise<TlsTerminator> {
  const t = new URL(target);
  if (t.hostname !== '127.0.0.1' && t.hostname !== 'localhost') throw new Error('tls-terminator: loopback targets only');
  const sockets = new Set<net.Socket>();
  const peerPorts: number[] = [];
  const server = tls.createServer({ key: fs.readFileSync(ca.keyFile), cert: fs.readFileSync(ca.certFile) }, (client) => {
    const upstream = net.connect({ host: t.hostname, port: Number(t.port) });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.on('connection', (s: net.Socket) => {
    peerPorts.push(s.remotePort ?? 0);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {}); // a client refusing our certificate is what some tests expect
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`, port, peerPorts,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
