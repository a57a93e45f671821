import type http from 'node:http';

/** Answers a request once its body is read: a PUT with the body's MD5, anything else with an empty listing. */
export declare function standInS3Handler(req: http.IncomingMessage, res: http.ServerResponse): void;
/** The stand-in listening on an ephemeral port of 127.0.0.1: the server (close it) and its endpoint URL. */
export declare function startStandInS3(): Promise<{ server: http.Server; endpoint: string }>;
