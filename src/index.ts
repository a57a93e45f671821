/**
 * s3x as a library: the same functions the commands call.
 *
 *   import { upload } from 's3x';
 *   const summary = await upload({ dir: './dist', bucket: 'artifacts', prefix: 'build/42',
 *     endpointUrls: ['http://127.0.0.1:7480'], onReport: (r) => console.log(r) });
 */
export { upload } from './engine/upload.js';
export type { UploadOptions, UploadSummary, UploadProgress, PlannedFile, FailedFile, EndpointSummary } from './engine/upload.js';
export type { RequestReport, RetryConfig, Operation } from './engine/request.js';
export { DeadlineEstimator, DEFAULT_ESTIMATOR, type EstimatorConfig } from './engine/estimator.js';
export type { ConnectionOptions, Credentials } from './config/options.js';
export type { Logger } from './logger.js';
export { S3xError, UsageError, FatalRunError, EXIT } from './errors.js';
export { generateTree, type GenerateSpec } from './fs/generate.js';
