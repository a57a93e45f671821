import type http from 'node:http';

/** The stand-in listening on an ephemeral port of 127.0.0.1: the server (close it) and its endpoint URL. */
export declare function startStandInS3(): Promise<{ server: http.Server; endpoint: string }>;
