/**
 * s3x as a library: the same functions the commands call (src/cli/ imports nothing else from
 * src/, test/unit/layers.test.ts checks it).
 *
 *   import { upload, download, deletePrefix, list, presign } from 's3x';
 *   const summary = await upload({ dir: './dist', bucket: 'artifacts', prefix: 'build/42',
 *     endpointUrls: ['http://127.0.0.1:7480'], onReport: (r) => console.log(r) });
 */
export { upload } from './ops/upload.js';
export type { UploadOptions, UploadSummary, UploadProgress, PlannedFile, FailedFile } from './ops/upload.js';
export type { ResumeSummary } from './ops/multipart-upload.js';
export type { EndpointSummary, RunTotals } from './run/summary.js';
export { download } from './ops/download.js';
export { md5FromEtag } from './fs/md5.js';
export type { DownloadOptions, DownloadSummary, DownloadProgress, FailedObject } from './ops/download.js';
export { deletePrefix, MAX_DELETE_BATCH } from './ops/delete.js';
export type { DeletePrefixOptions, DeleteSummary, DeleteProgress, FailedKey } from './ops/delete.js';
export { list } from './ops/list.js';
export type { ListOptions, ListSummary, ListEntry, ListedObject } from './ops/list.js';
export { presign, checkExpires, MAX_PRESIGN_EXPIRES_SEC, DEFAULT_PRESIGN_EXPIRES_SEC } from './ops/presign.js';
export type { PresignOptions, PresignedUrl, PresignMethod } from './ops/presign.js';
export { sync, type SyncOptions, type SyncSummary } from './ops/sync.js';
export { syncDown, type DownComparison, type PlannedDownload, type SyncDownOptions, type SyncDownSummary } from './ops/sync-down.js';
export { parseShard, MAX_SHARD_COUNT, type Shard } from './ops/shard.js';
export { checkEndpoints, type CheckOptions, type EndpointCheck } from './ops/check.js';
export { cleanupMultipart, parseDurationMs, type CleanupOptions, type CleanupSummary, type OpenUpload } from './ops/cleanup.js';
export { mergeSummaries, readSummary, type MergedReport } from './ops/report.js';
export { perfData, parseGenerate, generatedDir, ensureBucket, type PerfRun, type PerfSummary, type Stat } from './ops/perf-data.js';
export { selectKeys, type KeySelection, type PrefixOptions } from './fs/key-prefix.js';
export { safeRelativePath, type SafePath } from './fs/safe-path.js';
export type { RequestReport, Operation } from './engine/request.js';
export { PRIORITIES, type Priority } from './engine/priority-queue.js';
export { DeadlineEstimator } from './endpoints/estimator.js';
export { DEFAULT_ESTIMATOR, DEFAULT_RETRY, type EstimatorConfig, type RetryConfig } from './config/defaults.js';
export { DEFAULT_HEDGE, type HedgeConfig } from './config/defaults.js';
export { DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES } from './config/options.js';
export { parseHedgeAfter, parseHedgeBudget } from './config/options.js';
export type { ConnectionOptions, Credentials } from './config/options.js';
export { MIB } from './config/multipart.js';
export { formatBytes, parseIntInRange, parseNumberInRange, parseSizeBytes } from './config/units.js';
export { parseBwLimit, type BwLimit } from './config/units.js';
export { MAX_TPS_LIMIT } from './config/pool-config.js';
export { envEndpointUrl } from './config/pool-config.js';
export type { Logger } from './logger.js';
export { S3xError, UsageError, FatalRunError, EXIT } from './errors.js';
export { generateTree, ensureGenerated, type GenerateSpec } from './fs/generate.js';
export {
  CANNED_ACLS, checkObjectHeaders, parseExpires, parseMetadataFlags, SSE_ALGORITHMS, SseCustomerKey, sseCustomerKeyFrom, STORAGE_CLASSES,
  type ObjectHeaders,
} from './config/object-headers.js';
