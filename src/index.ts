/**
 * s3x as a library: the same functions the commands call.
 *
 *   import { upload, download, deletePrefix, list, presign } from 's3x';
 *   const summary = await upload({ dir: './dist', bucket: 'artifacts', prefix: 'build/42',
 *     endpointUrls: ['http://127.0.0.1:7480'], onReport: (r) => console.log(r) });
 */
export { upload } from './ops/upload.js';
export type { UploadOptions, UploadSummary, UploadProgress, PlannedFile, FailedFile } from './ops/upload.js';
export type { EndpointSummary, RunTotals } from './run/summary.js';
export { download, md5FromEtag } from './ops/download.js';
export type { DownloadOptions, DownloadSummary, DownloadProgress, FailedObject } from './ops/download.js';
export { deletePrefix, MAX_DELETE_BATCH } from './ops/delete.js';
export type { DeletePrefixOptions, DeleteSummary, DeleteProgress, FailedKey } from './ops/delete.js';
export { list } from './ops/list.js';
export type { ListOptions, ListSummary, ListEntry, ListedObject } from './ops/list.js';
export { presign, MAX_PRESIGN_EXPIRES_SEC } from './ops/presign.js';
export type { PresignOptions, PresignedUrl, PresignMethod } from './ops/presign.js';
export { selectKeys, type KeySelection } from './fs/key-prefix.js';
export { safeRelativePath, type SafePath } from './fs/safe-path.js';
export type { RequestReport, Operation } from './engine/request.js';
export { DeadlineEstimator } from './endpoints/estimator.js';
export { DEFAULT_ESTIMATOR, type EstimatorConfig, type RetryConfig } from './config/defaults.js';
export type { ConnectionOptions, Credentials } from './config/options.js';
export type { Logger } from './logger.js';
export { S3xError, UsageError, FatalRunError, EXIT } from './errors.js';
export { generateTree, type GenerateSpec } from './fs/generate.js';
